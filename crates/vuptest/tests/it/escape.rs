//! Processes that leave their uptest's process group (`setsid`, a double-forked daemon) are
//! killed all the same, when the uptest ends and at its timeout; processes vuptest did not
//! start are left alone.
//!
//! Each escapee runs `sleep` with an argument no other process has, so it can be found in
//! /proc by its command line whatever its pid and parent.

use crate::{exe, json_line, process_gone, spawn, uptests, write_files};
use std::fs;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A `sleep` argument (about 1000 seconds) that no other process uses.
fn unique_sleep() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    format!("1000.{}{n:04}1", std::process::id())
}

/// Pids of the live processes whose command line is `sleep <arg>`.
fn sleepers(arg: &str) -> Vec<u32> {
    let want = format!("sleep\0{arg}\0");
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline.ends_with(want.as_bytes()) && !process_gone_now(pid) {
            pids.push(pid);
        }
    }
    pids
}

fn process_gone_now(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Runs vuptest on `dir` with `flags`, checks it did not hang and printed one JSON array, and
/// returns that array.
fn run(dir: &std::path::Path, flags: &[&str]) -> Vec<serde_json::Value> {
    let start = Instant::now();
    let child = spawn(
        Command::new(exe())
            .args(flags)
            .arg(dir)
            .args(["h", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = child.wait_with_output().unwrap();
    // Generous: proves only that an escapee holding the output pipe did not keep vuptest.
    assert!(start.elapsed() < Duration::from_secs(20), "vuptest hung");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    json_line(&out.stdout)
}

/// Fails when a `sleep <arg>` still runs (after a moment for SIGKILL to land); kills it first
/// so a failing test leaves nothing behind.
fn assert_none_left(arg: &str, what: &str) {
    let left = sleepers(arg);
    let survivors: Vec<u32> = left.into_iter().filter(|&p| !process_gone(p)).collect();
    for pid in &survivors {
        // SAFETY: plain kill(2) on a leftover test process.
        unsafe {
            libc::kill(*pid as i32, libc::SIGKILL);
        }
    }
    assert!(survivors.is_empty(), "{what}: {survivors:?} survived");
}

#[test]
fn a_setsid_child_is_killed_when_its_uptest_ends() {
    // One escapee keeps the output pipe open, one does not: either way vuptest returns at
    // once and the escapee is gone.
    let holds = unique_sleep();
    let quiet = unique_sleep();
    let dir = uptests(&[
        (
            "1_holds_pipe",
            &format!("#!/bin/sh\nsetsid sleep {holds} &\necho started\n"),
            0o755,
        ),
        (
            "2_quiet",
            &format!(
                "#!/bin/sh\nsetsid sleep {quiet} </dev/null >/dev/null 2>&1 &\necho started\n"
            ),
            0o755,
        ),
        ("3_after", "#!/bin/sh\necho ran\n", 0o755),
    ]);
    let items = run(dir.path(), &["--timeout", "30"]);
    for item in &items[..2] {
        assert_eq!(item["Output"], "started\n");
        assert_eq!(item["Passed"], true);
        assert_eq!(item["TimedOut"], false);
    }
    assert_eq!(items[2]["Output"], "ran\n");
    assert_none_left(&holds, "setsid child holding the pipe");
    assert_none_left(&quiet, "setsid child with its own output");
}

#[test]
fn a_setsid_child_is_killed_at_the_timeout() {
    let arg = unique_sleep();
    let dir = uptests(&[(
        "hang",
        &format!("#!/bin/sh\nsetsid sleep {arg} &\necho started\nsleep 1000\n"),
        0o755,
    )]);
    let items = run(dir.path(), &["--timeout", "1"]);
    assert_eq!(
        items[0]["Output"],
        "started\n[vuptest: timed out after 1 second, killed]"
    );
    assert_eq!(items[0]["TimedOut"], true);
    assert_none_left(&arg, "setsid child at the timeout");
}

#[test]
fn a_double_forked_daemon_is_killed() {
    // The classic daemon: fork, setsid, fork again, the middle process exits, the grandchild
    // closes its output and is re-parented away from the uptest.
    let arg = unique_sleep();
    let dir = uptests(&[(
        "daemon",
        &format!(
            "#!/bin/sh\nsetsid sh -c 'sleep {arg} </dev/null >/dev/null 2>&1 &' &\nwait\necho forked\n"
        ),
        0o755,
    )]);
    // `wait` returns once the middle `sh` has forked the daemon and exited.
    let items = run(dir.path(), &[]);
    assert_eq!(items[0]["Output"], "forked\n");
    assert_eq!(items[0]["Passed"], true);
    assert_none_left(&arg, "double-forked daemon");
}

#[test]
fn processes_started_before_vuptest_are_left_alone() {
    // A shell that starts a background job, then execs vuptest (as a .profile.d script might
    // before `exec vuptest`): that job is vuptest's child, but no uptest started it.
    let before = unique_sleep();
    let escapee = unique_sleep();
    let dir = uptests(&[]);
    write_files(
        dir.path(),
        &[(
            "t",
            &format!("#!/bin/sh\nsetsid sleep {escapee} &\necho started\n"),
            0o755,
        )],
    );
    let script = format!("sleep {before} </dev/null >/dev/null 2>&1 & exec \"$0\" \"$1\" h 1",);
    let child = spawn(
        Command::new("sh")
            .args(["-c", &script])
            .arg(exe())
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = child.wait_with_output().unwrap();
    let spared = sleepers(&before);
    for pid in &spared {
        // SAFETY: plain kill(2) on the test's own background job.
        unsafe {
            libc::kill(*pid as i32, libc::SIGKILL);
        }
    }
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_line(&out.stdout)[0]["Output"], "started\n");
    assert_eq!(spared.len(), 1, "the job started before vuptest was killed");
    assert_none_left(&escapee, "setsid child");
}
