//! vr-fs: file operations below a directory that someone else can write. Host code running as
//! root writes into trees a container can change (a proc's overlay upper layer, vimage's build
//! root) and reads files out of unpacked images; a container or a hostile tarball can plant
//! symlinks there (`rootfs/dev -> /etc`, `etc -> /etc`, `env.sh.tmp -> /etc/shadow`).
//!
//! [`Beneath`] holds an open descriptor on the tree's root. Every relative path below it is
//! resolved by the kernel with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)`, and every change is made with an `*at` call on the parent
//! directory's descriptor and the final name, never on a path string.
//!
//! vr-fs never follows a symlink on any component below the root, never writes through an
//! existing entry (a symlink, or a hard link to a host file, is replaced as an entry), never
//! changes the mode or owner of anything but the entry it created or opened itself, and never
//! resolves `..` or an absolute path (both are refused). The root path itself is trusted: it
//! comes from host code, and only its last component is checked (it must be a real directory).
// A library never prints (its callers do) and exports only what it means to.
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod dir;
mod dirlock;
mod error;
mod read;
mod remove;
mod swap;
mod sys;
mod unnamed;
mod write;
pub mod xattr;

#[cfg(test)]
mod tests;

pub use dirlock::DirLock;
pub use error::{Error, Kind, Op, Result};
pub use read::Meta;
pub use unnamed::Unnamed;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// A handle on a directory whose contents are not trusted. Every method takes a path relative
/// to it and resolves it without following any symlink and without leaving the directory.
#[derive(Debug)]
pub struct Beneath {
    fd: OwnedFd,
    root: PathBuf,
}

/// A validated relative path, split into its parent (possibly empty) and its final name.
pub(crate) struct Split {
    /// The path with `.` components dropped.
    rel: PathBuf,
    /// Everything but the last component; empty for an entry directly below the root.
    parent: PathBuf,
    /// The last component.
    name: OsString,
}

impl Beneath {
    /// Opens `root`, which must be a directory and not a symlink. The path leading to it is
    /// trusted host code's path and is resolved normally.
    pub fn open(root: &Path) -> Result<Beneath> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::open(root, flags, Mode::empty()) {
            Ok(fd) => Ok(Beneath {
                fd,
                root: root.to_path_buf(),
            }),
            // O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR; name it a symlink.
            Err(Errno::NOTDIR) if root.is_symlink() => Err(Error::Symlink {
                op: Op::OpenDir,
                path: root.to_path_buf(),
            }),
            Err(e) => Err(Error::from_io(Op::OpenDir, root.to_path_buf(), e.into())),
        }
    }

    /// The path this handle was opened from (joined with the relative path for handles made
    /// by [`Beneath::open_dir`]); used in messages only.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Checks `rel` (relative, no `..`, not empty) and splits it into parent and name.
    pub(crate) fn split(&self, op: Op, rel: &Path) -> Result<Split> {
        let bad = |problem| Error::BadPath {
            op,
            path: self.root.join(rel),
            root: self.root.clone(),
            problem,
        };
        let mut clean = PathBuf::new();
        for component in rel.components() {
            match component {
                Component::Normal(part) => clean.push(part),
                Component::CurDir => {}
                Component::ParentDir => return Err(bad("the path has a `..` component")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(bad("the path is absolute"))
                }
            }
        }
        let Some(name) = clean.file_name().map(|name| name.to_os_string()) else {
            return Err(bad("the path names no entry below the root"));
        };
        let parent = clean.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Split {
            rel: clean,
            parent,
            name,
        })
    }

    /// Opens the parent directory of `split` beneath the root (the root itself when the entry
    /// sits directly below it). No component may be a symlink.
    pub(crate) fn open_parent(&self, split: &Split) -> rustix::io::Result<OwnedFd> {
        let parent = if split.parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &split.parent
        };
        sys::open_dir_beneath(&self.fd, parent)
    }

    /// The error for a failed system call on `rel`, naming the full path.
    pub(crate) fn fail(&self, op: Op, rel: &Path, source: impl Into<std::io::Error>) -> Error {
        Error::from_io(op, self.root.join(rel), source.into())
    }

    /// The error for an entry of the wrong kind; a symlink gets the symlink message.
    pub(crate) fn wrong_kind(
        &self,
        op: Op,
        rel: &Path,
        found: Kind,
        wanted: &'static str,
    ) -> Error {
        let path = self.root.join(rel);
        match found {
            Kind::Symlink => Error::Symlink { op, path },
            _ => Error::WrongKind {
                op,
                path,
                found,
                wanted,
            },
        }
    }

    /// Rejects `-1` as a uid or gid, which `fchown` would read as "leave unchanged".
    pub(crate) fn check_owner(&self, op: Op, rel: &Path, owner: Option<(u32, u32)>) -> Result<()> {
        match owner {
            Some((uid, gid)) if uid == u32::MAX || gid == u32::MAX => Err(Error::BadOwner {
                op,
                path: self.root.join(rel),
                uid,
                gid,
            }),
            _ => Ok(()),
        }
    }
}
