//! The build container holds a hostile script over a hostile base: root inside it is not root
//! on the host, and nothing the base plants makes vimage write outside its tree.

use crate::World;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use vr_tests::stderr;

/// What `tar -tvzf --numeric-owner` says of `name` (relative to the root) in `tarball`,
/// whose names are `./name`: `uid/gid`.
fn owner_in(tarball: &std::path::Path, name: &str) -> String {
    let out = Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(tarball)
        .arg(format!("./{name}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_script_is_root_only_inside_its_user_namespace() {
    if !vr_tests::e2e_ready("vimage the_script_is_root_only_inside_its_user_namespace") {
        return;
    }
    let w = World::new();
    // Pins: lxc.idmap on the build container, the seccomp profile (unshare of a user
    // namespace), and the packer removing the offset again.
    let script = w.script(
        "probe.sh",
        "#!/bin/sh\nset -e\nid -u > /id\ncat /proc/self/uid_map > /uid_map\n\
         if unshare -U true 2>/dev/null; then echo allowed; else echo denied; fi > /unshare\n\
         touch /made-by-root\n",
    );
    let yaml = w.image_yaml("contained", &script, "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let dest = w.tmp.path().join("unpacked");
    fs::create_dir(&dest).unwrap();
    let tarball = w.out().join("contained.tar.gz");
    let st = Command::new("tar")
        .args(["--numeric-owner", "-xpzf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&dest)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(fs::read_to_string(dest.join("id")).unwrap(), "0\n");
    let map: Vec<String> = fs::read_to_string(dest.join("uid_map"))
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(map.first().map(String::as_str), Some("0"), "{map:?}");
    assert_ne!(
        map.get(1).map(String::as_str),
        Some("0"),
        "root inside is host root: {map:?}"
    );
    assert_eq!(
        fs::read_to_string(dest.join("unshare")).unwrap(),
        "denied\n"
    );
    // Published as the container saw it: uid 0, not the host's 100000.
    assert_eq!(owner_in(&tarball, "made-by-root"), "0/0");
    assert_eq!(fs::metadata(dest.join("made-by-root")).unwrap().uid(), 0);
}

#[test]
fn a_hostile_base_cannot_make_vimage_write_on_the_host() {
    if !vr_tests::e2e_ready("vimage a_hostile_base_cannot_make_vimage_write_on_the_host") {
        return;
    }
    let w = World::new();
    // A base whose /.vimage (where vimage puts the script) and /dev are links to host folders.
    let host_work = w.tmp.path().join("host-work");
    let host_dev = w.tmp.path().join("host-dev");
    fs::create_dir(&host_work).unwrap();
    fs::create_dir(&host_dev).unwrap();
    let base = w.tmp.path().join("hostile-base");
    vr_tests::busybox_rootfs(&base).unwrap();
    fs::remove_dir(base.join("dev")).unwrap();
    std::os::unix::fs::symlink(&host_dev, base.join("dev")).unwrap();
    std::os::unix::fs::symlink(&host_work, base.join(".vimage")).unwrap();
    vr_tests::tar_gz(&base, &w.tmp.path().join("www/hostile.tar.gz")).unwrap();
    let script = w.script("noop.sh", "#!/bin/sh\necho ran\n");
    let yaml = w.yaml_on(
        "hostile-out",
        &w.server.url("hostile.tar.gz"),
        "hostile",
        &script,
    );
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    // Pins: vr-fs writes (.vimage replaced by a real folder, never written through) and no
    // device nodes made by host code (LXC's tmpfs /dev inside the container's namespace).
    let listing = |d: &std::path::Path| -> Vec<String> {
        fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert!(
        listing(&host_work).is_empty(),
        "{:?}\n{}",
        listing(&host_work),
        stderr(&o)
    );
    assert!(
        listing(&host_dev).is_empty(),
        "{:?}\n{}",
        listing(&host_dev),
        stderr(&o)
    );
}

#[test]
fn a_provisioning_script_cannot_reach_the_host_either() {
    if !vr_tests::e2e_ready("vimage a_provisioning_script_cannot_reach_the_host_either") {
        return;
    }
    // Pins the build container's seccomp profile and capability list end to end: the same
    // attacks as a root app's (vrun's security tests), from a provisioning script, which is
    // root of its namespace and has no no_new_privs.
    let w = World::new();
    let secret = format!("vr-host-marker-{}", std::process::id());
    let marker = w.tmp.path().join("host-marker");
    fs::write(&marker, &secret).unwrap();
    let base = w.tmp.path().join("probe-base");
    vr_tests::busybox_rootfs(&base).unwrap();
    fs::copy(vr_tests::probe_binary(), base.join("bin/probe")).unwrap();
    vr_tests::tar_gz(&base, &w.tmp.path().join("www/probe-base.tar.gz")).unwrap();
    let script = w.script(
        "attack.sh",
        &format!(
            "#!/bin/sh\n/bin/probe syscalls > /syscalls\n/bin/probe handle {} /etc/hosts > /handle\n",
            marker.display()
        ),
    );
    let yaml = w.yaml_on(
        "attack",
        &w.server.url("probe-base.tar.gz"),
        "probe-base",
        &script,
    );
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let read = |name: &str| crate::file_in(&w.out().join("attack.tar.gz"), name);
    let syscalls = read("syscalls");
    let refused = |check: &str| {
        syscalls.lines().any(|l| {
            l.strip_prefix(check)
                .and_then(|r| r.strip_prefix(": "))
                .is_some_and(|v| v == "EPERM" || v == "ENOSYS")
        })
    };
    for check in [
        "keyctl",
        "add_key",
        "bpf",
        "perf_event_open",
        "unshare_user",
        "af_packet",
        "mknod",
        "syslog",
    ] {
        assert!(
            refused(check),
            "{check} was not refused to the script:\n{syscalls}"
        );
    }
    assert!(syscalls.starts_with("uid: 0\n"), "{syscalls}");
    let handle = read("handle");
    assert_eq!(
        handle,
        "name_to_handle_at /etc/hosts: EPERM\nopen_by_handle_at /etc/hosts: EPERM\n"
    );
    assert!(!handle.contains(&secret));
}

#[test]
fn a_descriptor_vimage_inherits_does_not_reach_the_script() {
    if !vr_tests::e2e_ready("vimage a_descriptor_vimage_inherits_does_not_reach_the_script") {
        return;
    }
    // `flock VR_ROOT vimage build ...` hands vimage the locked folder as fd 3: through it
    // the script (host uid 100000, the owner of every cached base) could write into the
    // cached base that later builds trust, or read host files.
    let w = World::new();
    let script = w.script(
        "fds.sh",
        "#!/bin/sh\nfor fd in 3 42; do\n  if [ -e /proc/$$/fd/$fd ]; then echo \"fd $fd open\"; \
         echo poison > /proc/$$/fd/$fd/images/busybox-base/contents/etc/poison; fi\ndone\n\
         echo fds-checked\n",
    );
    let yaml = w.image_yaml("fds", &script, "");
    let mut cmd = w.command(&["build", yaml.to_str().unwrap()]);
    vr_tests::with_inherited_dir(&mut cmd, 3, &w.root());
    vr_tests::with_inherited_dir(&mut cmd, 42, &w.root());
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let log = fs::read_to_string(w.out().join("fds.log")).unwrap();
    assert!(log.starts_with("fds-checked\n"), "{log}");
    assert!(
        !w.root()
            .join("images/busybox-base/contents/etc/poison")
            .exists(),
        "the script wrote into the cached base"
    );
}
