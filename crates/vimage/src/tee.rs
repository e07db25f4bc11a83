//! The build log: the script's output, stdout and stderr through one pipe (so they keep the
//! order they were written in), copied live to our stderr and into the log (each line
//! prefixed with the time since the script started, with `--timestamps`), and ended by one
//! status line of vimage's, [`succeeded_line`] or [`failed_line`].
//!
//! The log is written to a file with no name yet in the output folder ([`vr_fs::Unnamed`]:
//! `O_TMPFILE`, so a vimage killed outright leaves nothing there) and named when the build
//! ends: to `<name>.log` after a successful build (once the tarball is
//! in place), to `<name>.failed.log` after a failed one, so that the log beside an image is
//! always that image's. A log that is dropped unfinished (an error on the way, a panic) takes
//! its file with it.
//!
//! vimage runs as root in a folder another user may write to, so whatever is at a final name
//! may have been planted there: a symlink or a hard link to a file of root's, a FIFO. Nothing
//! is ever opened by a final name: the log is a new inode, linked in under a temp name and
//! renamed over the old entry, which replaces a symlink or a hard link and never
//! writes through it. A folder, FIFO, socket or device at a final name is refused before the
//! build starts and left alone.

use crate::error::{chain, io_err, BuildError};
use crate::pack::Packed;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vr_lxc::Outcome;

/// How the status line of a successful build starts (after the timestamp, with
/// `--timestamps`): `vimage: build succeeded: wrote NAME.tar.gz (SIZE bytes, md5 X, sha256 Y)`.
pub const STATUS_SUCCEEDED: &str = "vimage: build succeeded: ";
/// How the status line of a failed build starts: `vimage: build failed: the provisioning
/// script exited 3`.
pub const STATUS_FAILED: &str = "vimage: build failed: ";

/// The status line that ends the log of a successful build.
pub fn succeeded_line(packed: &Packed) -> String {
    let name = packed
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "{STATUS_SUCCEEDED}wrote {name} ({} bytes, md5 {}, sha256 {})",
        packed.size, packed.md5, packed.sha256
    )
}

/// The status line that ends the log of a build that failed with `err`.
pub fn failed_line(err: &BuildError) -> String {
    let what = match err {
        BuildError::ScriptFailed {
            outcome: Outcome::Exited(code),
            ..
        } => format!("the provisioning script exited {code}"),
        BuildError::ScriptFailed {
            outcome: Outcome::Signaled(signal),
            ..
        } => format!("the provisioning script was killed by signal {signal}"),
        BuildError::Interrupted(stop) => stop.to_string(),
        BuildError::Pack(e) => format!("packing failed: {}", chain(e)),
        other => chain(other),
    };
    format!("{STATUS_FAILED}{what}")
}

/// How a build ended, which names its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `<name>.log`.
    Succeeded,
    /// `<name>.failed.log`.
    Failed,
}

/// The final name of the log of the build `name` in `dir` that ended so.
pub fn log_path(dir: &Path, name: &str, ending: Ending) -> PathBuf {
    match ending {
        Ending::Succeeded => dir.join(format!("{name}.log")),
        Ending::Failed => dir.join(format!("{name}.failed.log")),
    }
}

/// Where the log's lines stand: the optional timestamps, and whether the next byte starts a
/// line (it gets the prefix; the status line needs a newline before it when not).
#[derive(Debug, Clone, Copy)]
struct Lines {
    /// `--timestamps`.
    timestamps: bool,
    /// What the timestamps count from: the start of the script.
    start: Instant,
    /// The last byte written was a newline (or nothing was written yet).
    at_line_start: bool,
}

impl Lines {
    /// Appends `bytes` to `out`, each line that starts in them prefixed with [`stamp`] of
    /// `elapsed` when timestamps are on. Bytes are bytes: only `\n` ends a line.
    fn push(&mut self, bytes: &[u8], elapsed: Duration, out: &mut Vec<u8>) {
        if !self.timestamps {
            out.extend_from_slice(bytes);
            if let Some(last) = bytes.last() {
                self.at_line_start = *last == b'\n';
            }
            return;
        }
        let prefix = stamp(elapsed);
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            if self.at_line_start {
                out.extend_from_slice(prefix.as_bytes());
            }
            out.extend_from_slice(piece);
            self.at_line_start = piece.last() == Some(&b'\n');
        }
    }
}

/// The prefix `[   12.345s] ` of a line that started `elapsed` after the script: seconds with
/// milliseconds, right-aligned in 9 characters (wider after 27 hours).
pub fn stamp(elapsed: Duration) -> String {
    let ms = elapsed.as_millis();
    format!("[{:5}.{:03}s] ", ms / 1000, ms % 1000)
}

/// A build's log, being written in the output folder, with no name yet.
pub struct Log {
    file: vr_fs::Unnamed,
    dir: PathBuf,
    name: String,
    lines: Lines,
}

impl Log {
    /// Starts the log of the build `name` in `dir`. Refuses (and leaves alone) a folder, FIFO,
    /// socket or device at either final name; a file or symlink there stays until
    /// [`Log::finish`] renames over it.
    pub fn create(dir: &Path, name: &str, timestamps: bool) -> Result<Log, BuildError> {
        for ending in [Ending::Succeeded, Ending::Failed] {
            let path = log_path(dir, name, ending);
            check_final(&path).map_err(io_err("write the log", &path))?;
        }
        let path = log_path(dir, name, Ending::Succeeded);
        // Mode 0644 whatever the umask is.
        let file = vr_fs::Unnamed::new_in(dir, ".vimage-", 0o644)
            .map_err(io_err("create a temp file for the log", &path))?;
        Ok(Log {
            file,
            dir: dir.to_path_buf(),
            name: name.to_string(),
            lines: Lines {
                timestamps,
                start: Instant::now(),
                at_line_start: true,
            },
        })
    }

