//! Successful builds: what the image holds, a clean base every time, env, log, stdout.

use crate::World;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use vr_tests::{stderr, stdout};

const SCRIPT: &str = r#"#!/bin/sh
set -e
echo "provisioning on $(hostname)"
echo "from the script" > /etc/motd
chmod 0640 /etc/motd
echo "bob:x:1234:1234:bob:/home/bob:/bin/sh" >> /etc/passwd
echo "bob:x:1234:" >> /etc/group
mkdir -p /home/bob
chown bob:bob /etc/motd
ln -s /etc/motd /etc/motd-link
ln /bin/busybox /bin/bb-hard
rm /etc/hostname
printf '%s' "$HOSTILE" > /hostile
printf '%s' "$HOME|$PATH" > /defaults
echo "to stderr" >&2
"#;

fn unpack(world: &World, tarball: &std::path::Path) -> std::path::PathBuf {
    let dest = world.tmp.path().join(format!(
        "unpacked-{}",
        tarball.file_name().unwrap().to_string_lossy()
    ));
    fs::create_dir(&dest).unwrap();
    let st = Command::new("tar")
        .args(["--numeric-owner", "-xpzf"])
        .arg(tarball)
        .arg("-C")
        .arg(&dest)
        .status()
        .unwrap();
    assert!(st.success());
    dest
}

const HOSTILE: &str = "a \"quoted\" 'single' $(id) `id` \\ back\nnew line = é ✓";

