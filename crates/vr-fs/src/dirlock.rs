//! Advisory locks on directories, which follow the directory across renames: a tree in use
//! (the image layer of a running container) is held shared, and whoever wants to remove it
//! must get it exclusively.

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::OwnedFd;
use std::path::Path;

/// A `flock` held on a directory until dropped.
#[derive(Debug)]
pub struct DirLock {
    _fd: OwnedFd,
}

fn open(path: &Path) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

impl std::os::fd::AsRawFd for DirLock {
    /// The held directory's descriptor: `/proc/self/fd/<it>` names the very directory that is
    /// held, whatever is renamed where since.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self._fd)
    }
}

impl DirLock {
    /// Holds `path` (a directory, not a symlink) shared, waiting while someone holds it
    /// exclusively.
    pub fn shared(path: &Path) -> std::io::Result<DirLock> {
        let fd = open(path)?;
        rustix::fs::flock(&fd, FlockOperation::LockShared)?;
        Ok(DirLock { _fd: fd })
    }

    /// A [`crate::Beneath`] on the held directory itself (its descriptor duplicated), whatever
    /// was renamed where since; `path` names it in messages.
    pub fn beneath(&self, path: &Path) -> crate::Result<crate::Beneath> {
        let fd = self
            ._fd
            .try_clone()
            .map_err(|e| crate::Error::from_io(crate::Op::OpenDir, path.to_path_buf(), e))?;
        Ok(crate::Beneath {
            fd,
            root: path.to_path_buf(),
        })
    }

    /// Holds `path` exclusively if no one holds it at all; None when someone does.
    pub fn try_exclusive(path: &Path) -> std::io::Result<Option<DirLock>> {
        let fd = open(path)?;
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(DirLock { _fd: fd })),
            Err(Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_hold_follows_the_directory_across_a_rename() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, moved) = (tmp.path().join("contents"), tmp.path().join(".contents.x"));
        std::fs::create_dir(&dir).unwrap();
        let held = DirLock::shared(&dir).unwrap();
        std::fs::rename(&dir, &moved).unwrap();
        assert!(DirLock::try_exclusive(&moved).unwrap().is_none());
        let _also = DirLock::shared(&moved).unwrap();
        drop(held);
        drop(_also);
        assert!(DirLock::try_exclusive(&moved).unwrap().is_some());
        std::os::unix::fs::symlink(&moved, tmp.path().join("link")).unwrap();
        assert!(
            DirLock::shared(&tmp.path().join("link")).is_err(),
            "no link followed"
        );
        // A handle on the held tree finds it under its new name.
        std::fs::write(moved.join("f"), "x").unwrap();
        let held = DirLock::shared(&moved).unwrap();
        std::fs::rename(&moved, tmp.path().join("again")).unwrap();
        let tree = held.beneath(Path::new("contents")).unwrap();
        assert_eq!(tree.names().unwrap(), ["f"]);
    }
}
