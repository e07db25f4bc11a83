//! The locks of setup, run (for as long as the proc runs) and teardown: an exclusive,
//! non-blocking flock on the proc.yaml itself, and one on the proc's folder, so that two
//! proc.yaml files naming the same container cannot set it up, run it or remove it at once
//! (a second setup would rewrite the layer of a running proc).

use crate::Stop;
use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

/// Holds the locks until dropped.
pub struct ProcLock {
    _file: Flock<File>,
    _dir: Option<Flock<File>>,
}

/// Whether [`lock`] creates the proc's folder to lock it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    /// Create it (setup).
    Create,
    /// Lock it only if it exists (run, teardown).
    IfThere,
}

/// Takes the lock on `file`, then on the proc folder `dir`, or fails at once with
/// [`Stop::Locked`] naming whichever is held.
pub fn lock(file: &Path, dir: &Path, folder: Folder) -> Result<ProcLock, Stop> {
    let file_lock = flock(file)?;
    if folder == Folder::Create {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let dir_lock = if dir.is_dir() {
        Some(flock(dir)?)
    } else {
        None
    };
    Ok(ProcLock {
        _file: file_lock,
        _dir: dir_lock,
    })
}

fn flock(path: &Path) -> Result<Flock<File>, Stop> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(Stop::Locked(path.to_path_buf())),
        Err((_, errno)) => Err(anyhow::Error::new(errno)
            .context(format!("cannot lock {}", path.display()))
            .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_and_the_folder_are_both_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a.yaml"), tmp.path().join("b.yaml"));
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let dir = tmp.path().join("procs/x");
        let held = lock(&a, &dir, Folder::Create).unwrap();
        assert!(dir.is_dir());
        // The same file: its lock is named.
        match lock(&a, &dir, Folder::IfThere) {
            Err(Stop::Locked(p)) => assert_eq!(p, a),
            other => panic!("{:?}", other.map(|_| ())),
        }
        // Another file naming the same proc: the folder's lock is named.
        match lock(&b, &dir, Folder::IfThere) {
            Err(Stop::Locked(p)) => assert_eq!(p, dir),
            other => panic!("{:?}", other.map(|_| ())),
        }
        drop(held);
        let again = lock(&b, &dir, Folder::IfThere).unwrap();
        drop(again);
        // No folder, nothing to lock there.
        std::fs::remove_dir(&dir).unwrap();
        lock(&b, &dir, Folder::IfThere).unwrap();
        assert!(!dir.exists());
    }
}
