//! Removing a file or a whole tree below the root without following a symlink.

use crate::{sys, Beneath, Kind, Op, Result};
use rustix::fs::{AtFlags, Dir, FileType};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How many directory descriptors one removal keeps open at most. A hostile tree can be
/// nested deeper than the process may open files; beyond this depth the oldest descriptors are
/// closed and reopened by name (one component at a time, `O_NOFOLLOW`) when needed again.
const MAX_OPEN_DIRS: usize = 64;

impl Beneath {
    /// Removes the entry at `rel`: a file, a symlink (the link itself, never its target) or a
    /// whole directory tree, walking it with directory descriptors and `unlinkat` so that no
    /// symlink inside is ever followed. A missing entry (or missing parent) is fine. An error
    /// when a component leading to `rel` is a symlink.
    pub fn remove_tree(&self, rel: &Path) -> Result<()> {
        let op = Op::Remove;
        let split = self.split(op, rel)?;
        let rel = &split.rel;
        let parent = match self.open_parent(&split) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(self.fail(op, rel, e)),
        };
        let name = &split.name;
        let flags = match sys::lstat_at(&parent, name) {
            Ok(None) => return Ok(()),
            Ok(Some(Kind::Dir)) => {
                let top = match sys::open_dir_at(&parent, name) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) => return Ok(()),
                    Err(e) => return Err(self.fail(op, rel, e)),
                };
                empty_dir(top).map_err(|e| self.fail(op, rel, e))?;
                AtFlags::REMOVEDIR
            }
            Ok(Some(_)) => AtFlags::empty(),
            Err(e) => return Err(self.fail(op, rel, e)),
        };
        match rustix::fs::unlinkat(&parent, name, flags) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(self.fail(op, rel, e)),
        }
    }
}

/// One directory being emptied below the top one: its name in the directory above, and its
/// open listing (closed when too many are open; see [`MAX_OPEN_DIRS`]).
struct Frame {
    name: OsString,
    dir: Option<Dir>,
}

/// Removes everything inside the directory `top`, depth first, without recursion (a hostile
/// tree may be deeper than the stack).
fn empty_dir(top: OwnedFd) -> rustix::io::Result<()> {
    let mut top = Dir::new(top)?;
    let mut stack: Vec<Frame> = Vec::new();
    // Frames `first_open..` have an open listing; those before it were closed to save
    // descriptors. `reopen` refills a tail of the stack, so the open ones stay a suffix.
    let mut first_open = 0;
    loop {
        let dir = match stack.last_mut() {
            Some(frame) => frame.dir.as_mut().ok_or(Errno::BADF)?,
            None => &mut top,
        };
        let entry = match dir.read() {
            Some(entry) => entry?,
            None => {
                // This directory is empty now: remove it from the one above.
                let Some(done) = stack.pop() else {
                    return Ok(());
                };
                drop(done.dir);
                first_open = first_open.min(stack.len());
                if !stack.is_empty() && first_open == stack.len() {
                    first_open = reopen(&top, &mut stack)?;
                }
                let above = match stack.last() {
                    Some(frame) => frame.dir.as_ref().ok_or(Errno::BADF)?.fd()?,
                    None => top.fd()?,
                };
                match rustix::fs::unlinkat(above, done.name.as_os_str(), AtFlags::REMOVEDIR) {
                    Ok(()) | Err(Errno::NOENT) => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
        };
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let fd = dir.fd()?;
        if entry.file_type() != FileType::Directory {
            // Not a directory by its listing (or the filesystem does not say): unlink the
            // entry itself; EISDIR means it is a directory after all.
            match rustix::fs::unlinkat(fd, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => continue,
                Err(Errno::ISDIR) => {}
                Err(e) => return Err(e),
            }
        }
        let sub = match sys::open_dir_at(fd, name) {
            Ok(sub) => sub,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e),
        };
        stack.push(Frame {
            name: name.to_os_string(),
            dir: Some(Dir::new(sub)?),
        });
        if stack.len() - first_open > MAX_OPEN_DIRS {
            stack[first_open].dir = None;
            first_open += 1;
        }
    }
}

/// Reopens the listings of the last `MAX_OPEN_DIRS / 2` frames (all frames before the last
/// are closed when it is) by walking down by name from the top directory, one component at a
/// time with `O_NOFOLLOW | O_DIRECTORY`; returns the new `first_open`. Intermediate
/// descriptors are closed as soon as the next one is open.
fn reopen(top: &Dir, stack: &mut [Frame]) -> rustix::io::Result<usize> {
    let keep_from = stack.len().saturating_sub(MAX_OPEN_DIRS / 2);
    let mut passing: Option<OwnedFd> = None;
    for i in 0..stack.len() {
        let above = match (i.checked_sub(1).map(|j| &stack[j].dir), &passing) {
            (None, _) => top.fd()?,
            (Some(Some(dir)), _) => dir.fd()?,
            (Some(None), Some(fd)) => fd.as_fd(),
            (Some(None), None) => return Err(Errno::BADF),
        };
        let fd = sys::open_dir_at(above, &stack[i].name)?;
        if i >= keep_from {
            stack[i].dir = Some(Dir::new(fd)?);
            passing = None;
        } else {
            passing = Some(fd);
        }
    }
    Ok(keep_from)
}
