//! md5 while bytes stream: a reader adapter, and the md5 of a file read in large blocks.

use crate::error::{io, Result};
use md5::Digest;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Read size for hashing and copying: large enough that syscalls do not dominate.
pub(crate) const BUF_SIZE: usize = 1 << 20;

/// A running md5 (RustCrypto's `md-5` with its assembly core: as fast as coreutils'
/// `md5sum`, where the `md5` crate is about 30% slower).
#[derive(Clone)]
pub(crate) struct Md5(md5::Md5);

impl Md5 {
    pub(crate) fn new() -> Md5 {
        Md5(md5::Md5::new())
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Lowercase hex digest.
    pub(crate) fn hex(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The md5 of the file at `path`, as 32 lowercase hex digits; reads in 1 MiB blocks, so memory
/// stays flat whatever the file's size.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io("open", path))?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io("read", path)(e)),
        };
        md5.update(&buf[..n]);
    }
    Ok(md5.hex())
}

/// Normalises a caller's md5: trims, lowercases, and checks it is 32 hex digits.
pub(crate) fn parse_md5(value: &str) -> Option<String> {
    let v = value.trim().to_ascii_lowercase();
    (v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())).then_some(v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn md5_of_known_inputs() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (input, want) in cases {
            let p = dir.path().join("f");
            std::fs::write(&p, input).unwrap();
            assert_eq!(md5_file(&p).unwrap(), *want);
        }
        // Larger than one block: the same as hashing in one go.
        let big: Vec<u8> = (0..3 * BUF_SIZE + 17)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let p = dir.path().join("big");
        std::fs::write(&p, &big).unwrap();
        let mut m = Md5::new();
        m.update(&big);
        assert_eq!(md5_file(&p).unwrap(), m.hex());
    }

    #[test]
    fn md5_file_names_missing_path() {
        let err = md5_file(Path::new("/nonexistent/x")).unwrap_err();
        assert_eq!(err.to_string(), "cannot open /nonexistent/x");
    }

    #[test]
    fn parse_md5_table() {
        let cases = [
            (
                "d41d8cd98f00b204e9800998ecf8427e",
                Some("d41d8cd98f00b204e9800998ecf8427e"),
            ),
            (
                " D41D8CD98F00B204E9800998ECF8427E\n",
                Some("d41d8cd98f00b204e9800998ecf8427e"),
            ),
            ("d41d8cd98f00b204e9800998ecf8427", None),
            ("g41d8cd98f00b204e9800998ecf8427e", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_md5(input).as_deref(), want, "{input:?}");
        }
    }
}
