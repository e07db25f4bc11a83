//! `ensure`: a URL or local path to a verified file in a cache. The bytes are hashed while they
//! stream into a temp file beside the destination, which is fsynced and renamed into place only
//! when its md5 matches.

use crate::error::{io, Error, Result};
use crate::hash::{md5_file, parse_md5, Md5, BUF_SIZE};
use crate::lock::{lock_path, EntryLock};
use crate::progress::{NoProgress, Progress};
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A file in place under its final name, with its md5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Where the file is (the `dest` asked for).
    pub path: PathBuf,
    /// Its md5, 32 lowercase hex digits.
    pub md5: String,
    /// True when it was fetched now, false when the cached file was reused.
    pub downloaded: bool,
}

/// Makes sure `dest` holds the file at `source` (an http(s) URL, a `file://` URL or a local
/// path), with md5 `md5` when one is given. See [`ensure_with`].
pub fn ensure(source: &str, dest: &Path, md5: Option<&str>) -> Result<Fetched> {
    ensure_with(source, dest, md5, &NoProgress)
}

/// Makes sure `dest` holds the file at `source`, reporting download progress to `progress`.
///
/// Under the lock `<dest>.lock`: an existing `dest` is reused when its md5 matches `md5` (or
/// when no md5 is given); otherwise it is removed and `source` is fetched into a temp file
/// beside `dest`, hashed as it streams, fsynced and renamed into place. A download that fails,
/// is cut short or has another md5 leaves nothing under `dest`.
pub fn ensure_with(
    source: &str,
    dest: &Path,
    md5: Option<&str>,
    progress: &dyn Progress,
) -> Result<Fetched> {
    let expected = match md5 {
        Some(value) => Some(parse_md5(value).ok_or_else(|| Error::InvalidMd5 {
            source_name: source.to_string(),
            value: value.to_string(),
        })?),
        None => None,
    };
    let origin = Origin::parse(source)?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
    let _lock = EntryLock::acquire(&lock_path(dest))?;
    crate::interrupt::remove_stale_temps(dest);

    match fs::symlink_metadata(dest) {
        Ok(_) => {
            let cached = md5_file(dest)?;
            if expected.as_deref().map_or(true, |e| e == cached) {
                return Ok(Fetched {
                    path: dest.to_path_buf(),
                    md5: cached,
                    downloaded: false,
                });
            }
            fs::remove_file(dest).map_err(io("remove stale", dest))?;
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io("stat", dest)(e)),
    }

    let result = download(&origin, source, dest, &dir, expected.as_deref(), progress);
    progress.finish();
    let md5 = result?;
    Ok(Fetched {
        path: dest.to_path_buf(),
        md5,
        downloaded: true,
    })
}

/// What a file that is not a regular file is, for errors.
fn file_kind(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Where the bytes come from.
enum Origin {
    Http(String),
    Local(PathBuf),
}

impl Origin {
    fn parse(source: &str) -> Result<Origin> {
        let lower = source.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Ok(Origin::Http(source.to_string()))
        } else if let Some(path) = source.strip_prefix("file://") {
            Ok(Origin::Local(PathBuf::from(path)))
        } else if source.contains("://") {
            Err(Error::UnsupportedScheme {
                url: source.to_string(),
            })
        } else {
            Ok(Origin::Local(PathBuf::from(source)))
        }
    }

    /// Opens the source: a reader and the announced length.
    fn open(&self) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        match self {
            Origin::Local(path) => {
                // Checked before opening: opening a named pipe would block, and a device
                // would be copied without end.
                let meta = fs::metadata(path).map_err(io("open", path))?;
                if !meta.is_file() {
                    return Err(Error::NotAFile {
                        path: path.clone(),
                        what: file_kind(&meta.file_type()),
                    });
                }
                let file = File::open(path).map_err(io("open", path))?;
                let len = file.metadata().map_err(io("stat", path))?.len();
                Ok((Box::new(file), Some(len)))
            }
            Origin::Http(url) => {
                let agent = ureq::AgentBuilder::new()
                    .timeout_connect(Duration::from_secs(30))
                    .timeout_read(Duration::from_secs(120))
                    .build();
                // The file's own bytes are wanted (a .tar.gz must not be un-gzipped on the way).
                let request = agent.get(url).set("Accept-Encoding", "identity");
                let response = request.call().map_err(|e| match e {
                    ureq::Error::Status(status, _) => Error::HttpStatus {
                        url: url.clone(),
                        status,
                    },
                    ureq::Error::Transport(t) => Error::Transport {
                        url: url.clone(),
                        source: Box::new(t),
                    },
                })?;
                // With a content encoding the announced length is not the length read.
                let len = match response.header("Content-Encoding") {
                    Some(enc) if !enc.eq_ignore_ascii_case("identity") => None,
                    _ => response
                        .header("Content-Length")
                        .and_then(|v| v.trim().parse().ok()),
                };
                Ok((response.into_reader(), len))
            }
        }
    }
}

/// Streams `origin` into a temp file beside `dest`, checks length and md5, renames into place.
fn download(
    origin: &Origin,
    source: &str,
    dest: &Path,
    dir: &Path,
    expected: Option<&str>,
    progress: &dyn Progress,
) -> Result<String> {
    let (mut reader, total) = origin.open()?;
    progress.start(source, total);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(io("create temp file in", dir))?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut received = 0u64;
    loop {
        crate::interrupt::check()?;
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(match origin {
                    Origin::Local(path) => io("read", path)(e),
                    Origin::Http(url) => Error::BodyRead {
                        url: url.clone(),
                        received,
                        source: e,
                    },
                })
            }
        };
        md5.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(io("write", tmp.path()))?;
        received += n as u64;
        progress.advance(n as u64);
    }
    if let (Origin::Http(url), Some(expected)) = (origin, total) {
        if received != expected {
            return Err(Error::Truncated {
                url: url.clone(),
                received,
                expected,
            });
        }
    }
    let actual = md5.hex();
    if let Some(expected) = expected {
        if expected != actual {
            return Err(Error::Md5Mismatch {
                source_name: source.to_string(),
                expected: expected.to_string(),
                actual,
            });
        }
    }
    tmp.as_file().sync_all().map_err(io("fsync", tmp.path()))?;
    tmp.persist(dest)
        .map_err(|e| io("rename into place", dest)(e.error))?;
    // Make the rename itself durable; a failure here does not undo a good download.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(actual)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn origin_parse_table() {
        let cases = [
            ("http://h/x.tar.gz", Some("http")),
            ("HTTPS://h/x.tar.gz", Some("http")),
            ("file:///srv/x.tar.gz", Some("local:/srv/x.tar.gz")),
            ("/srv/x.tar.gz", Some("local:/srv/x.tar.gz")),
            ("rel/x.tar.gz", Some("local:rel/x.tar.gz")),
            ("ftp://h/x.tar.gz", None),
        ];
        for (input, want) in cases {
            let got = Origin::parse(input).ok().map(|o| match o {
                Origin::Http(_) => "http".to_string(),
                Origin::Local(p) => format!("local:{}", p.display()),
            });
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }

    #[test]
    fn unsupported_scheme_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = ensure("ftp://h/x.tar.gz", &dir.path().join("x"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported URL scheme in ftp://h/x.tar.gz: expected http, https, file or a local path"
        );
    }

    #[test]
    fn invalid_md5_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = ensure("/x", &dir.path().join("x"), Some("abc")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid md5 \"abc\" for /x: expected 32 hex digits"
        );
    }
}