#[test]
fn build_writes_an_image_with_the_scripts_changes_and_nothing_else() {
    if !vr_tests::e2e_ready("vimage build") {
        return;
    }
    let w = World::new();
    let script = w.script("provision.sh", SCRIPT);
    let yaml_env = format!("env:\n  HOSTILE: {}\n", serde_json_string(HOSTILE));
    let yaml = w.image_yaml("stack1", &script, &yaml_env);
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("fetched base image http"),
        "{}",
        stderr(&o)
    );
    let tarball = w.out().join("stack1.tar.gz");
    let md5 = vr_tests::md5_file(&tarball).unwrap();
    let size = fs::metadata(&tarball).unwrap().len();
    assert_eq!(
        stdout(&o),
        format!("{md5}  {size}  {}\n", tarball.display())
    );
    assert!(
        stderr(&o).contains(&md5),
        "md5 printed for people too: {}",
        stderr(&o)
    );
    // The sidecars beside it check out with md5sum and sha256sum, as a server publishing them
    // would be checked.
    for (tool, ext) in [("md5sum", "md5"), ("sha256sum", "sha256")] {
        let sidecar = fs::read_to_string(w.out().join(format!("stack1.tar.gz.{ext}"))).unwrap();
        assert!(sidecar.ends_with("  stack1.tar.gz\n"), "{sidecar}");
        let check = Command::new(tool)
            .args(["-c", &format!("stack1.tar.gz.{ext}")])
            .current_dir(w.out())
            .output()
            .unwrap();
        assert!(check.status.success(), "{tool}: {}", stderr(&check));
    }

    let log = fs::read_to_string(w.out().join("stack1.log")).unwrap();
    assert!(log.contains("provisioning on "), "log: {log}");
    assert!(log.contains("to stderr"), "log: {log}");
    assert!(
        stderr(&o).contains("to stderr"),
        "output streams to the terminal"
    );

    let root = unpack(&w, &tarball);
    let motd = fs::symlink_metadata(root.join("etc/motd")).unwrap();
    assert_eq!(
        fs::read_to_string(root.join("etc/motd")).unwrap(),
        "from the script\n"
    );
    assert_eq!(
        (motd.uid(), motd.gid(), motd.mode() & 0o7777),
        (1234, 1234, 0o640)
    );
    assert!(fs::read_to_string(root.join("etc/passwd"))
        .unwrap()
        .contains("bob:x:1234:1234:"));
    assert_eq!(
        fs::read_link(root.join("etc/motd-link")).unwrap(),
        std::path::Path::new("/etc/motd")
    );
    let bb = fs::metadata(root.join("bin/busybox")).unwrap();
    assert_eq!(
        bb.ino(),
        fs::metadata(root.join("bin/bb-hard")).unwrap().ino(),
        "hardlink kept"
    );
    assert_eq!(bb.mode() & 0o777, 0o755);
    assert!(
        !root.join("etc/hostname").exists(),
        "removed base file stays removed"
    );
    assert!(root.join("bin/sh").exists(), "base kept");
    assert_eq!(
        fs::read(root.join("hostile")).unwrap(),
        HOSTILE.as_bytes(),
        "env arrives byte for byte"
    );
    assert_eq!(
        fs::read_to_string(root.join("defaults")).unwrap(),
        "/root|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    assert!(!root.join(".vimage").exists(), "script removed");
    assert!(
        !root.join("dev/null").exists(),
        "the container's device nodes are not left in the image"
    );
    assert_eq!(w.leftovers(), Vec::<String>::new());

    // A second build from the same (cached) base sees none of the first build's changes.
    let check = w.script(
        "check.sh",
        "#!/bin/sh\nset -e\ntest ! -e /etc/motd\ntest -e /etc/hostname\n! grep -q bob /etc/passwd\ntouch /second\n",
    );
    let yaml2 = w.image_yaml("stack2", &check, "");
    let o2 = w.vimage(&["build", yaml2.to_str().unwrap()]);
    assert!(
        o2.status.success(),
        "second build saw leftovers: {}",
        stderr(&o2)
    );
    assert_eq!(w.server.requests("/base.tar.gz"), 1, "base downloaded once");
    assert!(
        !stderr(&o2).contains("base image http"),
        "a cached base with a matching md5 is neither fetched nor re-hashed: {}",
        stderr(&o2)
    );
    let root2 = unpack(&w, &w.out().join("stack2.tar.gz"));
    assert!(root2.join("second").exists() && !root2.join("etc/motd").exists());
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

#[test]
fn a_differing_new_image_md5_is_reported() {
    if !vr_tests::e2e_ready("vimage new_image_md5") {
        return;
    }
    let w = World::new();
    let script = w.script("rm.sh", "#!/bin/sh\nrm /etc/hostname\n");
    let c = w.image_yaml(
        "c",
        &script,
        "new_image_md5: 0123456789abcdef0123456789abcdef\n",
    );
    let o = w.vimage(&["build", c.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("warning: new_image_md5 is 0123456789abcdef0123456789abcdef"),
        "{}",
        stderr(&o)
    );
}

fn serde_json_string(s: &str) -> String {
    // A JSON string is a valid YAML double-quoted scalar.
    serde_json::to_string(s).unwrap()
}

/// A root-owned host file (content "host file", mode 0600) in the test's temp dir, beside (not
/// inside) the output folder: what a local user would like root to overwrite.
fn host_file(w: &World) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = w.tmp.path().join("host-file");
    fs::write(&path, "host file").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// The host file still holds "host file" with mode 0600 and a single link, and the log in the
/// output folder is a regular file of its own holding the script's output.
fn assert_host_file_untouched_and_log_written(w: &World, host: &std::path::Path, log_name: &str) {
    assert_eq!(fs::read_to_string(host).unwrap(), "host file");
    let meta = fs::symlink_metadata(host).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600, "host file mode kept");
    assert_eq!(
        meta.nlink(),
        1,
        "no link to the host file is left in the output folder"
    );
    let log = w.out().join(log_name);
    let log_meta = fs::symlink_metadata(&log).unwrap();
    assert!(log_meta.file_type().is_file(), "the log is a regular file");
    assert_ne!(log_meta.ino(), meta.ino(), "the log is a new file");
    assert_eq!(log_meta.nlink(), 1);
    assert_eq!(log_meta.mode() & 0o7777, 0o644);
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("provisioning for the log"), "log: {text}");
}

const LOG_SCRIPT: &str = "#!/bin/sh\necho provisioning for the log\n";

