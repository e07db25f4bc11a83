#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
use super::*;
use crate::pack::PackError;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use vr_stop::Interrupted;

#[test]
fn the_logs_status_line_says_what_happened() {
    let packed = Packed {
        path: PathBuf::from("/out/stack.tar.gz"),
        md5: "0123456789abcdef0123456789abcdef".to_string(),
        sha256: "ab".repeat(32),
        size: 1234,
    };
    assert_eq!(
        succeeded_line(&packed),
        format!(
            "vimage: build succeeded: wrote stack.tar.gz (1234 bytes, md5 \
             0123456789abcdef0123456789abcdef, sha256 {})",
            "ab".repeat(32)
        )
    );
    let script = |outcome| BuildError::ScriptFailed {
        script: "provision.sh".to_string(),
        outcome,
    };
    let cases = [
        (
            script(Outcome::Exited(3)),
            "the provisioning script exited 3",
        ),
        (
            script(Outcome::Signaled(9)),
            "the provisioning script was killed by signal 9",
        ),
        (Interrupted(15).into(), "interrupted by signal 15"),
        (
            BuildError::Pack(PackError::Write {
                path: PathBuf::from("/out/stack.tar.gz"),
                source: std::io::Error::from_raw_os_error(libc::ENOSPC),
            }),
            "packing failed: cannot write /out/stack.tar.gz: No space left on device \
             (os error 28)",
        ),
        (
            BuildError::NotStarted {
                base: "busybox".to_string(),
                code: 1,
            },
            "the container on busybox did not start (lxc-execute exited 1; LXC's messages \
             are above); no image was written",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(failed_line(&err), format!("vimage: build failed: {want}"));
    }
}

#[test]
fn stamps_are_elapsed_seconds_with_milliseconds() {
    for (ms, want) in [
        (0, "[    0.000s] "),
        (12_345, "[   12.345s] "),
        (999, "[    0.999s] "),
        (99_999_999, "[99999.999s] "),
        (100_000_000, "[100000.000s] "),
    ] {
        assert_eq!(stamp(Duration::from_millis(ms)), want);
    }
}

#[test]
fn each_line_gets_the_time_its_first_byte_came() {
    // (chunks as they came, at these milliseconds) -> the log
    struct Case {
        name: &'static str,
        chunks: &'static [(&'static [u8], u64)],
        want: &'static [u8],
    }
    let cases = [
        Case {
            name: "lines in one chunk share its time",
            chunks: &[(b"one\ntwo\n", 1500)],
            want: b"[    1.500s] one\n[    1.500s] two\n",
        },
        Case {
            name: "a line split over chunks is stamped once, when it began",
            chunks: &[(b"hal", 10), (b"f\nnext", 20), (b"\n", 30)],
            want: b"[    0.010s] half\n[    0.020s] next\n",
        },
        Case {
            name: "a partial last line is stamped too",
            chunks: &[(b"no newline", 7)],
            want: b"[    0.007s] no newline",
        },
        Case {
            name: "empty lines and bytes that are not UTF-8",
            chunks: &[(b"\n\xff\xfe\r\n", 0), (b"", 5)],
            want: b"[    0.000s] \n[    0.000s] \xff\xfe\r\n",
        },
    ];
    for c in cases {
        let mut lines = Lines {
            timestamps: true,
            start: Instant::now(),
            at_line_start: true,
        };
        let mut out = Vec::new();
        for (bytes, ms) in c.chunks {
            lines.push(bytes, Duration::from_millis(*ms), &mut out);
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(c.want),
            "{}",
            c.name
        );
    }
}

#[test]
fn without_timestamps_bytes_pass_unchanged() {
    let mut lines = Lines {
        timestamps: false,
        start: Instant::now(),
        at_line_start: true,
    };
    let mut out = Vec::new();
    lines.push(b"a\n\xffb", Duration::from_secs(3), &mut out);
    assert_eq!(out, b"a\n\xffb");
    assert!(!lines.at_line_start);
    lines.push(b"", Duration::from_secs(4), &mut out);
    assert!(!lines.at_line_start, "an empty read changes nothing");
    lines.push(b"\n", Duration::from_secs(4), &mut out);
    assert!(lines.at_line_start);
}

