//! The system calls every operation shares: resolving beneath a descriptor, `lstat` on a name,
//! applying owner and mode to an open descriptor, temp names.

use crate::Kind;
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Uid};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// How every relative path is resolved: never above the starting directory, never through a
/// symlink (the last component included), never through a `/proc` magic link.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// Flags for opening a directory to work in (read access so it can also be listed).
const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY);

/// How often `openat2` is retried when it returns `EAGAIN` (the kernel asks for a retry when
/// a concurrent rename might have raced the lookup).
const AGAIN_RETRIES: usize = 16;

/// Opens `rel` beneath `dir` with `flags | O_NOFOLLOW | O_CLOEXEC`, resolving with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`. A symlink anywhere gives
/// `ELOOP` (except with `O_PATH`, where a final symlink is opened as itself), leaving the
/// tree gives `EXDEV`, a kernel without `openat2` gives `ENOSYS`.
pub(crate) fn open_beneath(
    dir: impl AsFd,
    rel: &Path,
    flags: OFlags,
) -> rustix::io::Result<OwnedFd> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dir.as_fd(), rel, flags, Mode::empty(), RESOLVE) {
            Err(Errno::AGAIN) if tries < AGAIN_RETRIES => tries += 1,
            other => return other,
        }
    }
}

/// Opens the directory `rel` beneath `dir` like [`open_beneath`]. The kernel reports a
/// symlink as the last component as `ENOTDIR` when `O_DIRECTORY` is given; that case is told
/// apart (through an `O_PATH` look) and reported as `ELOOP`, so it gets the symlink message.
pub(crate) fn open_dir_beneath(dir: impl AsFd, rel: &Path) -> rustix::io::Result<OwnedFd> {
    match open_beneath(dir.as_fd(), rel, DIR_FLAGS) {
        Err(Errno::NOTDIR) => match open_beneath(dir.as_fd(), rel, OFlags::PATH) {
            Ok(fd) if fd_kind(&fd) == Ok(Kind::Symlink) => Err(Errno::LOOP),
            Err(Errno::LOOP) => Err(Errno::LOOP),
            _ => Err(Errno::NOTDIR),
        },
        other => other,
    }
}

/// Opens the single name `name` in `dir` as a directory, refusing a symlink (`ELOOP`) and
/// anything that is not a directory (`ENOTDIR`).
pub(crate) fn open_dir_at(dir: impl AsFd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    let flags = DIR_FLAGS | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(dir.as_fd(), name, flags, Mode::empty()) {
        Err(Errno::NOTDIR) if lstat_at(dir, name) == Ok(Some(Kind::Symlink)) => Err(Errno::LOOP),
        other => other,
    }
}

/// What `name` in `dir` is, without following it; `None` when there is no such entry.
pub(crate) fn lstat_at(dir: impl AsFd, name: &OsStr) -> rustix::io::Result<Option<Kind>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(kind_of(stat.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What an open descriptor refers to (an `O_PATH` descriptor on a symlink says symlink).
pub(crate) fn fd_kind(fd: impl AsFd) -> rustix::io::Result<Kind> {
    Ok(kind_of(rustix::fs::fstat(fd)?.st_mode))
}

/// The kind encoded in an `st_mode`.
pub(crate) fn kind_of(st_mode: u32) -> Kind {
    match FileType::from_raw_mode(st_mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::Fifo => Kind::Fifo,
        FileType::Socket => Kind::Socket,
        FileType::CharacterDevice => Kind::CharDevice,
        FileType::BlockDevice => Kind::BlockDevice,
        FileType::Unknown => Kind::Unknown,
    }
}

/// `fchown` (when `owner` is given) and then `fchmod` on the open descriptor, in that order:
/// `chown` clears the setuid and setgid bits, so the mode must come last.
pub(crate) fn set_owner_mode(
    fd: impl AsFd,
    owner: Option<(u32, u32)>,
    mode: u32,
) -> rustix::io::Result<()> {
    if let Some((uid, gid)) = owner {
        // `check_owner` has refused -1, the only value `from_raw` asserts against.
        rustix::fs::fchown(
            fd.as_fd(),
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
        )?;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))
}

/// A fresh temp name next to `name`: `.NAME.vr-tmp-XXXXXXXXXXXXXXXX` with 64 random bits, or
/// `.vr-tmp-XXXXXXXXXXXXXXXX` when `NAME` is too long to fit in a directory entry with it.
pub(crate) fn temp_name(name: &OsStr) -> rustix::io::Result<OsString> {
    let mut bytes = [0u8; 8];
    rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())?;
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut temp = OsString::from(".");
    if name.len() <= 200 {
        temp.push(name);
        temp.push(".");
    }
    temp.push("vr-tmp-");
    temp.push(suffix);
    Ok(temp)
}
