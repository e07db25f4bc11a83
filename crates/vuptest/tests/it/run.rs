//! Running uptests: order, capture, failures to start, output limits, timeouts, retries.

use crate::{exe, json_line, process_gone, read_pids, results, spawn, uptests, write_files};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn names(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["Name"].as_str().unwrap()).collect()
}

#[test]
fn runs_each_visible_entry_in_byte_order_with_host_and_port() {
    let script = "#!/bin/sh\necho \"$(basename \"$0\") $1 $2\"\n";
    let dir = uptests(&[
        ("b", script, 0o755),
        ("B", script, 0o755),
        ("a10", script, 0o755),
        ("a2", script, 0o755),
        (".hidden", "#!/bin/sh\nexit 1\n", 0o755),
    ]);
    let items = results(dir.path(), &[]);
    assert_eq!(names(&items), ["B", "a10", "a2", "b"]);
    for item in &items {
        let name = item["Name"].as_str().unwrap();
        assert_eq!(item["Output"], format!("{name} localhost 8080\n"));
        assert_eq!(item["Passed"], true);
    }
}

#[test]
fn stdout_and_stderr_are_captured_together_in_order() {
    let dir = uptests(&[(
        "t",
        "#!/bin/sh\necho 1; echo 2 >&2; echo 3; printf 4 >&2; echo 5\n",
        0o755,
    )]);
    let items = results(dir.path(), &[]);
    assert_eq!(items[0]["Output"], "1\n2\n3\n45\n");
}

#[test]
fn entries_that_cannot_start_fail_and_the_others_still_run() {
    let dir = uptests(&[
        ("01_noexec", "#!/bin/sh\necho hi\n", 0o644),
        ("02_badinterp", "#!/no/such/interpreter\n", 0o755),
        ("03_noshebang", "junk", 0o755),
        ("05_ok", "#!/bin/sh\necho ok\n", 0o755),
    ]);
    fs::create_dir(dir.path().join("04_dir")).unwrap();
    let items = results(dir.path(), &[]);
    assert_eq!(
        names(&items),
        [
            "01_noexec",
            "02_badinterp",
            "03_noshebang",
            "04_dir",
            "05_ok"
        ]
    );
    let want = [
        "cannot start 01_noexec: Permission denied (os error 13) (not executable: chmod +x)",
        "cannot start 02_badinterp: No such file or directory (os error 2) (bad interpreter: /no/such/interpreter)",
        "cannot start 03_noshebang: Exec format error (os error 8) (not a binary for this machine and no #! line)",
        "is a directory",
    ];
    for (item, output) in items.iter().zip(want) {
        assert_eq!(item["Output"], output);
        assert_eq!(item["Passed"], false);
        assert_eq!(item["ExitCode"], Value::Null);
        assert_eq!(item["TimedOut"], false);
    }
    assert_eq!(items[4]["Output"], "ok\n");
    assert_eq!(items[4]["Passed"], true);
}

