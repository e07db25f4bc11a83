//! Reading the uptests folder: which entries run, in which order.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why the uptests folder could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder itself cannot be opened (missing, not a directory, no permission).
    #[error("cannot read uptests folder {}", path.display())]
    Open {
        /// The folder given on the command line.
        path: PathBuf,
        /// The error from the OS.
        #[source]
        source: io::Error,
    },
    /// Listing failed part way through.
    #[error("cannot list uptests folder {}", path.display())]
    Read {
        /// The folder given on the command line.
        path: PathBuf,
        /// The error from the OS.
        #[source]
        source: io::Error,
    },
}

/// One uptest: a non-hidden entry of the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name, as the OS gave it.
    pub name: OsString,
    /// `FOLDER/name`, the path it is run by.
    pub path: PathBuf,
    /// True when it is a directory (or a symlink to one): reported as failed, never run.
    pub is_dir: bool,
}

impl Entry {
    /// The name as JSON text (lossy when it is not UTF-8).
    pub fn display_name(&self) -> String {
        self.name.to_string_lossy().into_owned()
    }
}

/// Lists the uptests of `folder`: every entry whose name does not start with `.`, sorted by the
/// bytes of the name.
pub fn list(folder: &Path) -> Result<Vec<Entry>, FolderError> {
    let read = fs::read_dir(folder).map_err(|source| FolderError::Open {
        path: folder.to_path_buf(),
        source,
    })?;
    let mut entries = Vec::new();
    for item in read {
        let item = item.map_err(|source| FolderError::Read {
            path: folder.to_path_buf(),
            source,
        })?;
        let name = item.file_name();
        if !is_uptest_name(&name) {
            continue;
        }
        let path = folder.join(&name);
        // Follows symlinks: a link to a directory cannot be run either. A broken link is left
        // for the launcher, which reports why it cannot start.
        let is_dir = fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        entries.push(Entry { name, path, is_dir });
    }
    entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(entries)
}

/// True for names that are run: not hidden (no leading `.`), not empty.
pub fn is_uptest_name(name: &std::ffi::OsStr) -> bool {
    !name.is_empty() && !name.as_bytes().starts_with(b".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::fs::symlink;

    #[test]
    fn hidden_names_are_skipped() {
        let cases: &[(&[u8], bool)] = &[
            (b"01_alive.sh", true),
            (b".hidden", false),
            (b".", false),
            (b"..", false),
            (b"a.b", true),
            (b"", false),
            (b"\xff\xfe", true),
        ];
        for (name, want) in cases {
            assert_eq!(
                is_uptest_name(OsStr::from_bytes(name)),
                *want,
                "{:?}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn lists_in_byte_order_and_marks_directories() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b", "B", "a10", "a2", "_x", "~z", ".git"] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        symlink("sub", dir.path().join("link_to_dir")).unwrap();
        symlink("missing", dir.path().join("broken")).unwrap();
        fs::write(dir.path().join(OsStr::from_bytes(b"\xc3\xa9")), "").unwrap();

        let entries = list(dir.path()).unwrap();
        let names: Vec<String> = entries.iter().map(Entry::display_name).collect();
        assert_eq!(
            names,
            [
                "B",
                "_x",
                "a10",
                "a2",
                "b",
                "broken",
                "link_to_dir",
                "sub",
                "~z",
                "é"
            ]
        );
        let dirs: Vec<String> = entries
            .iter()
            .filter(|e| e.is_dir)
            .map(Entry::display_name)
            .collect();
        assert_eq!(dirs, ["link_to_dir", "sub"]);
        assert_eq!(entries[0].path, dir.path().join("B"));
    }

    #[test]
    fn missing_folder_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = list(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot read uptests folder {}", missing.display())
        );
        assert!(matches!(err, FolderError::Open { .. }));
    }

    #[test]
    fn a_file_is_not_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "").unwrap();
        let err = list(&file).unwrap_err();
        let FolderError::Open { source, .. } = &err else {
            panic!("want Open, got {err:?}");
        };
        assert_eq!(source.raw_os_error(), Some(libc::ENOTDIR));
    }
}
