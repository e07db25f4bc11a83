//! Real processes through the real launcher, with and without a pidfd.

use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

#[test]
fn outcomes_with_and_without_pidfd() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let ms = Duration::from_millis;
    // (script body, timeout, outcome, output)
    let cases: Vec<(String, Duration, Outcome, &str)> = vec![
        (
            "echo \"$1 $2\"".into(),
            ms(30_000),
            Outcome::Exited(0),
            "h 80\n",
        ),
        (
            "echo a; echo b >&2; exit 3".into(),
            ms(30_000),
            Outcome::Exited(3),
            "a\nb\n",
        ),
        (
            "kill -TERM $$".into(),
            ms(30_000),
            Outcome::Signaled(15),
            "",
        ),
        (
            "echo slow; exec sleep 100".into(),
            ms(300),
            Outcome::TimedOut { after: ms(300) },
            "slow\n",
        ),
        (
            // Exits at once, leaving a child that holds the pipe.
            format!("sleep 100 & echo $! >> {}; echo bye", pids.display()),
            ms(30_000),
            Outcome::Exited(0),
            "bye\n",
        ),
        (
            // Closes its output and keeps running until the timeout.
            "exec >&- 2>&-; sleep 100".into(),
            ms(300),
            Outcome::TimedOut { after: ms(300) },
            "",
        ),
    ];
    for use_pidfd in [true, false] {
        for (i, (body, timeout, outcome, output)) in cases.iter().enumerate() {
            let script = dir.path().join(format!("t{i}_{use_pidfd}"));
            fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
            let launcher = Process {
                timeout: *timeout,
                stop: Stop::new(),
                reaper: None,
            };
            let args = [OsStr::new("h"), OsStr::new("80")];
            let (got, captured) = launcher
                .run(&script, &args, 1024, Instant::now(), use_pidfd)
                .unwrap();
            assert_eq!(got, *outcome, "{body} (pidfd {use_pidfd})");
            assert_eq!(
                captured.bytes,
                output.as_bytes(),
                "{body} (pidfd {use_pidfd})"
            );
        }
    }
    // The children left behind were killed with their uptest's group.
    for pid in fs::read_to_string(&pids).unwrap().split_whitespace() {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(')').map(|(_, r)| r.trim_start());
        assert!(
            state.is_none_or(|s| s.starts_with('Z')),
            "child {pid} survived: {stat}"
        );
    }
}

#[test]
fn a_missing_file_is_not_started() {
    let dir = tempfile::tempdir().unwrap();
    let mut launcher = Process {
        timeout: Duration::from_secs(5),
        stop: Stop::new(),
        reaper: None,
    };
    let attempt = launcher.launch(&dir.path().join("gone"), &[], 1024);
    assert_eq!(
        attempt.outcome,
        Outcome::NotStarted("cannot start gone: No such file or directory (os error 2)".into())
    );
    assert!(!attempt.outcome.passed());
}
