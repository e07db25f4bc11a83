//! The JSON array is written as results become final: memory stays flat in the number of
//! uptests, a total output cap bounds the array, and a signal still leaves valid JSON.

use crate::{exe, json_line, read_pids, results, spawn, uptests, write_files};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fs;
use std::io::BufReader;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The length of a JSON string, without keeping the string.
struct Len(usize);

impl<'de> Deserialize<'de> for Len {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Len, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Len;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Len, E> {
                Ok(Len(s.len()))
            }
        }
        d.deserialize_str(V)
    }
}

/// One element of the array, with only the length of its output.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Item {
    name: String,
    output: Len,
    passed: bool,
    truncated: bool,
}

#[test]
fn memory_stays_flat_in_the_number_of_uptests() {
    // 300 uptests of 1 MiB each, no total cap to speak of: 300 MiB of JSON, which vuptest
    // must write as it goes instead of holding.
    const N: usize = 300;
    const MIB: usize = 1 << 20;
    let dir = uptests(&[]);
    fs::write(dir.path().join(".big"), vec![b'x'; MIB]).unwrap();
    let script = format!("#!/bin/sh\ncat {}/.big\n", dir.path().display());
    let files: Vec<(String, &str, u32)> = (0..N)
        .map(|i| (format!("t{i:03}"), script.as_str(), 0o755))
        .collect();
    let files: Vec<(&str, &str, u32)> =
        files.iter().map(|(n, s, m)| (n.as_str(), *s, *m)).collect();
    write_files(dir.path(), &files);

    let out_file = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by the wait4 below
    let child = spawn(
        Command::new(exe())
            .args(["--max-total-output", "1000000000"])
            .arg(dir.path())
            .args(["h", "1"])
            .stdin(Stdio::null())
            .stdout(out_file.reopen().unwrap())
            .stderr(Stdio::piped()),
    );
    // wait4 gives the peak resident size of vuptest (and of the uptests it reaped, each a
    // small `sh` or `cat`), however short the peak was.
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it and the status for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: plain wait4(2) on our own child with valid pointers.
    let waited = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(waited, child.id() as i32);
    assert!(start.elapsed() < Duration::from_secs(300), "vuptest hung");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status:#x}"
    );
    let peak_kib = usage.ru_maxrss;
    assert!(peak_kib < 64 * 1024, "vuptest peaked at {peak_kib} KiB");

    let file = fs::File::open(out_file.path()).unwrap();
    let items: Vec<Item> = serde_json::from_reader(BufReader::new(file)).unwrap();
    assert_eq!(items.len(), N);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item.name, format!("t{i:03}"));
        assert_eq!(
            (item.output.0, item.passed, item.truncated),
            (MIB, true, false)
        );
    }
    let text = fs::read(out_file.path()).unwrap();
    assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
}

#[test]
fn the_total_output_cap_truncates_later_outputs() {
    let ten = "#!/bin/sh\necho 012345678\n"; // 10 bytes
    let dir = uptests(&[
        ("1", ten, 0o755),
        ("2", ten, 0o755),
        ("3", ten, 0o755),
        ("4", "#!/bin/sh\nexit 3\n", 0o755),
    ]);
    let items = results(dir.path(), &["--max-total-output", "15"]);
    let got: Vec<(&str, bool, bool)> = items
        .iter()
        .map(|i| {
            (
                i["Output"].as_str().unwrap(),
                i["Truncated"].as_bool().unwrap(),
                i["Passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("012345678\n", false, true),
            (
                "[vuptest: output cut, first 5 bytes dropped]\n5678\n",
                true,
                true
            ),
            (
                "[vuptest: output cut, first 10 bytes dropped]\n",
                true,
                true
            ),
            // Nothing printed, nothing cut: it still says why it failed.
            ("exit status 3", false, false),
        ]
    );
    // --max-output still applies below the total.
    let items = results(
        dir.path(),
        &["--max-total-output", "100", "--max-output", "4"],
    );
    assert_eq!(
        items[0]["Output"],
        "[vuptest: output cut, first 6 bytes dropped]\n678\n"
    );
}

#[test]
fn a_signal_closes_the_array_after_the_finished_uptests() {
    // 1 passes, 2 is running when SIGINT comes, 3 never starts: the array holds 1 only, and
    // is closed, so stdout is still one JSON line.
    let dir = uptests(&[]);
    let pids = dir.path().join(".pids");
    write_files(
        dir.path(),
        &[
            ("1_ok", "#!/bin/sh\necho fine\n", 0o755),
            (
                "2_hang",
                &format!("#!/bin/sh\necho $$ >> {}\nsleep 1000\n", pids.display()),
                0o755,
            ),
            ("3_never", "#!/bin/sh\necho ran\n", 0o755),
        ],
    );
    let child = spawn(
        Command::new(exe())
            .arg(dir.path())
            .args(["h", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let give_up = Instant::now() + Duration::from_secs(30);
    while read_pids_or_none(&pids).is_empty() {
        assert!(Instant::now() < give_up, "the uptest never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "vuptest: interrupted by signal 2\n"
    );
    let items = json_line(&out.stdout);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["Name"], "1_ok");
    assert_eq!(items[0]["Output"], "fine\n");
    for pid in read_pids(&pids) {
        assert!(crate::process_gone(pid), "uptest {pid} survived SIGINT");
    }
}

fn read_pids_or_none(file: &std::path::Path) -> Vec<u32> {
    if file.exists() {
        read_pids(file)
    } else {
        Vec::new()
    }
}