/// A file someone else owns (here: the test's), content "host file", mode 0600.
fn host_file(dir: &Path) -> PathBuf {
    let host = dir.join("host");
    fs::write(&host, "host file").unwrap();
    fs::set_permissions(&host, fs::Permissions::from_mode(0o600)).unwrap();
    host
}

/// A log of `name` in `dir` holding `text`, ended by `status`, finished as `ending`.
fn write_log(dir: &Path, name: &str, text: &str, ending: Ending) -> Result<PathBuf, BuildError> {
    let mut log = Log::create(dir, name, false)?;
    log.file.as_file_mut().write_all(text.as_bytes()).unwrap();
    log.lines.at_line_start = text.is_empty() || text.ends_with('\n');
    log.finish(ending, "vimage: build succeeded: status")
}

fn assert_fresh_log(log: &Path, host: &Path, text: &str) {
    assert_eq!(fs::read_to_string(host).unwrap(), "host file");
    let h = fs::metadata(host).unwrap();
    assert_eq!((h.mode() & 0o7777, h.nlink()), (0o600, 1));
    let m = fs::symlink_metadata(log).unwrap();
    assert!(m.file_type().is_file());
    assert_eq!(m.mode() & 0o7777, 0o644);
    assert_eq!(fs::read_to_string(log).unwrap(), text);
}

use vr_tests::names;

#[test]
fn a_new_log_is_created_0644_with_its_status_line_last() {
    let tmp = tempfile::tempdir().unwrap();
    let host = host_file(tmp.path());
    let path = write_log(tmp.path(), "x", "one", Ending::Succeeded).unwrap();
    assert_eq!(path, tmp.path().join("x.log"));
    assert_fresh_log(&path, &host, "one\nvimage: build succeeded: status\n");
    assert_eq!(names(tmp.path()), ["host", "x.log"], "no temp file left");
}

#[test]
fn the_status_line_is_stamped_too_and_stays_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::create(tmp.path(), "x", true).unwrap();
    let mut text = Vec::new();
    log.lines
        .push(b"partial", Duration::from_millis(1), &mut text);
    log.file.as_file_mut().write_all(&text).unwrap();
    let path = log.finish(Ending::Failed, "a\nb").unwrap();
    let got = fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 2, "{got:?}");
    assert_eq!(lines[0], "[    0.001s] partial");
    assert!(
        lines[1].starts_with('[') && lines[1].ends_with("s] a b"),
        "{got:?}"
    );
    assert!(got.ends_with('\n'));
}

#[test]
fn an_old_log_is_replaced_not_appended_to() {
    let tmp = tempfile::tempdir().unwrap();
    let host = host_file(tmp.path());
    let log = tmp.path().join("x.log");
    fs::write(&log, "an older and longer build log").unwrap();
    fs::set_permissions(&log, fs::Permissions::from_mode(0o666)).unwrap();
    write_log(tmp.path(), "x", "two\n", Ending::Succeeded).unwrap();
    assert_fresh_log(&log, &host, "two\nvimage: build succeeded: status\n");
}

#[test]
fn a_failed_log_leaves_the_old_log_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("x.log");
    fs::write(&old, "the image's own log\n").unwrap();
    let path = write_log(tmp.path(), "x", "it failed\n", Ending::Failed).unwrap();
    assert_eq!(path, tmp.path().join("x.failed.log"));
    assert_eq!(fs::read_to_string(&old).unwrap(), "the image's own log\n");
    assert!(fs::read_to_string(&path)
        .unwrap()
        .starts_with("it failed\n"));
    assert_eq!(names(tmp.path()), ["x.failed.log", "x.log"]);
    assert!(remove_failed_log(tmp.path(), "x").unwrap());
    assert!(!remove_failed_log(tmp.path(), "x").unwrap());
    assert_eq!(names(tmp.path()), ["x.log"]);
}

