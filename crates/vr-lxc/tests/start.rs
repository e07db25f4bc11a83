//! The config rendered for the installed LXC really starts a container (root and LXC needed).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::Stdio;
use vr_lxc::*;

struct Setup {
    _tmp: tempfile::TempDir,
    config: std::path::PathBuf,
    upper: std::path::PathBuf,
}

/// The host's id map, delegated to root (`cargo xtask test` sees to /etc/subuid).
fn idmap() -> IdMap {
    let map = IdMap::detect(&RealSys, std::env::var(IDMAP_ENV).ok().as_deref()).unwrap();
    map.check_delegated(&RealSys).unwrap();
    map
}

fn setup(name: &str, edit: impl FnOnce(&mut ContainerConfig)) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    // The containers' root sets up the mounts: it must get through to the layers.
    fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let map = idmap();
    let image = tmp.path().join("image");
    vr_tests::busybox_rootfs(&image).unwrap();
    vr_tests::shift_tree(&image, map.host_uid, map.host_gid).unwrap();
    let upper = tmp.path().join("proc/rootfs");
    fs::create_dir_all(&upper).unwrap();
    let work = tmp.path().join("proc/work");
    fs::create_dir_all(&work).unwrap();
    for dir in [&upper, &work] {
        std::os::unix::fs::chown(dir, Some(map.host_uid), Some(map.host_gid)).unwrap();
    }
    let seccomp = tmp.path().join("proc/seccomp");
    fs::write(&seccomp, SECCOMP_PROFILE).unwrap();
    let mut cfg = ContainerConfig::new(
        hostname_for(name),
        Rootfs::Overlay {
            lowers: vec![image],
            upper: upper.clone(),
        },
        map,
    );
    cfg.seccomp = Some(seccomp);
    cfg.user = Some((1000, 1000));
    edit(&mut cfg);
    let version = detect_version(&RealSys).unwrap();
    let cgroups = CgroupHost::detect(&RealSys).unwrap();
    let text = render(&cfg, &version, &cgroups).unwrap();
    let config = tmp.path().join("proc/proc.lxc");
    fs::write(&config, text).unwrap();
    Setup {
        _tmp: tmp,
        config,
        upper,
    }
}

fn execute(name: &str, config: &Path, script: &str) -> (Outcome, String) {
    let e = Execute {
        name: name.into(),
        config: config.into(),
        lxcpath: None,
        command: vec!["/bin/sh".into(), "-c".into(), script.into()],
    };
    let mut cmd = e.command();
    cmd.stdout(Stdio::piped());
    let mut fg = Foreground::spawn(cmd).unwrap();
    let mut out = fg.child().stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).unwrap();
        s
    });
    let outcome = fg.wait(&RealSys).unwrap();
    (outcome, reader.join().unwrap())
}

#[test]
fn rendered_config_starts_a_container() {
    if !vr_tests::e2e_ready("vr-lxc rendered_config_starts_a_container") {
        return;
    }
    let name = format!("vrlxc-start-{}", std::process::id());
    let s = setup(&name, |_| {});
    let script = "id -u; id -g; hostname; echo x > /dev/null && echo devnull-ok; \
                  touch /proc/x 2>/dev/null || echo proc-ro; touch /sys/x 2>/dev/null || echo sys-ro; \
                  test -c /dev/pts/ptmx && echo pts-ok; grep -q ' /dev/shm tmpfs' /proc/mounts && echo shm-ok; \
                  echo hi > /tmp/written; echo $$; exit 7";
    let (outcome, out) = execute(&name, &s.config, script);
    assert_eq!(outcome, Outcome::Exited(7), "{out}");
    let want = format!(
        "1000\n1000\n{}\ndevnull-ok\nproc-ro\nsys-ro\npts-ok\nshm-ok\n2\n",
        hostname_for(&name)
    );
    assert_eq!(out, want);
    // The write landed in the upper layer, and the overlay is gone with the container.
    assert_eq!(
        fs::read_to_string(s.upper.join("tmp/written")).unwrap(),
        "hi\n"
    );
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(s.upper.to_str().unwrap()), "{mounts}");
}

#[test]
fn memory_limit_bites() {
    if !vr_tests::e2e_ready("vr-lxc memory_limit_bites") {
        return;
    }
    let name = format!("vrlxc-mem-{}", std::process::id());
    let s = setup(&name, |c| c.mem_limit = Some(32 << 20));
    // awk doubles a string until the cgroup's OOM killer ends it.
    let (outcome, _) = execute(
        &name,
        &s.config,
        "exec awk 'BEGIN{s=\"x\"; while(1) s=s s}'",
    );
    assert_eq!(outcome, Outcome::Exited(128 + 9));
}

#[test]
fn capabilities_are_dropped() {
    if !vr_tests::e2e_ready("vr-lxc capabilities_are_dropped") {
        return;
    }
    let name = format!("vrlxc-caps-{}", std::process::id());
    let s = setup(&name, |c| c.user = None);
    // As root: sys_admin is gone, so mounting fails; mknod is gone too.
    let (outcome, out) = execute(
        &name,
        &s.config,
        "mount -t tmpfs t /tmp 2>/dev/null || echo no-mount; mknod /tmp/n c 1 3 2>/dev/null || echo no-mknod; id -u",
    );
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(out, "no-mount\nno-mknod\n0\n");
}
