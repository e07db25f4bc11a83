//! The crate's error type, the operation it names and the kinds of directory entries.

use rustix::io::Errno;
use std::fmt;
use std::path::PathBuf;

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a failed call was doing; it starts every message (`cannot write ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Opening a directory handle ([`crate::Beneath::open`], [`crate::Beneath::open_dir`]).
    OpenDir,
    /// [`crate::Beneath::read_file`].
    Read,
    /// [`crate::Beneath::write_file`].
    Write,
    /// [`crate::Beneath::ensure_dir`].
    CreateDir,
    /// [`crate::Beneath::remove_tree`].
    Remove,
    /// [`crate::Beneath::entry_kind`].
    Inspect,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::OpenDir => "open the directory",
            Op::Read => "read",
            Op::Write => "write",
            Op::CreateDir => "create the directory",
            Op::Remove => "remove",
            Op::Inspect => "inspect",
        })
    }
}

/// The kind of a directory entry, as `lstat` sees it (a symlink is never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A named pipe (FIFO).
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device node.
    CharDevice,
    /// A block device node.
    BlockDevice,
    /// Anything else the kernel reports.
    Unknown,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::File => "a regular file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symlink",
            Kind::Fifo => "a named pipe",
            Kind::Socket => "a socket",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
            Kind::Unknown => "a file of unknown kind",
        })
    }
}

/// Why a [`crate::Beneath`] operation failed. `path` is always the handle's root joined with the
/// relative path asked for, so the message names the real place on the host.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed for another reason (missing parent, permission, disk full).
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done.
        op: Op,
        /// The full path.
        path: PathBuf,
        /// The system error.
        #[source]
        source: std::io::Error,
    },
    /// A component of the path is a symlink (the kernel's `ELOOP` under `RESOLVE_NO_SYMLINKS`
    /// or `O_NOFOLLOW`).
    #[error(
        "cannot {op} {}: a path component is a symlink (refused: this tree is writable by a container)",
        path.display()
    )]
    Symlink {
        /// What was being done.
        op: Op,
        /// The full path.
        path: PathBuf,
    },
    /// Resolution would leave the tree (the kernel's `EXDEV` under `RESOLVE_BENEATH`).
    #[error(
        "cannot {op} {}: the path leaves the tree (refused: this tree is writable by a container)",
        path.display()
    )]
    Escapes {
        /// What was being done.
        op: Op,
        /// The full path.
        path: PathBuf,
    },
    /// The relative path asked for is absolute, has a `..` component or names nothing.
    #[error("cannot {op} {}: {problem} (paths are relative to {})", path.display(), root.display())]
    BadPath {
        /// What was being done.
        op: Op,
        /// The handle's root joined with the path asked for.
        path: PathBuf,
        /// The handle's root.
        root: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The entry exists but is not the kind the operation needs.
    #[error("cannot {op} {}: it is {found}, not {wanted}", path.display())]
    WrongKind {
        /// What was being done.
        op: Op,
        /// The full path.
        path: PathBuf,
        /// What is there.
        found: Kind,
        /// What was needed ("a regular file", "a directory").
        wanted: &'static str,
    },
    /// A file read with [`crate::Beneath::read_file`] is larger than the limit.
    #[error("cannot read {}: it is larger than {limit} bytes", path.display())]
    TooLarge {
        /// The full path.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The owner asked for is `-1` (`u32::MAX`), which `fchown` reads as "leave unchanged".
    #[error("cannot {op} {}: {uid}:{gid} is not a valid owner (-1 is reserved)", path.display())]
    BadOwner {
        /// What was being done.
        op: Op,
        /// The full path.
        path: PathBuf,
        /// The uid asked for.
        uid: u32,
        /// The gid asked for.
        gid: u32,
    },
    /// The kernel has no `openat2` (`ENOSYS`), so paths cannot be resolved safely.
    #[error("cannot {op} {}: openat2 (Linux 5.6+) is needed to resolve paths without following symlinks", path.display())]
    NoOpenat2 {
        /// What was being done.
        op: Op,
        /// The full path.
        path: PathBuf,
    },
    /// [`crate::Beneath::write_file`] failed and then could not remove its temp file either;
    /// the first failure is the source.
    #[error("cannot remove the temp file {} ({cleanup}) after this failure", temp.display())]
    Cleanup {
        /// The temp file left behind.
        temp: PathBuf,
        /// Why it could not be removed.
        cleanup: std::io::Error,
        /// The failure that made the write give up.
        #[source]
        error: Box<Error>,
    },
}

impl Error {
    /// Turns a system error into the variant that says what it means here: `ELOOP` is a
    /// symlink, `EXDEV` leaves the tree, `ENOSYS` is a kernel without `openat2`.
    pub(crate) fn from_io(op: Op, path: PathBuf, source: std::io::Error) -> Error {
        match Errno::from_io_error(&source) {
            Some(Errno::LOOP) => Error::Symlink { op, path },
            Some(Errno::XDEV) => Error::Escapes { op, path },
            Some(Errno::NOSYS) => Error::NoOpenat2 { op, path },
            _ => Error::Io { op, path, source },
        }
    }
}
