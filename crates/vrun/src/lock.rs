//! The proc.yaml lock: an exclusive, non-blocking flock on the file itself, held by setup,
//! run (for as long as the proc runs) and teardown.

use crate::Stop;
use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

/// Holds the lock until dropped.
pub struct ProcLock {
    _lock: Flock<File>,
}

/// Takes the lock on `file` or fails at once with [`Stop::Locked`].
pub fn lock(file: &Path) -> Result<ProcLock, Stop> {
    let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(ProcLock { _lock: lock }),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(Stop::Locked(file.to_path_buf())),
        Err((_, errno)) => Err(anyhow::Error::new(errno)
            .context(format!("cannot lock {}", file.display()))
            .into()),
    }
}
