//! `vimage shell` (stdin from a pipe) and stopping a build with SIGTERM.

use crate::World;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vr_tests::{stderr, stdout, with_stdin};

#[test]
fn shell_runs_in_the_build_environment_and_keeps_nothing() {
    if !vr_tests::e2e_ready("vimage shell") {
        return;
    }
    let w = World::new();
    let script = w.script("unused.sh", "#!/bin/sh\ntrue\n");
    let yaml = w.image_yaml("sh", &script, "env:\n  GREETING: \"hi there\"\n");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vimage"));
    cmd.args(["shell", yaml.to_str().unwrap()])
        .current_dir(w.out())
        .env("VR_ROOT", w.root());
    let o = with_stdin(
        cmd,
        "echo \"user=$(id -u) home=$HOME\"\ntouch /left-behind\nexit 4\n",
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "shell's status passes through: {}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("user=0 home=/root"),
        "stdout: {} stderr: {}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        !w.out().join("sh.tar.gz").exists(),
        "no tarball from a shell"
    );
    assert_eq!(w.leftovers(), Vec::<String>::new());
    assert!(
        !w.root()
            .join("images/busybox-base/contents/left-behind")
            .exists(),
        "the cached base is untouched"
    );
}

#[test]
fn sigterm_during_a_build_stops_the_container_and_cleans_up() {
    if !vr_tests::e2e_ready("vimage SIGTERM") {
        return;
    }
    let w = World::new();
    let script = w.script(
        "slow.sh",
        "#!/bin/sh\necho started-slow-build\nsleep 31337\n",
    );
    let yaml = w.image_yaml("slow", &script, "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vimage"))
        .args(["build", yaml.to_str().unwrap()])
        .current_dir(w.out())
        .env("VR_ROOT", w.root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let started = line.contains("started-slow-build");
        seen.push(line);
        if started {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("started-slow-build")),
        "script never started: {seen:?}"
    );
    let t = Instant::now();
    // SAFETY: kill has no memory preconditions; the pid is our unreaped child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert!(!status.success(), "a stopped build fails: {rest:?}");
    assert!(!w.out().join("slow.tar.gz").exists(), "no tarball");
    assert_eq!(w.leftovers(), Vec::<String>::new());
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(
        !stdout(&ps).lines().any(|l| l.contains("sleep 31337")),
        "the container's processes are gone"
    );
}
