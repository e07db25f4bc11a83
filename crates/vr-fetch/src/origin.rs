//! Where the bytes of a fetch come from: an http(s) URL or a local file, which must be a
//! regular file.

use crate::error::{io, Error, Result};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Makes a rename in `dir` durable; a failure here does not undo a good download.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Opens a local source, which must be a regular file (a named pipe would block, a device
/// would be copied without end).
pub(crate) fn open_local(path: &Path) -> Result<(File, fs::Metadata)> {
    let meta = fs::metadata(path).map_err(io("open", path))?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
            what: file_kind(&meta.file_type()),
        });
    }
    let file = File::open(path).map_err(io("open", path))?;
    let stat = file.metadata().map_err(io("stat", path))?;
    Ok((file, stat))
}

/// What a file that is not a regular file is, for errors.
pub(crate) fn file_kind(kind: &fs::FileType) -> &'static str {
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
    } else if kind.is_symlink() {
        "a symlink"
    } else {
        "not a regular file"
    }
}

/// Where the bytes come from.
pub(crate) enum Origin {
    Http(String),
    Local(PathBuf),
}

impl Origin {
    pub(crate) fn parse(source: &str, shown: &str) -> Result<Origin> {
        let lower = source.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Ok(Origin::Http(source.to_string()))
        } else if let Some(path) = source.strip_prefix("file://") {
            Ok(Origin::Local(PathBuf::from(path)))
        } else if source.contains("://") {
            Err(Error::UnsupportedScheme {
                url: shown.to_string(),
            })
        } else {
            Ok(Origin::Local(PathBuf::from(source)))
        }
    }
}

#[cfg(test)]
mod tests {
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
            let got = Origin::parse(input, input).ok().map(|o| match o {
                Origin::Http(_) => "http".to_string(),
                Origin::Local(p) => format!("local:{}", p.display()),
            });
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }
}
