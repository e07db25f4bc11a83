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

    /// What `lstat` says of the entry at `rel` (the root itself when `rel` is empty), never
    /// following it; `None` when it (or a directory leading to it) does not exist. An error
    /// when a component leading to it is a symlink.
    pub fn metadata(&self, rel: &Path) -> Result<Option<Meta>> {
        let op = Op::Inspect;
        if rel.as_os_str().is_empty() {
            let stat = rustix::fs::fstat(&self.fd).map_err(|e| self.fail(op, rel, e))?;
            return Ok(Some(Meta::of(&stat)));
        }
        let split = self.split(op, rel)?;
        let parent = match self.open_parent(&split) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.fail(op, &split.rel, e)),
        };
        match rustix::fs::statat(&parent, &split.name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(Meta::of(&stat))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.fail(op, &split.rel, e)),
        }
    }

    /// Sets the modification time of the entry at `rel` (the root itself when empty) to
    /// `mtime` (seconds, nanoseconds), without following it; its access time is left alone.
    pub fn set_mtime(&self, rel: &Path, mtime: (i64, i64)) -> Result<()> {
        use rustix::fs::{AtFlags, Timespec, Timestamps, UTIME_OMIT};
        let op = Op::Write;
        let times = Timestamps {
            last_access: Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_OMIT,
            },
            last_modification: Timespec {
                tv_sec: mtime.0,
                tv_nsec: mtime.1 as _,
            },
        };
        if rel.as_os_str().is_empty() {
            return rustix::fs::futimens(&self.fd, &times).map_err(|e| self.fail(op, rel, e));
        }
        let split = self.split(op, rel)?;
        let parent = self
            .open_parent(&split)
            .map_err(|e| self.fail(op, &split.rel, e))?;
        rustix::fs::utimensat(&parent, &split.name, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.fail(op, &split.rel, e))
    }
}

/// What [`Beneath::metadata`] tells of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// What it is.
    pub kind: Kind,
    /// Its size in bytes.
    pub size: u64,
    /// Its permission bits (with setuid, setgid and sticky).
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// Its modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
}

impl Meta {
    fn of(stat: &rustix::fs::Stat) -> Meta {
        Meta {
            kind: sys::kind_of(stat.st_mode),
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mode: stat.st_mode & 0o7777,
            uid: stat.st_uid,
            gid: stat.st_gid,
            mtime: (stat.st_mtime, stat.st_mtime_nsec as i64),
        }
    }
}