#[test]
fn exit_statuses_and_signals() {
    let dir = uptests(&[
        ("1_zero", "#!/bin/sh\nexit 0\n", 0o755),
        ("2_three", "#!/bin/sh\nexit 3\n", 0o755),
        ("3_said", "#!/bin/sh\necho down; exit 4\n", 0o755),
        ("4_killed", "#!/bin/sh\nkill -9 $$\n", 0o755),
    ]);
    let items = results(dir.path(), &[]);
    let got: Vec<(Value, Value, Value)> = items
        .iter()
        .map(|i| {
            (
                i["Output"].clone(),
                i["Passed"].clone(),
                i["ExitCode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (json!(""), json!(true), json!(0)),
            (json!("exit status 3"), json!(false), json!(3)),
            (json!("down\n"), json!(false), json!(4)),
            (json!("signal 9"), json!(false), Value::Null),
        ]
    );
}

#[test]
fn output_that_is_not_utf8_is_still_valid_json() {
    let dir = uptests(&[(
        "t",
        "#!/bin/sh\nprintf 'a\\377\\376b \"q\" \\\\ <&>\\001'\n",
        0o755,
    )]);
    fs::write(
        dir.path().join(std::ffi::OsStr::from_bytes(b"n\xffame")),
        "",
    )
    .unwrap();
    let items = results(dir.path(), &[]);
    assert_eq!(items[1]["Output"], "a\u{fffd}\u{fffd}b \"q\" \\ <&>\u{1}");
    assert_eq!(items[1]["Passed"], true);
    assert_eq!(items[0]["Name"], "n\u{fffd}ame");
}

#[test]
fn huge_output_keeps_a_bounded_tail() {
    // 100 MB of output: vuptest keeps the last 1 MiB and stays small.
    let dir = uptests(&[(
        "big",
        "#!/bin/sh\nhead -c 100000000 /dev/zero | tr '\\000' x\necho END\n",
        0o755,
    )]);
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let mut child = spawn(
        Command::new(exe())
            .arg(dir.path())
            .args(["h", "1"])
            .stdout(out_file.reopen().unwrap())
            .stderr(Stdio::null()),
    );
    // vuptest's own peak (VmHWM of its address space after exec), sampled while it runs.
    // wait4's ru_maxrss would also count the uptest's processes and whatever a fork copied.
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(status.success(), "{status:?}");
    assert!(peak_kib > 0, "no memory sample taken");
    assert!(peak_kib < 48 * 1024, "vuptest peaked at {peak_kib} KiB");

    let items = json_line(&fs::read(out_file.path()).unwrap());
    let output = items[0]["Output"].as_str().unwrap();
    let kept = 1 << 20;
    let dropped = 100_000_004 - kept;
    let header = format!("[vuptest: output cut, first {dropped} bytes dropped]\n");
    assert!(output.starts_with(&header), "{}", &output[..100]);
    assert_eq!(output.len(), header.len() + kept);
    assert!(output.ends_with("xxxxEND\n"));
    assert_eq!(items[0]["Truncated"], true);
    assert_eq!(items[0]["Passed"], true);
}

#[test]
fn max_output_sets_the_tail_size() {
    let dir = uptests(&[("t", "#!/bin/sh\necho 0123456789\n", 0o755)]);
    let items = results(dir.path(), &["--max-output", "4"]);
    assert_eq!(
        items[0]["Output"],
        "[vuptest: output cut, first 7 bytes dropped]\n789\n"
    );
    assert_eq!(items[0]["Truncated"], true);
    let items = results(dir.path(), &["--max-output", "11"]);
    assert_eq!(items[0]["Output"], "0123456789\n");
    assert_eq!(items[0]["Truncated"], false);
}

#[test]
fn a_test_that_runs_too_long_is_killed_with_its_children() {
    let dir = uptests(&[]);
    let pids = dir.path().join(".pids");
    let hang = format!(
        "#!/bin/sh\necho $$ >> {p}\nsleep 1000 &\necho $! >> {p}\necho started\nsleep 1000\n",
        p = pids.display()
    );
    write_files(
        dir.path(),
        &[
            ("1_hang", &hang, 0o755),
            ("2_after", "#!/bin/sh\necho ran\n", 0o755),
        ],
    );
    let items = results(dir.path(), &["--timeout", "1"]);
    assert_eq!(
        items[0]["Output"],
        "started\n[vuptest: timed out after 1 second, killed]"
    );
    assert_eq!(items[0]["Passed"], false);
    assert_eq!(items[0]["TimedOut"], true);
    assert_eq!(items[0]["ExitCode"], Value::Null);
    assert!(items[0]["DurationMs"].as_u64().unwrap() >= 1000);
    // The next uptest still ran.
    assert_eq!(items[1]["Output"], "ran\n");
    let pids = read_pids(&pids);
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(process_gone(pid), "process {pid} survived the timeout");
    }
}

#[test]
fn children_holding_the_pipe_do_not_keep_vuptest_waiting() {
    // The uptest exits at once but leaves a child with its stdout open. vuptest must not wait
    // for that child (it would hit the 30 s timeout and report TimedOut), and kills it.
    let dir = uptests(&[]);
    let pids = dir.path().join(".pids");
    let script = format!(
        "#!/bin/sh\nsleep 1000 &\necho $! >> {}\necho left a child\n",
        pids.display()
    );
    write_files(dir.path(), &[("t", &script, 0o755)]);
    let items = results(dir.path(), &["--timeout", "30"]);
    assert_eq!(items[0]["Output"], "left a child\n");
    assert_eq!(items[0]["Passed"], true);
    assert_eq!(items[0]["TimedOut"], false);
    for pid in read_pids(&pids) {
        assert!(process_gone(pid), "process {pid} survived its uptest");
    }
}

#[test]
fn retry_for_reruns_failing_tests_until_they_pass() {
    let dir = uptests(&[]);
    // Passes on its third run: counts runs in a hidden file (hidden files are not run).
    let flaky = format!(
        "#!/bin/sh\nc={}/.count\nn=$(( $(cat $c 2>/dev/null || echo 0) + 1 ))\necho $n > $c\necho \"try $n\"\n[ $n -ge 3 ]\n",
        dir.path().display()
    );
    write_files(
        dir.path(),
        &[
            ("1_flaky", &flaky, 0o755),
            ("2_ok", "#!/bin/sh\necho ok\n", 0o755),
        ],
    );
    let items = results(dir.path(), &["--retry-for", "60", "--interval", "0.1"]);
    assert_eq!(items[0]["Output"], "try 3\n");
    assert_eq!(items[0]["Passed"], true);
    assert_eq!(items[0]["Attempts"], 3);
    assert_eq!(items[1]["Attempts"], 1);
    assert_eq!(
        fs::read_to_string(dir.path().join(".count")).unwrap(),
        "3\n"
    );
}

#[test]
fn retry_for_gives_up_at_the_deadline() {
    let dir = uptests(&[("never", "#!/bin/sh\necho no\nexit 7\n", 0o755)]);
    let items = results(dir.path(), &["--retry-for", "0.3", "--interval", "0.1"]);
    assert_eq!(items[0]["Passed"], false);
    assert_eq!(items[0]["ExitCode"], 7);
    assert!(items[0]["Attempts"].as_u64().unwrap() >= 2, "{}", items[0]);
    // Without --retry-for: one attempt.
    let items = results(dir.path(), &[]);
    assert_eq!(items[0]["Attempts"], 1);
}

#[test]
fn sigterm_reaches_the_running_uptest() {
    // A plain uptest dies of the forwarded SIGTERM; one that ignores it (and passes that on to
    // its child) is killed a moment later. Either way vuptest exits 128+15, prints the array
    // of the uptests that finished before (none here), and leaves nothing running.
    for trap in ["", "trap '' TERM\n"] {
        let dir = uptests(&[]);
        let pids = dir.path().join(".pids");
        let script = format!(
            "#!/bin/sh\n{trap}sleep 1000 &\necho $! >> {p}\necho $$ >> {p}\nwait\n",
            p = pids.display()
        );
        write_files(dir.path(), &[("hang", &script, 0o755)]);
        let child = spawn(
            Command::new(exe())
                .arg(dir.path())
                .args(["h", "1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        // Wait (bounded) until the uptest has started its child.
        let give_up = Instant::now() + Duration::from_secs(30);
        while fs::read_to_string(&pids).map_or(0, |s| s.lines().count()) < 2 {
            assert!(Instant::now() < give_up, "the uptest never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(128 + 15), "{trap}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "vuptest: interrupted by signal 15\n"
        );
        for pid in read_pids(&pids) {
            assert!(process_gone(pid), "process {pid} survived SIGTERM ({trap})");
        }
    }
}
