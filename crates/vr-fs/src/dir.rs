//! Making sure a directory exists below the root, and handles on subdirectories.

use crate::{sys, Beneath, Error, Kind, Op, Result};
use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;
use std::path::Path;

impl Beneath {
    /// Makes `rel` a real directory with `mode` and (when given) `owner`. The directories
    /// leading to it must exist and be real directories (a symlink is an error). The last one
    /// is created when missing; when it exists as anything but a directory (a symlink, a file,
    /// a device) that entry is removed without following it and a directory is created in its
    /// place. Owner and mode are then set on a descriptor of the directory itself (`fchown`
    /// before `fchmod`), never through a path. An existing directory keeps its contents.
    pub fn ensure_dir(&self, rel: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
        let op = Op::CreateDir;
        let split = self.split(op, rel)?;
        let rel = &split.rel;
        self.check_owner(op, rel, owner)?;
        let parent = self
            .open_parent(&split)
            .map_err(|e| self.fail(op, rel, e))?;
        let name = &split.name;
        let existing = sys::lstat_at(&parent, name).map_err(|e| self.fail(op, rel, e))?;
        match existing {
            Some(Kind::Dir) => {}
            other => {
                if other.is_some() {
                    match rustix::fs::unlinkat(&parent, name, AtFlags::empty()) {
                        Ok(()) | Err(Errno::NOENT) => {}
                        Err(e) => return Err(self.fail(op, rel, e)),
                    }
                }
                // 0700 until the owner and mode asked for are applied below.
                rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| self.fail(op, rel, e))?;
            }
        }
        // Opened with O_NOFOLLOW | O_DIRECTORY: if the entry was swapped for a symlink since,
        // this fails instead of reaching the link's target.
        let dir = sys::open_dir_at(&parent, name).map_err(|e| self.fail(op, rel, e))?;
        sys::set_owner_mode(&dir, owner, mode).map_err(|e| self.fail(op, rel, e))
    }

    /// The names in this handle's directory (not `.` and `..`), in no particular order.
    pub fn names(&self) -> Result<Vec<std::ffi::OsString>> {
        let fail = |e: rustix::io::Errno| Error::from_io(Op::Inspect, self.root.clone(), e.into());
        let mut dir = rustix::fs::Dir::read_from(&self.fd).map_err(fail)?;
        let mut names = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(fail)?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(
                    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name)
                        .to_os_string(),
                );
            }
        }
        Ok(names)
    }

    /// A handle on the subdirectory `rel`; no component may be a symlink and the last one must
    /// be a directory.
    pub fn open_dir(&self, rel: &Path) -> Result<Beneath> {
        let op = Op::OpenDir;
        let rel = self.split(op, rel)?.rel;
        let fd = sys::open_dir_beneath(&self.fd, &rel).map_err(|e| self.fail(op, &rel, e))?;
        Ok(Beneath {
            fd,
            root: self.root.join(&rel),
        })
    }
}
