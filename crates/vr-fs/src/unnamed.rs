//! A file written in a folder without a name until it is complete ([`Unnamed`]), so that a
//! process killed outright (SIGKILL, the OOM killer, a power cut) leaves nothing behind in a
//! folder that is not its own: `O_TMPFILE` makes an inode with no name, which the kernel frees
//! when its last descriptor closes. [`Unnamed::persist`] links it in under a fresh temp name
//! and renames that over the final name, which replaces whatever entry is there (a planted
//! symlink or hard link included) without following or writing through it.
//!
//! On a file system without `O_TMPFILE` it falls back to a named temp file
//! (`<prefix>XXXXXXXX.part`, `O_CREAT | O_EXCL`, removed on drop), which a SIGKILL can leave.

use rustix::fs::{AtFlags, Mode, OFlags, CWD};
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file being written in a folder, not yet under its final name.
#[derive(Debug)]
pub struct Unnamed {
    file: File,
    dir: OwnedFd,
    prefix: String,
    /// The fallback's temp name in `dir`, when the file system has no `O_TMPFILE`.
    named: Option<PathBuf>,
}

/// Temp names: the pid, a counter and the clock make a collision unlikely; `O_EXCL` (or
/// `linkat`'s EEXIST) makes one harmless.
fn temp_name(prefix: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    PathBuf::from(format!(
        "{prefix}{:x}{n:x}{nanos:x}.part",
        std::process::id()
    ))
}

impl Unnamed {
    /// A new empty file in the folder `dir` with exactly `mode` (whatever the umask), opened
    /// for reading and writing. Temp names (of the fallback, and while persisting) start with
    /// `prefix`.
    pub fn new_in(dir: &Path, prefix: &str, mode: u32) -> io::Result<Unnamed> {
        let dir_fd = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let flags = OFlags::RDWR | OFlags::CLOEXEC;
        let (fd, named) = match rustix::fs::openat(
            &dir_fd,
            ".",
            flags | OFlags::TMPFILE,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => (fd, None),
            // No O_TMPFILE here (EISDIR: a kernel that does not know it).
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => loop {
                let name = temp_name(prefix);
                match rustix::fs::openat(
                    &dir_fd,
                    &name,
                    flags | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW,
                    Mode::from_raw_mode(0o600),
                ) {
                    Ok(fd) => break (fd, Some(name)),
                    Err(Errno::EXIST) => continue,
                    Err(e) => return Err(e.into()),
                }
            },
            Err(e) => return Err(e.into()),
        };
        // The inode is ours alone: fchmod sets the mode whatever the umask is.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        Ok(Unnamed {
            file: File::from(fd),
            dir: dir_fd,
            prefix: prefix.to_string(),
            named,
        })
    }

    pub fn as_file(&self) -> &File {
        &self.file
    }

    pub fn as_file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Whether the file has a (temp) name in its folder: only on the fallback.
    pub fn has_name(&self) -> bool {
        self.named.is_some()
    }

    /// Gives the file the name `to` (a path of the folder given to [`Unnamed::new_in`]: its
    /// last component is the name), replacing the entry there (but a folder). Sync it first
    /// for it to survive a crash. On error nothing is left under a temp name.
    pub fn persist(mut self, to: &Path) -> io::Result<()> {
        let name = to.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} names no file", to.display()),
            )
        })?;
        let temp = match self.named.take() {
            Some(temp) => temp,
            None => loop {
                let temp = temp_name(&self.prefix);
                // Through /proc, so that no CAP_DAC_READ_SEARCH is needed (AT_EMPTY_PATH).
                let proc_path = format!(
                    "/proc/self/fd/{}",
                    rustix::fd::AsRawFd::as_raw_fd(&self.file)
                );
                match rustix::fs::linkat(
                    CWD,
                    proc_path.as_str(),
                    &self.dir,
                    &temp,
                    AtFlags::SYMLINK_FOLLOW,
                ) {
                    Ok(()) => break temp,
                    Err(Errno::EXIST) => continue,
                    Err(e) => return Err(e.into()),
                }
            },
        };
        rustix::fs::renameat(&self.dir, &temp, &self.dir, name).map_err(|e| {
            let _ = rustix::fs::unlinkat(&self.dir, &temp, AtFlags::empty());
            io::Error::from(e)
        })
    }
}

impl Drop for Unnamed {
    fn drop(&mut self) {
        if let Some(temp) = self.named.take() {
            let _ = rustix::fs::unlinkat(self.dir.as_fd(), &temp, AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use vr_tests::names;

    #[test]
    fn it_has_no_name_until_persisted_then_replaces_a_symlink_without_following_it() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "host file\n").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("out")).unwrap();
        let mut f = Unnamed::new_in(tmp.path(), ".t-", 0o644).unwrap();
        f.as_file_mut().write_all(b"new\n").unwrap();
        // tmpfs and ext4 have O_TMPFILE: nothing is in the folder while it is written.
        assert!(!f.has_name());
        assert_eq!(names(tmp.path()), ["out", "victim"]);
        f.persist(Path::new("out")).unwrap();
        assert_eq!(names(tmp.path()), ["out", "victim"]);
        let out = tmp.path().join("out");
        assert!(!std::fs::symlink_metadata(&out).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new\n");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host file\n");
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn a_hard_link_at_the_name_is_replaced_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "host file\n").unwrap();
        std::fs::hard_link(&victim, tmp.path().join("out")).unwrap();
        let mut f = Unnamed::new_in(tmp.path(), ".t-", 0o600).unwrap();
        f.as_file_mut().write_all(b"new\n").unwrap();
        f.persist(Path::new("out")).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host file\n");
        assert_eq!(std::fs::metadata(&victim).unwrap().nlink(), 1);
    }

    #[test]
    fn dropped_unpersisted_it_leaves_nothing_and_reads_back_meanwhile() {
        let tmp = tempfile::tempdir().unwrap();
        let mut f = Unnamed::new_in(tmp.path(), ".t-", 0o644).unwrap();
        f.as_file_mut().write_all(b"abc").unwrap();
        f.as_file_mut().rewind().unwrap();
        let mut back = String::new();
        f.as_file_mut().read_to_string(&mut back).unwrap();
        assert_eq!(back, "abc");
        drop(f);
        assert_eq!(names(tmp.path()), Vec::<String>::new());
    }

    #[test]
    fn a_folder_at_the_name_is_refused_and_nothing_is_left() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("out")).unwrap();
        let f = Unnamed::new_in(tmp.path(), ".t-", 0o644).unwrap();
        assert!(f.persist(Path::new("out")).is_err());
        assert_eq!(names(tmp.path()), ["out"]);
    }

    #[test]
    fn the_name_is_the_last_component_of_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let f = Unnamed::new_in(tmp.path(), ".t-", 0o644).unwrap();
        f.persist(&tmp.path().join("out")).unwrap();
        assert_eq!(names(tmp.path()), ["out"]);
        let f = Unnamed::new_in(tmp.path(), ".t-", 0o644).unwrap();
        assert!(f.persist(Path::new("/")).is_err());
        assert_eq!(names(tmp.path()), ["out"]);
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(Unnamed::new_in(&tmp.path().join("nope"), ".t-", 0o644).is_err());
    }
}
