//! Atomic replacement of a file below the root.

use crate::{sys, Beneath, Error, Kind, Op, Result};
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// How many random temp names are tried before giving up on `EEXIST` (each has 64 random bits,
/// so only a planted name can collide, and it cannot be guessed).
const TEMP_TRIES: usize = 8;

impl Beneath {
    /// Replaces the file at `rel` with `data`, atomically: a temp file with a random name is
    /// created in the same directory (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600), written,
    /// given `owner` (`fchown`, when asked) and then `mode` (`fchmod`, after `fchown`, which
    /// clears setuid bits), and renamed over `rel`. Whatever is at `rel` (a symlink, a file, a
    /// hard link to a host file) is replaced as an entry and never written through; a directory
    /// there is an error. The directories leading to `rel` must exist and none may be a
    /// symlink. On any failure the temp file is removed.
    pub fn write_file(
        &self,
        rel: &Path,
        data: &[u8],
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<()> {
        let op = Op::Write;
        let split = self.split(op, rel)?;
        let rel = &split.rel;
        self.check_owner(op, rel, owner)?;
        let parent = self
            .open_parent(&split)
            .map_err(|e| self.fail(op, rel, e))?;
        match sys::lstat_at(&parent, &split.name) {
            Ok(Some(Kind::Dir)) => {
                return Err(self.wrong_kind(op, rel, Kind::Dir, "a regular file"));
            }
            Ok(_) => {}
            Err(e) => return Err(self.fail(op, rel, e)),
        }
        let (temp_name, temp) =
            create_temp(&parent, &split.name).map_err(|e| self.fail(op, rel, e))?;
        let filled = fill(temp, data, mode, owner).and_then(|()| {
            rustix::fs::renameat(&parent, &temp_name, &parent, &split.name).map_err(Into::into)
        });
        let Err(failure) = filled else {
            return Ok(());
        };
        let error = match Errno::from_io_error(&failure) {
            Some(Errno::ISDIR) => self.wrong_kind(op, rel, Kind::Dir, "a regular file"),
            _ => self.fail(op, rel, failure),
        };
        match rustix::fs::unlinkat(&parent, &temp_name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Err(error),
            Err(cleanup) => Err(Error::Cleanup {
                temp: self.root.join(rel.with_file_name(&temp_name)),
                cleanup: cleanup.into(),
                error: Box::new(error),
            }),
        }
    }
}

/// Creates a new temp file next to `name` in `parent`, never opening an existing entry.
fn create_temp(parent: &OwnedFd, name: &OsStr) -> rustix::io::Result<(OsString, OwnedFd)> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut tries = 0;
    loop {
        let temp_name = sys::temp_name(name)?;
        match rustix::fs::openat(parent, &temp_name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => return Ok((temp_name, fd)),
            Err(Errno::EXIST) if tries < TEMP_TRIES => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `data` into the temp file, then applies owner and mode to its descriptor.
fn fill(temp: OwnedFd, data: &[u8], mode: u32, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    let mut file = std::fs::File::from(temp);
    file.write_all(data)?;
    sys::set_owner_mode(file.as_fd(), owner, mode)?;
    Ok(())
}
