//! Temp files and folders beside a cache entry that say whether their writer is alive.
//!
//! A download goes to `.<name>.XXXXXX.part`, an unpack to the folder `.<name>.unpack-XXXXXX`;
//! the writer holds an exclusive `flock` on it for as long as it writes. A process killed
//! with SIGKILL loses its locks, so [`sweep`] can tell what a dead run left (it locks at once)
//! from what a live one is writing (it does not), and removes only the former. It is called
//! by the next fetch or unpack of the same entry. No lock file is needed for that.
//!
//! An unpack folder is locked before it gets its sweepable name: it is made as
//! `.<name>.unlocked-XXXXXX`, locked, then renamed. A folder left under that first name (a
//! kill in between) is removed once it is a minute old.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, File};
use std::io::{self, ErrorKind};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Age after which an unlocked unpack folder is a leftover.
const UNLOCKED_AGE: Duration = Duration::from_secs(60);

/// Whether nobody holds a lock on `path` (it is opened without following a link, locked
/// and unlocked at once). Errors say "in use": only what is surely dead goes.
fn abandoned(path: &Path) -> bool {
    let Ok(file) = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
    else {
        return false;
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_ok()
}

/// Removes what dead runs left beside the entry `name` in `dir`: temp downloads
/// `.<name>.*.part` and temp unpack folders `.<name>.unpack-*` that nobody holds locked, and
/// `.<name>.unlocked-*` folders older than a minute. Returns how many it removed.
pub(crate) fn sweep(dir: &Path, name: &str) -> usize {
    let part = format!(".{name}.");
    let unpack = format!(".{name}.unpack-");
    let unlocked = format!(".{name}.unlocked-");
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let gone = if file.starts_with(&unpack) {
            abandoned(&path) && fs::remove_dir_all(&path).is_ok()
        } else if file.starts_with(&unlocked) {
            let old = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > UNLOCKED_AGE);
            old && fs::remove_dir_all(&path).is_ok()
        } else if file.starts_with(&part) && file.ends_with(".part") {
            abandoned(&path) && fs::remove_file(&path).is_ok()
        } else {
            false
        };
        removed += usize::from(gone);
    }
    removed
}

/// A temp file for the download of the entry `name` in `dir`, locked while it lives.
pub(crate) struct TempFile {
    pub(crate) file: tempfile::NamedTempFile,
    _lock: Flock<File>,
}

impl TempFile {
    pub(crate) fn new(dir: &Path, name: &str) -> io::Result<TempFile> {
        let file = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".part")
            .tempfile_in(dir)?;
        let lock = Flock::lock(file.as_file().try_clone()?, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, errno)| io::Error::from(errno))?;
        Ok(TempFile { file, _lock: lock })
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }
}

/// A temp folder for the unpack of `name` in `dir`, locked while it lives and removed when
/// dropped (see [`TempDir::close`] for the error).
pub(crate) struct TempDir {
    path: PathBuf,
    _lock: Flock<File>,
}

impl TempDir {
    pub(crate) fn new(dir: &Path, name: &str) -> io::Result<TempDir> {
        let made = tempfile::Builder::new()
            .prefix(&format!(".{name}.unlocked-"))
            .tempdir_in(dir)?;
        let handle = File::open(made.path())?;
        let lock = Flock::lock(handle, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, errno)| io::Error::from(errno))?;
        let random = made
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .rsplit('-')
            .next()
            .unwrap_or_default()
            .to_string();
        let path = dir.join(format!(".{name}.unpack-{random}"));
        nix::fcntl::renameat2(
            None,
            made.path(),
            None,
            &path,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        )
        .map_err(io::Error::from)?;
        // From here on the folder is ours to remove.
        let _ = made.keep();
        Ok(TempDir { path, _lock: lock })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the folder and what it holds (nothing there is fine).
    pub(crate) fn close(mut self) -> io::Result<()> {
        // Taken out, so that drop does not try again.
        let path = std::mem::take(&mut self.path);
        match fs::remove_dir_all(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use vr_tests::names;

    #[test]
    fn only_what_nobody_holds_is_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in [
            ".img.tar.gz.a1B2c3.part",
            ".img.tar.gz.meta-x.part",
            ".other.tar.gz.x.part",
            "img.tar.gz",
            "img.tar.gz.lock",
        ] {
            fs::write(d.join(f), "x").unwrap();
        }
        for dir in [
            ".contents.unpack-Q1w2E3",
            ".contents.0123456789abcdef0123456789abcdef.Zz9",
            "contents",
        ] {
            fs::create_dir_all(d.join(dir).join("sub")).unwrap();
        }
        let live_file = TempFile::new(d, "img.tar.gz").unwrap();
        let live_dir = TempDir::new(d, "contents").unwrap();
        fs::create_dir(live_dir.path().join("inside")).unwrap();
        // A fresh unlocked folder may be about to be locked: it stays.
        fs::create_dir(d.join(".contents.unlocked-fresh")).unwrap();
        assert_eq!(sweep(d, "img.tar.gz"), 2);
        assert_eq!(sweep(d, "contents"), 1);
        let live_dir_name = live_dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let live_file_name = live_file
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut want = vec![
            ".contents.0123456789abcdef0123456789abcdef.Zz9".to_string(),
            ".contents.unlocked-fresh".to_string(),
            ".other.tar.gz.x.part".to_string(),
            "contents".to_string(),
            "img.tar.gz".to_string(),
            "img.tar.gz.lock".to_string(),
            live_dir_name,
            live_file_name,
        ];
        want.sort();
        assert_eq!(names(d), want);
        // Once their writers are gone, they go too.
        drop(live_file);
        live_dir.close().unwrap();
        assert_eq!(sweep(d, "img.tar.gz"), 0, "a temp file removes itself");
        assert!(names(d).iter().all(|n| !n.contains(".unpack-")));
    }

    #[test]
    fn a_temp_dir_is_named_for_the_sweep_and_removed_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let t = TempDir::new(tmp.path(), "app").unwrap();
        let name = t.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".app.unpack-"), "{name}");
        fs::create_dir_all(t.path().join("a/b")).unwrap();
        drop(t);
        assert!(names(tmp.path()).is_empty());
    }
}
