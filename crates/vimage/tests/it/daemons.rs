//! A build ends when its script ends: what the script left running in the background (a
//! daemon an `apt-get install` started, a `setsid` loop that ignores SIGTERM) is killed with
//! the container, neither keeps `vimage build` waiting nor writes into the image. Here on a
//! busybox base (ash); `debian.rs` does it again under dash.

use crate::{file_in, World};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use vr_tests::stderr;

/// Bound for the build: generous, only to fail instead of hanging.
const PATIENCE: Duration = Duration::from_secs(120);

/// A daemon in its own session that ignores TERM, HUP and INT, waits for the script to end,
/// then writes into the tree and sleeps on (as `sleep 987651`, the mark looked for on the host).
const SCRIPT: &str = r#"#!/bin/sh
me=$$
setsid sh -c "trap '' TERM HUP INT; while [ -e /proc/$me ]; do sleep 0.2; done; sleep 2; echo late > /written-after-the-script; exec sleep 987651" </dev/null >/dev/null 2>&1 &
echo kept > /written-by-the-script
echo daemon-started
"#;

/// Whether a process on the host runs `sleep <mark>`.
pub fn daemon_running(mark: &str) -> bool {
    vr_tests::running(&["sleep", mark])
}

/// `vimage build yaml`, failing the test instead of hanging when it takes more than `limit`.
pub fn build_within(w: &World, yaml: &Path, limit: Duration) -> Output {
    let mut child = w
        .command(&["build", yaml.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    vr_tests::wait_for(&mut child, limit);
    child.wait_with_output().unwrap()
}

#[test]
fn a_daemon_left_by_the_script_ends_with_it_and_writes_nothing_into_the_image() {
    if !vr_tests::e2e_ready("vimage daemons") {
        return;
    }
    let w = World::new();
    let script = w.script("daemon.sh", SCRIPT);
    let yaml = w.image_yaml("daemon", &script, "");
    let out = build_within(&w, &yaml, PATIENCE);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let tarball = w.out().join("daemon.tar.gz");
    assert_eq!(file_in(&tarball, "written-by-the-script"), "kept\n");
    assert_eq!(
        file_in(&tarball, "written-after-the-script"),
        "",
        "the daemon wrote into the image after the script ended"
    );
    assert!(
        !daemon_running("987651"),
        "the script's daemon outlived the build"
    );
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

#[test]
fn a_script_that_kills_the_shell_around_it_still_ends_and_packs_nothing() {
    if !vr_tests::e2e_ready("vimage daemons: the shell around the script killed") {
        return;
    }
    let w = World::new();
    // The script kills what would kill its leftovers, then stays (as `sleep 987652`).
    let script = w.script("killer.sh", "#!/bin/sh\nkill -9 $PPID\nexec sleep 987652\n");
    let yaml = w.image_yaml("killer", &script, "");
    let out = build_within(&w, &yaml, PATIENCE);
    assert!(!out.status.success(), "stderr: {}", stderr(&out));
    assert!(!w.out().join("killer.tar.gz").exists());
    assert!(!daemon_running("987652"), "the script outlived the build");
}