#[test]
fn a_symlink_is_replaced_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let host = host_file(tmp.path());
    for (name, ending) in [("x", Ending::Succeeded), ("y", Ending::Failed)] {
        let log = log_path(tmp.path(), name, ending);
        std::os::unix::fs::symlink(&host, &log).unwrap();
        write_log(tmp.path(), name, "three\n", ending).unwrap();
        assert_fresh_log(&log, &host, "three\nvimage: build succeeded: status\n");
    }
}

#[test]
fn a_dangling_symlink_is_replaced_and_its_target_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let host = host_file(tmp.path());
    let log = tmp.path().join("x.log");
    let target = tmp.path().join("would-be-created");
    std::os::unix::fs::symlink(&target, &log).unwrap();
    write_log(tmp.path(), "x", "four\n", Ending::Succeeded).unwrap();
    assert_fresh_log(&log, &host, "four\nvimage: build succeeded: status\n");
    assert!(!target.exists());
}

#[test]
fn a_hard_link_is_replaced_not_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let host = host_file(tmp.path());
    let log = tmp.path().join("x.log");
    fs::hard_link(&host, &log).unwrap();
    write_log(tmp.path(), "x", "five\n", Ending::Succeeded).unwrap();
    assert_fresh_log(&log, &host, "five\nvimage: build succeeded: status\n");
}

#[test]
fn removing_a_stale_failed_log_unlinks_a_symlink_not_its_target() {
    let tmp = tempfile::tempdir().unwrap();
    let host = host_file(tmp.path());
    std::os::unix::fs::symlink(&host, tmp.path().join("x.failed.log")).unwrap();
    assert!(remove_failed_log(tmp.path(), "x").unwrap());
    assert_eq!(names(tmp.path()), ["host"]);
    assert_eq!(fs::read_to_string(&host).unwrap(), "host file");
}

#[test]
fn an_unfinished_log_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("x.log"), "old\n").unwrap();
    let mut log = Log::create(tmp.path(), "x", false).unwrap();
    log.file.as_file_mut().write_all(b"half a log").unwrap();
    let named = usize::from(log.file.has_name());
    assert_eq!(
        names(tmp.path()).len(),
        1 + named,
        "the log has no name yet"
    );
    drop(log);
    assert_eq!(names(tmp.path()), ["x.log"]);
    assert_eq!(
        fs::read_to_string(tmp.path().join("x.log")).unwrap(),
        "old\n"
    );
}

#[test]
fn a_folder_or_fifo_at_either_name_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("folder.log");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("keep"), "kept").unwrap();
    let err = Log::create(tmp.path(), "folder", false).err().unwrap();
    let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(msg.contains(&folder.display().to_string()), "{msg}");
    assert!(msg.contains("is a folder"), "{msg}");
    assert_eq!(fs::read_to_string(folder.join("keep")).unwrap(), "kept");

    let fifo = tmp.path().join("fifo.failed.log");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = Log::create(tmp.path(), "fifo", false).err().unwrap();
    let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(msg.contains("fifo.failed.log: it is a FIFO"), "{msg}");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(
        names(tmp.path()),
        ["fifo.failed.log", "folder.log"],
        "no temp file"
    );
}

/// A terminal that keeps what it is shown.
#[derive(Clone, Default)]
struct Shown(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for Shown {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_copier_stamps_what_the_child_writes_and_shows_it_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::create(tmp.path(), "x", true).unwrap();
    let tee = Tee::new(&log).unwrap();
    let (out, err) = tee.child_stdio().unwrap();
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", "echo out; echo err >&2; printf 'tail'"])
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let shown = Shown::default();
    let copier = tee.start_to(shown.clone());
    child.wait().unwrap();
    copier.finish(&mut log).unwrap();
    assert_eq!(*shown.0.lock().unwrap(), b"out\nerr\ntail");
    let path = log.finish(Ending::Succeeded, "done").unwrap();
    let got = fs::read_to_string(path).unwrap();
    let bodies: Vec<&str> = got
        .lines()
        .map(|l| {
            assert!(l.starts_with('[') && l[..13].ends_with("s] "), "{got:?}");
            &l[13..]
        })
        .collect();
    assert_eq!(bodies, ["out", "err", "tail", "done"]);
}
