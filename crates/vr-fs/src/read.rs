//! Reading a file and looking at an entry below the root.

use crate::{sys, Beneath, Error, Kind, Op, Result};
use rustix::fs::OFlags;
use rustix::io::Errno;
use std::io::Read;
use std::path::Path;

impl Beneath {
    /// Reads the regular file at `rel`, at most `max_bytes` long. `None` when it (or a
    /// directory leading to it) does not exist. An error when any component is a symlink, when
    /// the entry is not a regular file (a named pipe, a device or a directory is named as
    /// such; a named pipe never blocks the call), or when it is larger than `max_bytes`.
    pub fn read_file(&self, rel: &Path, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        let op = Op::Read;
        let rel = self.split(op, rel)?.rel;
        // Look through an O_PATH descriptor first: opening a device for reading can have side
        // effects, and an O_PATH open has none.
        let probe = match sys::open_beneath(&self.fd, &rel, OFlags::PATH) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.fail(op, &rel, e)),
        };
        let kind = sys::fd_kind(&probe).map_err(|e| self.fail(op, &rel, e))?;
        if kind != Kind::File {
            return Err(self.wrong_kind(op, &rel, kind, "a regular file"));
        }
        drop(probe);
        // The entry may have been swapped since; O_NONBLOCK keeps a named pipe from blocking
        // the open, and the fstat below catches the swap.
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = match sys::open_beneath(&self.fd, &rel, flags) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.fail(op, &rel, e)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| self.fail(op, &rel, e))?;
        let kind = sys::kind_of(stat.st_mode);
        if kind != Kind::File {
            return Err(self.wrong_kind(op, &rel, kind, "a regular file"));
        }
        let too_large = || Error::TooLarge {
            path: self.root.join(&rel),
            limit: max_bytes,
        };
        if u64::try_from(stat.st_size).unwrap_or(0) > max_bytes {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        std::fs::File::from(fd)
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| self.fail(op, &rel, e))?;
        if bytes.len() as u64 > max_bytes {
            return Err(too_large());
        }
        Ok(Some(bytes))
    }

    /// What the entry at `rel` is, without following it (a symlink is [`Kind::Symlink`]);
    /// `None` when it (or a directory leading to it) does not exist. An error when a component
    /// leading to it is a symlink.
    pub fn entry_kind(&self, rel: &Path) -> Result<Option<Kind>> {
        let op = Op::Inspect;
        let split = self.split(op, rel)?;
        let parent = match self.open_parent(&split) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.fail(op, &split.rel, e)),
        };
        sys::lstat_at(&parent, &split.name).map_err(|e| self.fail(op, &split.rel, e))
    }
}
