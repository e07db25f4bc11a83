//! The few system calls an unpack makes beyond std: create-without-following, mknod, mtimes
//! of links and folders, and reading the umask.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

/// Creates a new file at `path`; an existing non-directory there is unlinked first, never
/// opened (so neither a symlink nor a hardlink is written through).
pub(super) fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            open()
        }
        other => other,
    }
}

/// Runs `make` to create `path`, unlinking an existing non-directory first if needed.
pub(super) fn replace(path: &Path, make: impl Fn(&Path) -> io::Result<()>) -> io::Result<()> {
    match make(path) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            make(path)
        }
        other => other,
    }
}

/// Makes a device node or fifo at `path`, replacing a non-directory there.
pub(super) fn mknod(
    path: &Path,
    kind: tar::EntryType,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    use nix::sys::stat::{makedev, Mode, SFlag};
    let flag = match kind {
        tar::EntryType::Char => SFlag::S_IFCHR,
        tar::EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    };
    let perm = Mode::from_bits_truncate(mode & 0o777);
    let dev = makedev(u64::from(major), u64::from(minor));
    replace(path, |p| {
        nix::sys::stat::mknod(p, flag, perm, dev).map_err(io::Error::from)
    })
}

/// Sets the mtime of `path` (leaving atime), following it only when `follow`.
pub(super) fn set_mtime(path: &Path, t: SystemTime, follow: bool) -> io::Result<()> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let mtime = TimeSpec::from_duration(since);
    let flag = if follow {
        UtimensatFlags::FollowSymlink
    } else {
        UtimensatFlags::NoFollowSymlink
    };
    utimensat(None, path, &TimeSpec::UTIME_OMIT, &mtime, flag).map_err(io::Error::from)
}

/// This process's umask, read without changing it (from /proc); all bits when unknown, so
/// modes are then always set explicitly.
pub(super) fn current_umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_umask(&s))
        .unwrap_or(0o777)
}

fn parse_umask(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_umask_table() {
        let cases = [
            ("Name:\tx\nUmask:\t0022\nState:\tR\n", Some(0o022)),
            ("Umask:\t0077\n", Some(0o077)),
            ("Name:\tx\n", None),
            ("Umask:\tzz\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_umask(text), want, "{text:?}");
        }
    }
}
