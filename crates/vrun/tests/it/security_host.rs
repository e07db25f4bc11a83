//! Attacks on the host side (issue 9): links an app plants in its layer, an image that points
//! setup at host files, ids outside the map, and what another host user can do with vr's tree
//! and a build's files. Each test says which protection it pins; each fails against a vrun
//! without it.

use super::security::{with_build, yaml_as, AS_APP, AS_ROOT};
use super::*;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use vr_tests::stdout;

/// Runs `args` as host uid and gid `id`, with no supplementary groups.
fn as_user(id: u32, args: &[&Path]) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid",
            &id.to_string(),
            "--regid",
            &id.to_string(),
            "--clear-groups",
            "--",
        ])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn planted_links_in_the_layer_leave_host_files_alone_on_redeploy() {
    // Pins vr-fs in setup: env.sh, settings.yaml and proc.sh are written through random
    // O_EXCL|O_NOFOLLOW temp names and renamed over whatever is there, a /dev that is not a
    // folder is recreated, and the build replaces app/ as an entry: no link the app planted in
    // its (writable) layer is followed to a host file or folder.
    if !vr_tests::e2e_ready("vrun planted_links_in_the_layer_leave_host_files_alone_on_redeploy") {
        return;
    }
    let env = env();
    let (app, port) = (app_name("links"), free_port());
    let cmd = "cat /env.sh /settings.yaml >/dev/null && echo ran";
    let yaml = yaml_as(&env, &app, port, AS_APP, cmd, "");
    ok(&env.run(&["setup"], &yaml));
    let layer = env.proc_dir(&container(&app, "x", port)).join("rootfs");
    let host = env.tmp.path().join("host");
    fs::create_dir_all(&host).unwrap();
    for name in PLANTED_FILES {
        fs::write(host.join(name), "host file\n").unwrap();
        fs::set_permissions(host.join(name), fs::Permissions::from_mode(0o600)).unwrap();
        let _ = fs::remove_file(layer.join(name));
        symlink(host.join(name), layer.join(name)).unwrap();
    }
    for dir in ["dev", "app"] {
        fs::create_dir_all(host.join(dir)).unwrap();
        fs::remove_dir_all(layer.join(dir)).unwrap();
        symlink(host.join(dir), layer.join(dir)).unwrap();
    }
    // A folder where setup writes a file must not block the deploy either.
    fs::remove_file(layer.join("settings.yaml")).unwrap();
    fs::create_dir_all(layer.join("settings.yaml/sub")).unwrap();
    let setup = env.run(&["setup"], &yaml);
    let damage = damage_to(&host);
    assert!(
        damage.is_empty() && setup.status.success(),
        "setup over links planted in the layer touched host files: {damage:#?}\nsetup: {:?} {}",
        setup.status,
        stderr(&setup)
    );
    assert_eq!(ok(&env.run(&["run"], &yaml)), "ran\n");
    ok(&env.run(&["teardown"], &yaml));
}

/// What setup once wrote through (the old fixed temp names included) when they were links.
const PLANTED_FILES: [&str; 9] = [
    "env.sh",
    "settings.yaml",
    "proc.sh",
    "env.tmp",
    "env.sh.tmp",
    "settings.tmp",
    "settings.yaml.tmp",
    "proc.tmp",
    "proc.sh.tmp",
];

