//! Moving a tree prepared elsewhere into place in one rename.

use crate::{Beneath, Op, Result};
use rustix::fs::RenameFlags;
use rustix::io::Errno;
use std::ffi::OsStr;
use std::path::Path;

impl Beneath {
    /// Puts the entry `name` of `from` (a directory only host code writes, e.g. a staging
    /// folder) at `rel` below this root in one rename. When `rel` exists it is exchanged
    /// (`RENAME_EXCHANGE`): the old entry then sits at `from/name`, to be removed or swapped
    /// back; returns whether that happened. The final components are never followed (a
    /// symlink at `rel` is exchanged as itself) and the directories leading to `rel` must not
    /// be symlinks.
    pub fn swap_in(&self, rel: &Path, from: &Beneath, name: &OsStr) -> Result<bool> {
        let op = Op::Write;
        let split = self.split(op, rel)?;
        let rel = &split.rel;
        let parent = self
            .open_parent(&split)
            .map_err(|e| self.fail(op, rel, e))?;
        match rustix::fs::renameat_with(&from.fd, name, &parent, &split.name, RenameFlags::EXCHANGE)
        {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => {
                rustix::fs::renameat_with(
                    &from.fd,
                    name,
                    &parent,
                    &split.name,
                    RenameFlags::NOREPLACE,
                )
                .map_err(|e| self.fail(op, rel, e))?;
                Ok(false)
            }
            Err(e) => Err(self.fail(op, rel, e)),
        }
    }
}
