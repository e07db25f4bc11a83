//! `vimage shell` (stdin from a pipe, or a terminal): the build's environment, nothing kept,
//! signals passed to the shell, the shell's status.

use crate::World;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;
use vr_tests::{stderr, stdout, with_stdin};

#[test]
fn shell_runs_in_the_build_environment_and_keeps_nothing() {
    if !vr_tests::e2e_ready("vimage shell") {
        return;
    }
    let w = World::new();
    let script = w.script("unused.sh", "#!/bin/sh\ntrue\n");
    let yaml = w.image_yaml("sh", &script, "env:\n  GREETING: \"hi there\"\n");
    let o = with_stdin(
        w.command(&["shell", yaml.to_str().unwrap()]),
        "echo \"user=$(id -u) home=$HOME greeting=$GREETING\"\ntouch /left-behind\nexit 4\n",
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "shell's status passes through: {}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("user=0 home=/root greeting=hi there"),
        "stdout: {} stderr: {}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        !w.out().join("sh.tar.gz").exists(),
        "no tarball from a shell"
    );
    // Its messages say shell, not a script.
    assert!(
        stderr(&o).contains("vimage: opening the shell /bin/sh in a container on busybox-base"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("running"), "{}", stderr(&o));
    assert_eq!(w.leftovers(), Vec::<String>::new());
    assert!(
        !w.root()
            .join("images/busybox-base/contents/left-behind")
            .exists(),
        "the cached base is untouched"
    );
}

#[test]
fn signals_during_a_shell_are_the_shells_and_its_status_passes_through() {
    if !vr_tests::e2e_ready("vimage shell signals") {
        return;
    }
    let w = World::new();
    let script = w.script("unused.sh", "#!/bin/sh\ntrue\n");
    let yaml = w.image_yaml("shsig", &script, "");
    for (signal, trap, status) in [(libc::SIGINT, "INT", 5), (libc::SIGTERM, "TERM", 6)] {
        let mut child = w
            .command(&["shell", yaml.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(
            stdin,
            "trap 'echo got-{trap}; stop=1' {trap}\necho shell-ready\n\
             while [ -z \"$stop\" ]; do sleep 0.1; done\nexit {status}"
        )
        .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = out
            .by_ref()
            .map(|l| l.unwrap())
            .find(|l| l == "shell-ready");
        assert!(ready.is_some(), "the shell never started");
        // SAFETY: kill(2) on our own unreaped child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let rest: Vec<String> = out.map(|l| l.unwrap()).collect();
        let code = vr_tests::wait_for(&mut child, Duration::from_secs(60)).code();
        drop(stdin);
        assert_eq!(code, Some(status), "the shell's status, stdout: {rest:?}");
        assert_eq!(rest, [format!("got-{trap}")]);
        assert_eq!(w.leftovers(), Vec::<String>::new());
    }
}

#[test]
fn on_a_terminal_a_background_job_does_not_change_the_shells_status() {
    if !vr_tests::e2e_ready("vimage shell on a terminal with a background job") {
        return;
    }
    let w = World::new();
    let script = w.script("unused.sh", "#!/bin/sh\ntrue\n");
    let yaml = w.image_yaml("shbg", &script, "");
    let mut tty = crate::vimage_on_a_terminal(&w, &["shell", yaml.to_str().unwrap()]);
    tty.wait_for("/ # ");
    // A job left running when the shell exits is ended with the container; the status is
    // still the shell's (LXC's lxc-execute, when told to end by SIGTERM on a terminal,
    // detached from it and exited 1 instead).
    tty.type_line("sleep 1234 &");
    tty.type_line("echo job-$((40+2)); exit 5");
    tty.wait_for("job-42");
    let (status, shown) = tty.finish();
    assert_eq!(status.code(), Some(5), "the shell's status: {shown}");
    assert!(!shown.contains("Child process is not killed"), "{shown}");
    assert!(!vr_tests::running(&["sleep", "1234"]), "the job was ended");
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

#[test]
fn on_a_terminal_sigterm_and_sighup_end_the_shell_with_its_status() {
    if !vr_tests::e2e_ready("vimage shell on a terminal, signals") {
        return;
    }
    let w = World::new();
    let script = w.script("unused.sh", "#!/bin/sh\ntrue\n");
    let yaml = w.image_yaml("shtty", &script, "");
    // SIGHUP (the terminal's window closed) ends the container as SIGTERM does.
    for (signal, status) in [(libc::SIGTERM, 6), (libc::SIGHUP, 7)] {
        let mut tty = crate::vimage_on_a_terminal(&w, &["shell", yaml.to_str().unwrap()]);
        tty.wait_for("/ # ");
        tty.type_line(&format!(
            "trap 'echo got-TERM; exit {status}' TERM; sleep 2345 & echo shell-$((1+1))-ready; wait"
        ));
        tty.wait_for("shell-2-ready");
        // SAFETY: kill(2) of vimage, the child of our unreaped `script` child.
        assert_eq!(unsafe { libc::kill(tty.pid(), signal) }, 0);
        let (code, shown) = tty.finish();
        assert_eq!(code.code(), Some(status), "the shell's status: {shown}");
        assert!(shown.contains("got-TERM"), "{shown}");
        assert!(!vr_tests::running(&["sleep", "2345"]), "the job was ended");
        assert_eq!(w.leftovers(), Vec::<String>::new());
    }
}
