//! The sidecar `<entry>.meta` of a cache entry: what the cached file was served with (ETag and
//! Last-Modified, or the size and mtime of a local source), to revalidate it, and its md5 and
//! sha256. It describes the file only while the file is the one it was written for (same
//! inode, size and mtime); otherwise it is ignored as a whole.
//!
//! ```text
//! file 1234567 52428800 1700000000123456789
//! md5 0123456789abcdef0123456789abcdef
//! sha256 0123...
//! etag "5e8f-1a2b"
//! last-modified Tue, 14 Nov 2023 22:13:20 GMT
//! ```

use crate::error::{io, Result};
use crate::hash::{parse_md5, parse_sha256, Sums};
use crate::http::Validators;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What is known of a cached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) sums: Sums,
    pub(crate) validators: Validators,
    /// Size and mtime (ns) of a local source when it was copied.
    pub(crate) local: Option<(u64, i128)>,
}

/// `<entry>.meta`.
pub(crate) fn meta_path(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(".meta");
    PathBuf::from(name)
}

/// The identity of a file: `<inode> <size> <mtime ns>`.
fn identity(meta: &fs::Metadata) -> String {
    format!("{} {} {}", meta.ino(), meta.size(), mtime_ns(meta))
}

/// The mtime of `meta` in nanoseconds since the epoch.
pub(crate) fn mtime_ns(meta: &fs::Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

/// The sidecar of `entry`, when there is one and it describes the file now at `entry`.
pub(crate) fn read(entry: &Path) -> Option<Meta> {
    let text = fs::read_to_string(meta_path(entry)).ok()?;
    let file = fs::metadata(entry).ok()?;
    parse(&text, &identity(&file))
}

fn parse(text: &str, identity: &str) -> Option<Meta> {
    let (mut md5, mut sha256, mut same) = (None, None, false);
    let mut validators = Validators::default();
    let (mut size, mut mtime) = (None, None);
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "file" => same = value == identity,
            "md5" => md5 = parse_md5(value),
            "sha256" => sha256 = parse_sha256(value),
            "etag" => validators.etag = Some(value.to_string()),
            "last-modified" => validators.last_modified = Some(value.to_string()),
            "source-size" => size = value.parse().ok(),
            "source-mtime" => mtime = value.parse().ok(),
            _ => {}
        }
    }
    if !same {
        return None;
    }
    Some(Meta {
        sums: Sums {
            md5: md5?,
            sha256: sha256?,
        },
        validators,
        local: size.zip(mtime),
    })
}

fn render(meta: &Meta, identity: &str) -> String {
    let mut text = format!(
        "file {identity}\nmd5 {}\nsha256 {}\n",
        meta.sums.md5, meta.sums.sha256
    );
    // A header value cannot hold a line break; one that does is not kept.
    let one_line = |v: &&String| !v.contains(['\n', '\r']);
    if let Some(etag) = meta.validators.etag.as_ref().filter(one_line) {
        text.push_str(&format!("etag {etag}\n"));
    }
    if let Some(date) = meta.validators.last_modified.as_ref().filter(one_line) {
        text.push_str(&format!("last-modified {date}\n"));
    }
    if let Some((size, mtime)) = meta.local {
        text.push_str(&format!("source-size {size}\nsource-mtime {mtime}\n"));
    }
    text
}

/// Writes the sidecar of the file now at `entry` (atomically, through a temp file that the
/// sweep of `entry` recognises).
pub(crate) fn write(entry: &Path, meta: &Meta) -> Result<()> {
    let file = fs::metadata(entry).map_err(io("stat", entry))?;
    let text = render(meta, &identity(&file));
    let path = meta_path(entry);
    let dir = match entry.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.meta-"))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(io("create temp file in", dir))?;
    tmp.write_all(text.as_bytes())
        .map_err(io("write", tmp.path()))?;
    tmp.persist(&path)
        .map_err(|e| io("rename into place", &path)(e.error))?;
    Ok(())
}

/// Removes the sidecar of `entry`, if any.
pub(crate) fn remove(entry: &Path) -> Result<()> {
    let path = meta_path(entry);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io("remove", &path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            sums: Sums {
                md5: "a".repeat(32),
                sha256: "b".repeat(64),
            },
            validators: Validators {
                etag: Some("\"x-1\"".into()),
                last_modified: Some("Tue, 14 Nov 2023 22:13:20 GMT".into()),
            },
            local: Some((12, 1_700_000_000_123_456_789)),
        }
    }

    #[test]
    fn round_trip_only_for_the_same_file() {
        let m = sample();
        let text = render(&m, "1 2 3");
        assert_eq!(parse(&text, "1 2 3"), Some(m));
        assert_eq!(parse(&text, "1 2 4"), None);
        assert_eq!(parse("md5 x\n", "1 2 3"), None);
    }

    #[test]
    fn written_beside_the_entry_and_stale_once_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let entry = dir.path().join("e.tar.gz");
        fs::write(&entry, "one").unwrap();
        write(&entry, &sample()).unwrap();
        assert_eq!(read(&entry), Some(sample()));
        assert!(dir.path().join("e.tar.gz.meta").is_file());
        // Replaced by another file: the sidecar no longer speaks for it.
        let other = dir.path().join("other");
        fs::write(&other, "two").unwrap();
        fs::rename(&other, &entry).unwrap();
        assert_eq!(read(&entry), None);
        remove(&entry).unwrap();
        remove(&entry).unwrap();
        assert!(!dir.path().join("e.tar.gz.meta").exists());
    }

    #[test]
    fn values_with_line_breaks_are_not_kept() {
        let mut m = sample();
        m.validators.etag = Some("a\nmd5 b".into());
        let text = render(&m, "1 2 3");
        assert!(!text.contains("etag"), "{text}");
    }
}
