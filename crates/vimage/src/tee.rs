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
#[path = "tee_tests.rs"]
mod tests;