#[test]
fn a_log_symlink_is_not_followed() {
    if !vr_tests::e2e_ready("vimage log symlink") {
        return;
    }
    let w = World::new();
    let host = host_file(&w);
    // Planted by whoever may write the output folder (a project folder of uid 1000).
    std::os::unix::fs::symlink(&host, w.out().join("linked.log")).unwrap();
    let script = w.script("log.sh", LOG_SCRIPT);
    let yaml = w.image_yaml("linked", &script, "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_host_file_untouched_and_log_written(&w, &host, "linked.log");
}

#[test]
fn a_log_hard_link_is_not_written_through() {
    if !vr_tests::e2e_ready("vimage log hard link") {
        return;
    }
    let w = World::new();
    let host = host_file(&w);
    // As root the test may link a file it does not own whatever fs.protected_hardlinks says;
    // an attacker may too when it is 0.
    fs::hard_link(&host, w.out().join("hard.log")).unwrap();
    let script = w.script("log.sh", LOG_SCRIPT);
    let yaml = w.image_yaml("hard", &script, "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_host_file_untouched_and_log_written(&w, &host, "hard.log");
}

#[test]
fn a_replaced_base_is_kept_aside_and_said_in_one_line() {
    if !vr_tests::e2e_ready("vimage a_replaced_base_is_kept_aside_and_said_in_one_line") {
        return;
    }
    let w = World::new();
    let script = w.script("noop.sh", "#!/bin/sh\ntrue\n");
    let first = w.tmp.path().join("first.tar.gz");
    let second = w.tmp.path().join("second.tar.gz");
    vr_tests::busybox_image(&first).unwrap();
    let root = w.tmp.path().join("second-rootfs");
    vr_tests::busybox_rootfs(&root).unwrap();
    fs::write(root.join("etc/second"), "2\n").unwrap();
    vr_tests::tar_gz(&root, &second).unwrap();
    for (name, base) in [("one", &first), ("two", &second)] {
        let yaml = w.yaml_on(name, base.to_str().unwrap(), "swapped", &script);
        let out = w.vimage(&["build", yaml.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        if name == "two" {
            let err = stderr(&out);
            let line = err.lines().find(|l| l.contains("stays at")).unwrap();
            assert!(
                line.starts_with("vimage: the base image unpacked from another tarball stays at ")
                    && line.ends_with(
                        " for builds still running on it; `vrun gc` removes it once they are done"
                    )
                    && !line.contains("  "),
                "{line}"
            );
        }
    }
}

#[test]
fn credentials_in_the_base_url_appear_nowhere() {
    if !vr_tests::e2e_ready("vimage credentials_in_the_base_url_appear_nowhere") {
        return;
    }
    let w = World::new();
    let script = w.script("noop.sh", "#!/bin/sh\necho provisioned\n");
    let url = format!("{}?token=T0kenValue", w.server.auth_url("base.tar.gz"));
    let yaml = w.yaml_on("secret", &url, "secret-base", &script);
    let out = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = fs::read_to_string(w.out().join("secret.log")).unwrap();
    for text in [stderr(&out), log] {
        for secret in [vr_tests::AUTH_PASSWORD, "T0kenValue"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(
        stderr(&out).contains("http://***@127.0.0.1:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn what_a_killed_build_left_is_removed_by_the_next() {
    if !vr_tests::e2e_ready("vimage what_a_killed_build_left_is_removed_by_the_next") {
        return;
    }
    let w = World::new();
    let script = w.script("noop.sh", "#!/bin/sh\ntrue\n");
    let yaml = w.image_yaml("first", &script, "");
    let out = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // What a build killed with SIGKILL leaves beside the cached base.
    let left = w.root().join("images/busybox-base/.build-Kill3d");
    fs::create_dir_all(left.join("upper")).unwrap();
    fs::write(left.join("upper/big"), vec![0u8; 1 << 20]).unwrap();
    let yaml = w.image_yaml("second", &script, "");
    let out = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("left by a build that was killed"),
        "{}",
        stderr(&out)
    );
    assert!(!left.exists());
    assert_eq!(w.leftovers(), Vec::<String>::new());
}