/// What changed in the host files and folders of the planted links: each file must still say
/// "host file", mode 0600, owner root; `dev/` and `app/` must be empty.
fn damage_to(host: &Path) -> Vec<String> {
    let mut damage = Vec::new();
    for name in PLANTED_FILES {
        let meta = fs::metadata(host.join(name)).unwrap();
        let text = fs::read_to_string(host.join(name)).unwrap();
        if text != "host file\n" || meta.mode() & 0o7777 != 0o600 || meta.uid() != 0 {
            damage.push(format!(
                "{name}: {text:?} mode {:o} owner {}",
                meta.mode(),
                meta.uid()
            ));
        }
    }
    for dir in ["dev", "app"] {
        let entries: Vec<_> = fs::read_dir(host.join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        if !entries.is_empty() {
            damage.push(format!("{dir}/ got {entries:?}"));
        }
    }
    damage
}

#[test]
fn an_image_whose_etc_is_a_link_cannot_make_setup_read_host_files() {
    // Pins the image's /etc/passwd and /etc/group being read beneath the image without following
    // a link: an image whose etc -> /etc would otherwise resolve users in the host's passwd.
    if !vr_tests::e2e_ready("vrun an_image_whose_etc_is_a_link_cannot_make_setup_read_host_files") {
        return;
    }
    let mut env = env();
    let rootfs = env.tmp.path().join("etc-link-rootfs");
    vr_tests::busybox_rootfs(&rootfs).unwrap();
    fs::remove_dir_all(rootfs.join("etc")).unwrap();
    symlink("/etc", rootfs.join("etc")).unwrap();
    let image = env.tmp.path().join("files/etc-link.tar.gz");
    vr_tests::tar_gz(&rootfs, &image).unwrap();
    env.image_md5 = vr_tests::md5_file(&image).unwrap();
    env.image = image;
    let (app, port) = (app_name("etclink"), free_port());
    // root is in the host's passwd and group (not in this image, which has no /etc at all).
    let yaml = yaml_as(&env, &app, port, AS_ROOT, "exit 0", "");
    let out = env.run(&["setup"], &yaml);
    let configured = env
        .proc_dir(&container(&app, "x", port))
        .join("proc.lxc")
        .exists();
    assert!(
        out.status.code() == Some(2) && stderr(&out).contains("symlink") && !configured,
        "setup with an image whose /etc -> /etc: {:?} (want 2, a message about a symlink, no proc.lxc: {configured})\n{}",
        out.status,
        stderr(&out)
    );
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn ids_outside_the_map_are_refused() {
    // Pins the id check before anything is created: 4294967295 is LXC's "do not switch" value,
    // which ran the app as root.
    if !vr_tests::e2e_ready("vrun ids_outside_the_map_are_refused") {
        return;
    }
    let env = env();
    for (key, ids) in [
        ("user", "user: \"4294967295\"\ngroup: app\n"),
        ("group", "user: app\ngroup: \"4294967295\"\n"),
    ] {
        let yaml = yaml_as(
            &env,
            &app_name(&format!("id{key}")),
            free_port(),
            ids,
            "id",
            "",
        );
        let out = env.run(&["setup"], &yaml);
        let err = stderr(&out);
        let procs: Vec<_> = fs::read_dir(env.root.join("procs"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            out.status.code() == Some(2)
                && err.lines().count() == 1
                && err.contains(&format!("{key} "))
                && err.contains("4294967295")
                && procs.is_empty(),
            "{key} 4294967295: {:?} (want 2, one line naming {key} and the value, no proc folder: {procs:?})\n{err}",
            out.status
        );
        ok(&env.run(&["teardown"], &yaml));
    }
}

#[test]
fn a_local_user_can_read_no_secret_and_write_no_app_file() {
    // Pins VR_ROOT mode 0710 root:<containers' root group> (other host users stop there), the
    // app's files owned by its mapped host uid (host uid 1000 is not the app's uid 1000), and
    // Policy::Build's top folder rule (a build whose `./` is 0777 leaves rootfs/app 0755).
    if !vr_tests::e2e_ready("vrun a_local_user_can_read_no_secret_and_write_no_app_file") {
        return;
    }
    let mut env = env();
    with_build(&mut env, "open", |app| {
        fs::set_permissions(app, fs::Permissions::from_mode(0o777)).unwrap();
    });
    let (app, port) = (app_name("local"), free_port());
    let secret = format!("s3cret{}", std::process::id());
    let extra = format!("env:\n  SECRET: {secret}\nsettings:\n  token: {secret}\n");
    let yaml = yaml_as(&env, &app, port, AS_APP, "exit 0", &extra);
    ok(&env.run(&["setup"], &yaml));
    let rootfs = env.proc_dir(&container(&app, "x", port)).join("rootfs");
    let tmp = env.tmp.path();
    assert!(
        as_user(65534, &[Path::new("ls"), tmp]).status.success(),
        "the test's folder must be open to other users"
    );
    let (cat, touch, ls) = (Path::new("cat"), Path::new("touch"), Path::new("ls"));
    let (env_sh, settings, planted) = (
        rootfs.join("env.sh"),
        rootfs.join("settings.yaml"),
        rootfs.join("app/planted"),
    );
    let mut breaches = Vec::new();
    for uid in [65534, 1000] {
        for (what, args) in [
            ("read env.sh", [cat, &env_sh]),
            ("read settings.yaml", [cat, &settings]),
            ("create rootfs/app/planted", [touch, &planted]),
            ("list VR_ROOT", [ls, &env.root]),
        ] {
            let out = as_user(uid, &args);
            if out.status.success() {
                breaches.push(format!("host uid {uid} could {what}: {:?}", stdout(&out)));
            }
        }
    }
    let mode = fs::metadata(rootfs.join("app")).unwrap().mode() & 0o7777;
    if mode & 0o022 != 0 {
        breaches.push(format!("rootfs/app has mode {mode:o}"));
    }
    assert!(
        breaches.is_empty(),
        "other host users reach the proc's files: {breaches:#?}"
    );
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn a_setuid_file_of_a_build_gives_a_local_user_nothing() {
    // Pins Policy::Build (setuid/setgid bits cleared) and VR_ROOT closed to other host users.
    // The proc runs as root: its build files used to be unpacked as host root, so a setuid-root
    // file of the build stayed one on the host.
    if !vr_tests::e2e_ready("vrun a_setuid_file_of_a_build_gives_a_local_user_nothing") {
        return;
    }
    let mut env = env();
    with_build(&mut env, "suid", |app| {
        let file = app.join("suid");
        fs::copy(vr_tests::probe_binary(), &file).unwrap();
        std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o4755)).unwrap();
    });
    let (app, port) = (app_name("suid"), free_port());
    let yaml = yaml_as(&env, &app, port, AS_ROOT, "exit 0", "");
    ok(&env.run(&["setup"], &yaml));
    let file = env
        .proc_dir(&container(&app, "x", port))
        .join("rootfs/app/suid");
    let meta = fs::metadata(&file).unwrap();
    let out = as_user(65534, &[&file, Path::new("euid")]);
    let root = out.status.success() && stdout(&out).trim() == "0";
    assert!(
        meta.mode() & 0o6000 == 0 && !root,
        "a setuid-root file of a build: mode {:o}, owner {}; run by host nobody: {:?} {:?} {}",
        meta.mode(),
        meta.uid(),
        out.status,
        stdout(&out),
        stderr(&out)
    );
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn a_device_node_in_a_build_is_refused() {
    // Pins Policy::Build: a build may not bring device nodes (a block device 7:0 mode 0666 let
    // host `nobody` read a disk; a 1:3 node stands in for it here).
    if !vr_tests::e2e_ready("vrun a_device_node_in_a_build_is_refused") {
        return;
    }
    let mut env = env();
    with_build(&mut env, "devnode", |app| {
        let node =
            std::ffi::CString::new(app.join("nulldev").into_os_string().into_encoded_bytes())
                .unwrap();
        // SAFETY: a valid C string; mknod has no other precondition.
        let rc = unsafe { libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        assert_eq!(rc, 0, "mknod: {}", std::io::Error::last_os_error());
        fs::set_permissions(app.join("nulldev"), fs::Permissions::from_mode(0o666)).unwrap();
    });
    let yaml = yaml_as(
        &env,
        &app_name("devnode"),
        free_port(),
        AS_APP,
        "exit 0",
        "",
    );
    let out = env.run(&["setup"], &yaml);
    let mut nodes = Vec::new();
    device_nodes(&env.root, &mut nodes);
    assert!(
        out.status.code() == Some(2) && stderr(&out).contains("nulldev") && nodes.is_empty(),
        "a build with a device node: {:?} (want 2, naming nulldev, no node on disk: {nodes:?})\n{}",
        out.status,
        stderr(&out)
    );
    ok(&env.run(&["teardown"], &yaml));
}

/// Every character or block device below `dir` (links not followed).
fn device_nodes(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_char_device() || kind.is_block_device() {
            found.push(entry.path());
        } else if kind.is_dir() {
            device_nodes(&entry.path(), found);
        }
    }
}

#[test]
fn a_descriptor_vrun_inherits_does_not_reach_the_proc() {
    // `flock VR_ROOT vrun run ...` hands vrun the locked folder as fd 3: through it the app
    // (host uid 100000 as root inside, the owner of the shared image) could write into the
    // image every proc on it runs, or read host files.
    if !vr_tests::e2e_ready("vrun a_descriptor_vrun_inherits_does_not_reach_the_proc") {
        return;
    }
    let env = env();
    let (app, port) = (app_name("fds"), free_port());
    let cmd = "for fd in 3 42; do if [ -e /proc/$$/fd/$fd ]; then echo fd $fd open; \
               echo poison > /proc/$$/fd/$fd/images/busybox/contents/etc/poison; fi; done; \
               echo fds-checked";
    let yaml = yaml_as(&env, &app, port, AS_ROOT, cmd, "");
    ok(&env.run(&["setup"], &yaml));
    let mut run = env.vrun();
    run.arg("run").arg(&yaml).stdin(std::process::Stdio::null());
    vr_tests::with_inherited_dir(&mut run, 3, &env.root);
    vr_tests::with_inherited_dir(&mut run, 42, &env.root);
    let out = run.output().unwrap();
    assert_eq!(ok(&out), "fds-checked\n");
    assert!(
        !env.root.join("images/busybox/contents/etc/poison").exists(),
        "the proc wrote into the shared image"
    );
    ok(&env.run(&["teardown"], &yaml));
}
