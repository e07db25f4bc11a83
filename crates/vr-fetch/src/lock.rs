//! A lock per cache entry: an exclusive `flock` on a lock file beside the entry, held for as
//! long as the [`EntryLock`] lives. Processes (and threads: each acquire opens its own file)
//! that lock the same path take turns.

use crate::error::{Error, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// An exclusive lock on a lock file, released when dropped. The file itself is left in place:
/// removing it would let two processes hold "the" lock on two different files.
pub struct EntryLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl EntryLock {
    /// Opens (creating if needed) `path` and waits for an exclusive lock on it.
    pub fn acquire(path: &Path) -> Result<EntryLock> {
        let lock_err = |source| Error::Lock {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(lock_err)?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| lock_err(std::io::Error::from(errno)))?;
        Ok(EntryLock {
            _lock: lock,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<path>.lock`: the lock file for the cache entry `path`.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn lock_path_appends_suffix() {
        assert_eq!(
            lock_path(Path::new("/apps/builds/b.tar.gz")),
            Path::new("/apps/builds/b.tar.gz.lock")
        );
    }

    #[test]
    fn holders_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry.lock");
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, inside, most) = (path.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    let _lock = EntryLock::acquire(&path).unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn acquire_names_the_lock_file() {
        let err = EntryLock::acquire(Path::new("/nonexistent/dir/x.lock"))
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "cannot lock /nonexistent/dir/x.lock");
    }
}
