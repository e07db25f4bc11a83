//! Arguments, exit statuses and what goes to stdout and stderr.

use crate::{exe, json_line, spawn, uptests, vuptest};
use std::process::{Command, Stdio};

const PASS: &str = "#!/bin/sh\nexit 0\n";
const FAIL: &str = "#!/bin/sh\necho nope\nexit 1\n";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_and_version_go_to_stdout() {
    let help = vuptest(["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let out = text(&help.stdout);
    assert!(
        out.contains("Usage: vuptest [OPTIONS] <FOLDER> <HOST> <PORT>"),
        "{out}"
    );
    for flag in [
        "--timeout",
        "--fail",
        "--retry-for",
        "--interval",
        "--max-output",
        "--max-total-output",
    ] {
        assert!(out.contains(flag), "help lacks {flag}: {out}");
    }
    assert_eq!(text(&help.stderr), "");

    let version = vuptest(["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        text(&version.stdout),
        format!("vuptest {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(text(&version.stderr), "");
}

#[test]
fn wrong_arguments_are_one_line_and_exit_2() {
    let dir = uptests(&[]);
    let d = dir.path().to_str().unwrap();
    // (args, text the line must contain)
    let cases: &[(&[&str], &str)] = &[
        (
            &[],
            "the following required arguments were not provided: <FOLDER> <HOST> <PORT>",
        ),
        (
            &[d, "h"],
            "the following required arguments were not provided: <PORT>",
        ),
        (&[d, "h", "1", "extra"], "unexpected argument 'extra' found"),
        (
            &[d, "h", "1", "--bogus"],
            "unexpected argument '--bogus' found",
        ),
        (
            &[d, "h", "1", "--timeout", "0"],
            "`0` must be more than 0 seconds",
        ),
        (
            &[d, "h", "1", "--timeout", "soon"],
            "`soon` is not a number of seconds",
        ),
        (&[d, "h", "1", "--interval", "1"], "--retry-for <SECONDS>"),
    ];
    for (args, want) in cases {
        let out = vuptest(*args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
        assert!(err.starts_with("vuptest: "), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(err.ends_with("; try 'vuptest --help'\n"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn unreadable_folder_is_exit_2_with_nothing_on_stdout() {
    let dir = uptests(&[("not_a_dir", "", 0o644)]);
    let missing = dir.path().join("missing");
    let file = dir.path().join("not_a_dir");
    let cases = [
        (
            missing.clone(),
            format!(
                "vuptest: cannot read uptests folder {}: No such file or directory (os error 2)\n",
                missing.display()
            ),
        ),
        (
            file.clone(),
            format!(
                "vuptest: cannot read uptests folder {}: Not a directory (os error 20)\n",
                file.display()
            ),
        ),
    ];
    for (folder, want) in cases {
        let out = vuptest([folder.as_os_str(), "h".as_ref(), "1".as_ref()]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(text(&out.stdout), "");
        assert_eq!(text(&out.stderr), want);
    }
}

#[test]
fn empty_folder_prints_an_empty_array() {
    let dir = uptests(&[(".hidden", PASS, 0o755)]);
    let out = vuptest([dir.path().as_os_str(), "h".as_ref(), "1".as_ref()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "[]\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn fail_flag_sets_the_exit_status() {
    let failing = uptests(&[("01_pass", PASS, 0o755), ("02_fail", FAIL, 0o755)]);
    let passing = uptests(&[("01_pass", PASS, 0o755)]);
    // (folder, --fail, status)
    let cases = [
        (failing.path(), false, 0),
        (failing.path(), true, 1),
        (passing.path(), false, 0),
        (passing.path(), true, 0),
    ];
    for (folder, fail, code) in cases {
        let mut args = vec![folder.as_os_str(), "h".as_ref(), "1".as_ref()];
        if fail {
            args.push("--fail".as_ref());
        }
        let out = vuptest(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert_eq!(text(&out.stderr), "");
        // The JSON is printed in every case.
        let items = json_line(&out.stdout);
        assert_eq!(items.len(), if folder == passing.path() { 1 } else { 2 });
    }
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let dir = uptests(&[("01_pass", PASS, 0o755)]);
    let mut child = spawn(
        Command::new(exe())
            .arg(dir.path())
            .args(["h", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // Close the read end before vuptest writes (as `| head -c0` would).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
}