    /// Its name after a successful build, for messages.
    pub fn path(&self) -> PathBuf {
        log_path(&self.dir, &self.name, Ending::Succeeded)
    }

    /// The folder it goes to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The build's `new_image_name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ends the log with `status` (one line: a newline in it becomes a space, and one is put
    /// before it when the output ended in the middle of a line), syncs it and renames it to
    /// its final name for `ending`, which it returns. On error the temp file is removed.
    pub fn finish(mut self, ending: Ending, status: &str) -> Result<PathBuf, BuildError> {
        let path = log_path(&self.dir, &self.name, ending);
        let mut text = Vec::new();
        let elapsed = self.lines.start.elapsed();
        if !self.lines.at_line_start {
            self.lines.push(b"\n", elapsed, &mut text);
        }
        let line = format!("{}\n", status.replace(['\n', '\r'], " "));
        self.lines.push(line.as_bytes(), elapsed, &mut text);
        let file = self.file.as_file_mut();
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(io_err("write the log", &path))?;
        // rename(2) replaces whatever non-folder entry is there, a planted link included,
        // without following it.
        self.file
            .persist(&path)
            .map_err(io_err("put the log in place at", &path))?;
        Ok(path)
    }
}

/// Removes the `<name>.failed.log` of an earlier build from `dir` (the entry itself, never
/// what it may link to); says whether there was one. Anything there but a file or a symlink
/// is left alone.
pub fn remove_failed_log(dir: &Path, name: &str) -> Result<bool, BuildError> {
    let path = log_path(dir, name, Ending::Failed);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() || meta.is_symlink() => match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("remove the stale log", &path)(e)),
        },
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("remove the stale log", &path)(e)),
    }
}

/// Nothing, a file or a symlink at `path` is fine (a rename replaces them); anything else is
/// an error saying what it is.
fn check_final(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() || meta.is_symlink() => Ok(()),
        Ok(meta) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "it is {}, not a log file; move it away and build again",
                kind_of(meta.file_type())
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// "a folder", "a FIFO", ...: what stands where a log was to go.
fn kind_of(ft: fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a folder"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device node"
    } else {
        "something other than a file"
    }
}

/// The pipe that feeds a [`Log`].
pub struct Tee {
    log: File,
    lines: Lines,
    read: OwnedFd,
    write: Option<OwnedFd>,
}

/// The copying thread; [`Copier::finish`] waits for the end of the output.
pub struct Copier {
    thread: JoinHandle<(Lines, io::Result<()>)>,
    start: Instant,
}

impl Tee {
    /// A pipe whose output will go into `log` (appended to what it holds).
    pub fn new(log: &Log) -> io::Result<Tee> {
        let file = log.file.as_file().try_clone()?;
        let (read, write) = nix::unistd::pipe().map_err(io::Error::from)?;
        Ok(Tee {
            log: file,
            lines: log.lines,
            read,
            write: Some(write),
        })
    }

    /// Stdout and stderr for the child: both the pipe's write end. Our own copy is given away,
    /// so the reader sees EOF when the child's side closes.
    pub fn child_stdio(&self) -> io::Result<(Stdio, Stdio)> {
        let write = self
            .write
            .as_ref()
            .ok_or_else(|| io::Error::other("pipe already handed out"))?;
        Ok((
            Stdio::from(write.try_clone()?),
            Stdio::from(write.try_clone()?),
        ))
    }

    /// Starts copying: pipe -> stderr as it comes, and into the log with the timestamps (which
    /// count from now: call it when the script starts).
    pub fn start(self) -> Copier {
        self.start_to(io::stderr())
    }

    /// [`Tee::start`], the output shown on `terminal` instead of stderr.
    fn start_to(mut self, mut terminal: impl Write + Send + 'static) -> Copier {
        self.write = None;
        let mut read = File::from(self.read);
        let mut log = self.log;
        let start = Instant::now();
        let mut lines = Lines {
            start,
            ..self.lines
        };
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut text = Vec::with_capacity(buf.len());
            let copied = loop {
                let n = match read.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => break Err(e),
                };
                // The terminal going away must not stop the log.
                let _ = terminal.write_all(&buf[..n]);
                text.clear();
                lines.push(&buf[..n], start.elapsed(), &mut text);
                if let Err(e) = log.write_all(&text) {
                    break Err(e);
                }
            };
            (lines, copied)
        });
        Copier { thread, start }
    }
}

impl Copier {
    /// Waits until the child's output ended and everything is in the log; `log` learns where
    /// its lines stand.
    pub fn finish(self, log: &mut Log) -> io::Result<()> {
        match self.thread.join() {
            Ok((lines, copied)) => {
                log.lines = lines;
                copied
            }
            Err(_) => {
                // Where it stopped is not known: the status line goes on a line of its own.
                log.lines.start = self.start;
                log.lines.at_line_start = false;
                Err(io::Error::other("log copier panicked"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
    fn write_log(
        dir: &Path,
        name: &str,
        text: &str,
        ending: Ending,
    ) -> Result<PathBuf, BuildError> {
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

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

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
}
