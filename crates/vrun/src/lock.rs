//! The locks of setup, run (for as long as the proc runs) and teardown: an exclusive,
//! non-blocking flock on the proc.yaml itself, and one on the proc's folder, so that two
//! proc.yaml files naming the same container cannot set it up, run it or remove it at once
//! (a second setup would rewrite the layer of a running proc).

use crate::Failure;
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
/// [`Failure::Locked`] naming whichever is held.
pub fn lock(file: &Path, dir: &Path, folder: Folder) -> Result<ProcLock, Failure> {
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

fn flock(path: &Path) -> Result<Flock<File>, Failure> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(Failure::Locked(path.to_path_buf())),
        Err((_, errno)) => Err(anyhow::Error::new(errno)
            .context(format!("cannot lock {}", path.display()))
            .into()),
    }
}

/// Opens (creating, mode 0600) the lock file `path`, in a folder only host root writes; a link
/// there is not followed.
pub fn open_lock_file(path: &Path) -> anyhow::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// The file in the proc's folder that uptests and shells of the proc lock shared, and setup
/// and teardown exclusively.
pub const USERS_LOCK: &str = ".users.lock";

/// How [`users`] locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// An uptest or a shell: any number at once, and while the proc runs.
    Shared,
    /// Setup or teardown: alone.
    Exclusive,
}

/// Locks the proc's users lock in `dir` (none when the folder does not exist), or fails at
/// once with a message saying who holds it.
pub fn users(dir: &Path, name: &str, how: Use) -> anyhow::Result<Option<Flock<File>>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let path = dir.join(USERS_LOCK);
    let file = open_lock_file(&path)?;
    let arg = match how {
        Use::Shared => FlockArg::LockSharedNonblock,
        Use::Exclusive => FlockArg::LockExclusiveNonblock,
    };
    match Flock::lock(file, arg) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(match how {
            Use::Exclusive => anyhow::anyhow!(
                "{name} is in use by a running `vrun uptest` or `vrun shell`: try again once it has ended"
            ),
            Use::Shared => anyhow::anyhow!(
                "{name} is being set up or torn down: try again once that is done"
            ),
        }),
        Err((_, errno)) => {
            Err(anyhow::Error::new(errno).context(format!("cannot lock {}", path.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_share_and_setup_or_teardown_excludes() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        assert!(users(&d.join("none"), "p", Use::Exclusive)
            .unwrap()
            .is_none());
        let a = users(d, "p", Use::Shared).unwrap();
        let b = users(d, "p", Use::Shared).unwrap();
        assert!(a.is_some() && b.is_some());
        let err = users(d, "p", Use::Exclusive).unwrap_err();
        assert_eq!(
            err.to_string(),
            "p is in use by a running `vrun uptest` or `vrun shell`: try again once it has ended"
        );
        drop((a, b));
        let x = users(d, "p", Use::Exclusive).unwrap();
        assert_eq!(
            users(d, "p", Use::Shared).unwrap_err().to_string(),
            "p is being set up or torn down: try again once that is done"
        );
        drop(x);
    }

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
            Err(Failure::Locked(p)) => assert_eq!(p, a),
            other => panic!("{:?}", other.map(|_| ())),
        }
        // Another file naming the same proc: the folder's lock is named.
        match lock(&b, &dir, Folder::IfThere) {
            Err(Failure::Locked(p)) => assert_eq!(p, dir),
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
