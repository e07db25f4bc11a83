//! Compatibility with the documented uptest format (docs/ and DESIGN.md, "uptests"):
//! `[{"Name": "01_alive.sh", "Output": "<stdout and stderr combined>", "Passed": true}, ...]`,
//! the three keys first and with the original uptester's meaning, extra keys after them.
//!
//! When `VR_GO_UPTESTER` names the original Go `uptester` (from the vr.runners 4.0.0 wheel;
//! `cargo xtask bench uptest` leaves one in target/bench/uptest/), the same folder is also run
//! through it and the three keys are compared field for field.

use crate::{json_line, spawn, uptests, vuptest};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};

/// A folder like a real app's: passing, failing, silent failure, stderr, and arguments.
fn folder() -> tempfile::TempDir {
    uptests(&[
        ("01_alive.sh", "#!/bin/sh\necho \"checking $1:$2\"\n", 0o755),
        ("02_stderr.sh", "#!/bin/sh\necho out; echo err >&2\n", 0o755),
        (
            "03_failing.sh",
            "#!/bin/sh\necho \"connection refused\" >&2\nexit 1\n",
            0o755,
        ),
        ("04_silent.sh", "#!/bin/sh\nexit 2\n", 0o755),
        (
            "05_quotes",
            "#!/bin/sh\nprintf '\"quoted\" \\\\ tab\\t<html>&'\n",
            0o755,
        ),
        (".skipped", "#!/bin/sh\nexit 1\n", 0o755),
    ])
}

/// The documented three keys for `folder()`, as the original uptester defines them.
fn documented() -> Value {
    json!([
        {"Name": "01_alive.sh", "Output": "checking localhost:8080\n", "Passed": true},
        {"Name": "02_stderr.sh", "Output": "out\nerr\n", "Passed": true},
        {"Name": "03_failing.sh", "Output": "connection refused\n", "Passed": false},
        {"Name": "04_silent.sh", "Output": "exit status 2", "Passed": false},
        {"Name": "05_quotes", "Output": "\"quoted\" \\ tab\t<html>&", "Passed": true},
    ])
}

/// The original three keys of each element.
fn original_keys(items: &[Value]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| json!({"Name": i["Name"], "Output": i["Output"], "Passed": i["Passed"]}))
            .collect(),
    )
}

#[test]
fn matches_the_documented_format_field_for_field() {
    let dir = folder();
    let out = vuptest([
        dir.path().as_os_str(),
        "localhost".as_ref(),
        "8080".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let line = String::from_utf8(out.stdout.clone()).unwrap();
    let items = json_line(&out.stdout);

    assert_eq!(original_keys(&items), documented());

    // Every element: exactly these keys, in this order, with these types.
    let keys = [
        "Name",
        "Output",
        "Passed",
        "DurationMs",
        "ExitCode",
        "TimedOut",
        "Truncated",
        "Attempts",
    ];
    for (i, item) in items.iter().enumerate() {
        let obj = item.as_object().unwrap();
        let mut got: Vec<&str> = obj.keys().map(String::as_str).collect();
        got.sort_unstable();
        let mut want = keys.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "element {i}");
        assert!(item["Name"].is_string() && item["Output"].is_string());
        assert!(item["Passed"].is_boolean());
        assert!(item["DurationMs"].is_u64());
        assert!(item["ExitCode"].is_i64() || item["ExitCode"].is_null());
        assert!(item["TimedOut"].is_boolean() && item["Truncated"].is_boolean());
        assert!(item["Attempts"].is_u64());
    }
    // Key order on the wire (serde_json's Map sorts, so read the raw line of element 1).
    let first = &line[..line.find('}').unwrap()];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| first.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first}");

    let extras: Vec<(Value, Value, Value, Value)> = items
        .iter()
        .map(|i| {
            (
                i["ExitCode"].clone(),
                i["TimedOut"].clone(),
                i["Truncated"].clone(),
                i["Attempts"].clone(),
            )
        })
        .collect();
    let f = json!(false);
    let one = json!(1);
    assert_eq!(
        extras,
        [0, 0, 1, 2, 0]
            .iter()
            .map(|c| (json!(c), f.clone(), f.clone(), one.clone()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn matches_the_original_go_uptester_when_available() {
    let Some(go) = std::env::var_os("VR_GO_UPTESTER") else {
        eprintln!(
            "note: VR_GO_UPTESTER not set; compared with the documented format only \
             (cargo xtask bench uptest fetches the Go uptester into target/bench/uptest/)"
        );
        return;
    };
    let dir = folder();
    let ours = vuptest([
        dir.path().as_os_str(),
        "localhost".as_ref(),
        "8080".as_ref(),
    ]);
    let theirs = run_go(Path::new(&go), dir.path());
    assert_eq!(original_keys(&json_line(&ours.stdout)), theirs);
    assert_eq!(theirs, documented());
}

fn run_go(go: &Path, dir: &Path) -> Value {
    let child = spawn(
        Command::new(go)
            .arg(dir)
            .args(["localhost", "8080"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Value::Array(json_line(&out.stdout))
}
