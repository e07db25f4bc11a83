//! The script's output, stdout and stderr through one pipe (so they keep the order they were
//! written in), copied live to our stderr and into the build log.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;
use std::thread::JoinHandle;

/// A log file and the pipe that feeds it.
pub struct Tee {
    log: File,
    read: OwnedFd,
    write: Option<OwnedFd>,
}

/// The copying thread; [`Copier::finish`] waits for the end of the output.
pub struct Copier(JoinHandle<io::Result<()>>);

impl Tee {
    /// Creates a new log at `path` (replacing an old one, see [`create_log`]) and a pipe.
    pub fn create(path: &Path) -> io::Result<Tee> {
        let log = create_log(path)?;
        let (read, write) = nix::unistd::pipe().map_err(io::Error::from)?;
        Ok(Tee {
            log,
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

    /// Starts copying: pipe -> stderr + log.
    pub fn start(mut self) -> Copier {
        self.write = None;
        let mut read = File::from(self.read);
        let mut log = self.log;
        Copier(std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut stderr = io::stderr();
            loop {
                let n = match read.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                // The terminal going away must not stop the log.
                let _ = stderr.write_all(&buf[..n]);
                log.write_all(&buf[..n])?;
            }
            log.sync_all()
        }))
    }
}

/// Creates the log at `path` as a new file of its own, mode 0644.
///
/// vimage runs as root in a folder another user may write to, so whatever is at `path` may
/// have been planted: a symlink or a hard link to a file of root's that a plain
/// `File::create` would truncate and fill with the script's output, or a FIFO that would
/// block the open. An old regular file or symlink is unlinked (the entry itself, never what
/// it points to); anything else (a folder, a FIFO, a device, a socket) is refused and left
/// alone. The new file is created with `O_CREAT | O_EXCL | O_NOFOLLOW`: if an entry
/// reappears between the unlink and the create, creation fails rather than write through it.
fn create_log(path: &Path) -> io::Result<File> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() || meta.is_symlink() => match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        },
        Ok(meta) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "it is {}, not a log file; move it away and build again",
                    kind_of(meta.file_type())
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    create_new_log(path)
}

/// Creates `path` as a new file, mode 0644; fails when anything at all is there.
fn create_new_log(path: &Path) -> io::Result<File> {
    // std adds O_CLOEXEC; create_new is O_CREAT | O_EXCL.
    let log = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o644)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                io::Error::new(
                    e.kind(),
                    "something new appeared there while the old log was being removed; \
                     not writing through it",
                )
            } else {
                e
            }
        })?;
    // The file is ours (O_EXCL): fchmod on the descriptor sets 0644 whatever the umask is.
    log.set_permissions(fs::Permissions::from_mode(0o644))?;
    Ok(log)
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

impl Copier {
    /// Waits until the child's output ended and everything is in the log.
    pub fn finish(self) -> io::Result<()> {
        self.0
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("log copier panicked")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a panic is the failure report
    use super::*;
    use std::fs;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    /// A file someone else owns (here: the test's), content "host file", mode 0600.
    fn host_file(dir: &Path) -> std::path::PathBuf {
        let host = dir.join("host");
        fs::write(&host, "host file").unwrap();
        fs::set_permissions(&host, fs::Permissions::from_mode(0o600)).unwrap();
        host
    }

    fn write_log(path: &Path, text: &str) -> io::Result<()> {
        let mut tee = Tee::create(path)?;
        tee.log.write_all(text.as_bytes())
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

    #[test]
    fn a_new_log_is_created_0644() {
        let tmp = tempfile::tempdir().unwrap();
        let host = host_file(tmp.path());
        let log = tmp.path().join("x.log");
        write_log(&log, "one").unwrap();
        assert_fresh_log(&log, &host, "one");
    }

    #[test]
    fn an_old_log_is_replaced_not_appended_to() {
        let tmp = tempfile::tempdir().unwrap();
        let host = host_file(tmp.path());
        let log = tmp.path().join("x.log");
        fs::write(&log, "an older and longer build log").unwrap();
        fs::set_permissions(&log, fs::Permissions::from_mode(0o666)).unwrap();
        write_log(&log, "two").unwrap();
        assert_fresh_log(&log, &host, "two");
    }

    #[test]
    fn a_symlink_is_replaced_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let host = host_file(tmp.path());
        let log = tmp.path().join("x.log");
        std::os::unix::fs::symlink(&host, &log).unwrap();
        write_log(&log, "three").unwrap();
        assert_fresh_log(&log, &host, "three");
    }

    #[test]
    fn a_dangling_symlink_is_replaced_and_its_target_not_created() {
        let tmp = tempfile::tempdir().unwrap();
        let host = host_file(tmp.path());
        let log = tmp.path().join("x.log");
        let target = tmp.path().join("would-be-created");
        std::os::unix::fs::symlink(&target, &log).unwrap();
        write_log(&log, "four").unwrap();
        assert_fresh_log(&log, &host, "four");
        assert!(!target.exists());
    }

    #[test]
    fn a_hard_link_is_replaced_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let host = host_file(tmp.path());
        let log = tmp.path().join("x.log");
        fs::hard_link(&host, &log).unwrap();
        write_log(&log, "five").unwrap();
        assert_fresh_log(&log, &host, "five");
    }

    #[test]
    fn an_entry_raced_in_after_the_unlink_is_refused_not_written_through() {
        // The race itself cannot be timed from a test; create_new_log is the step after the
        // unlink, so an entry already there stands for one that appeared in between.
        let tmp = tempfile::tempdir().unwrap();
        let host = host_file(tmp.path());
        let sym = tmp.path().join("sym.log");
        std::os::unix::fs::symlink(&host, &sym).unwrap();
        let hard = tmp.path().join("hard.log");
        fs::hard_link(&host, &hard).unwrap();
        for log in [&sym, &hard] {
            let err = create_new_log(log).err().unwrap();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
            assert!(err.to_string().contains("not writing through it"), "{err}");
        }
        assert_eq!(fs::read_to_string(&host).unwrap(), "host file");
        assert_eq!(fs::metadata(&host).unwrap().mode() & 0o7777, 0o600);
    }

    #[test]
    fn a_folder_or_fifo_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("folder.log");
        fs::create_dir(&folder).unwrap();
        fs::write(folder.join("keep"), "kept").unwrap();
        let err = write_log(&folder, "x").err().unwrap();
        assert!(err.to_string().contains("is a folder"), "{err}");
        assert_eq!(fs::read_to_string(folder.join("keep")).unwrap(), "kept");

        let fifo = tmp.path().join("fifo.log");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Opening a FIFO for writing would block until a reader comes: refused before that.
        let err = write_log(&fifo, "x").err().unwrap();
        assert!(err.to_string().contains("is a FIFO"), "{err}");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }
}
