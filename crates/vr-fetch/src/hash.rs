//! md5 and sha256 while bytes stream, and of files read in large blocks.
//!
//! Both are RustCrypto's: `md-5` with its assembly core (within a few % of coreutils'
//! `md5sum`), and `sha2`, which picks the CPU's SHA extensions (SHA-NI) at run time where
//! there are some.

use crate::error::{io, Error, Result};
use md5::Digest;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc::sync_channel;

/// Read size for hashing and copying: large enough that syscalls do not dominate.
pub(crate) const BUF_SIZE: usize = 1 << 20;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A running md5.
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
        hex(&self.0.finalize())
    }
}

/// A running sha256.
#[derive(Clone)]
pub(crate) struct Sha256(sha2::Sha256);

impl Sha256 {
    pub(crate) fn new() -> Sha256 {
        Sha256(sha2::Sha256::new())
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Lowercase hex digest.
    pub(crate) fn hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// The md5 and sha256 of some bytes, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sums {
    pub(crate) md5: String,
    pub(crate) sha256: String,
}

/// md5 and sha256 of one stream, in the same pass.
pub(crate) struct Hasher {
    md5: Md5,
    sha256: Sha256,
}

impl Hasher {
    pub(crate) fn new() -> Hasher {
        Hasher {
            md5: Md5::new(),
            sha256: Sha256::new(),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha256.update(bytes);
    }

    pub(crate) fn finish(self) -> Sums {
        Sums {
            md5: self.md5.hex(),
            sha256: self.sha256.hex(),
        }
    }
}

/// The md5 of the file at `path`, as 32 lowercase hex digits; reads in 1 MiB blocks, so memory
/// stays flat whatever the file's size.
pub fn md5_file(path: &Path) -> Result<String> {
    let (md5, _) = hash_file(path, true, false)?;
    Ok(md5.unwrap_or_default())
}

/// The sha256 of the file at `path`, as 64 lowercase hex digits (read as [`md5_file`] reads).
pub fn sha256_file(path: &Path) -> Result<String> {
    let (_, sha256) = hash_file(path, false, true)?;
    Ok(sha256.unwrap_or_default())
}

/// The md5 and/or sha256 of the file at `path`, in one read. When both are asked for, md5
/// runs on a second thread beside sha256, so that the pair costs about as much as the slower.
pub(crate) fn hash_file(
    path: &Path,
    want_md5: bool,
    want_sha256: bool,
) -> Result<(Option<String>, Option<String>)> {
    let mut file = File::open(path).map_err(io("open", path))?;
    hash_reader(&mut file, want_md5, want_sha256).map_err(io("read", path))
}

/// Hashes `file` to its end. The file is read on a second thread, a buffer ahead of the
/// hashing, so that copying it out of the page cache (a tenth of md5's time) is not added to
/// it: `md5sum` pays that copy, and md5 alone is otherwise about 10 % slower than it on some
/// CPUs.
fn hash_reader(
    file: &mut (dyn Read + Send),
    want_md5: bool,
    want_sha256: bool,
) -> std::io::Result<(Option<String>, Option<String>)> {
    let mut md5 = want_md5.then(Md5::new);
    let mut sha = want_sha256.then(Sha256::new);
    let both = want_md5 && want_sha256;
    let size = if both { 4 * BUF_SIZE } else { BUF_SIZE };
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = sync_channel::<std::io::Result<(Vec<u8>, usize)>>(1);
        let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(2);
        let reader = std::thread::Builder::new()
            .name("vr-fetch-hash-read".into())
            .spawn_scoped(scope, move || {
                // Ends at the end of the file, on an error, or when the hashing side is gone.
                while let Ok(mut buf) = empty_rx.recv() {
                    let read = read_full(file, &mut buf);
                    let more = matches!(read, Ok(n) if n > 0);
                    if full_tx.send(read.map(|n| (buf, n))).is_err() || !more {
                        return;
                    }
                }
            });
        if reader.is_err() {
            return Err(std::io::Error::other(
                "cannot start a thread to read the file",
            ));
        }
        for _ in 0..2 {
            let _ = empty_tx.send(vec![0u8; size]);
        }
        loop {
            let (buf, n) = full_rx
                .recv()
                .map_err(|_| std::io::Error::other("the reading thread stopped"))??;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            match (&mut md5, &mut sha) {
                (Some(m), Some(s)) => std::thread::scope(|scope| {
                    scope.spawn(|| m.update(chunk));
                    s.update(chunk);
                }),
                (Some(m), None) => m.update(chunk),
                (None, Some(s)) => s.update(chunk),
                (None, None) => {}
            }
            let _ = empty_tx.send(buf);
        }
        Ok(())
    })?;
    Ok((md5.map(Md5::hex), sha.map(Sha256::hex)))
}

/// Reads until `buf` is full or the end; returns the bytes read.
fn read_full(file: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Normalises a caller's md5: trims, lowercases, and checks it is 32 hex digits.
pub(crate) fn parse_md5(value: &str) -> Option<String> {
    parse_hex(value, 32)
}

/// Normalises a caller's sha256: trims, lowercases, and checks it is 64 hex digits.
pub(crate) fn parse_sha256(value: &str) -> Option<String> {
    parse_hex(value, 64)
}

fn parse_hex(value: &str, len: usize) -> Option<String> {
    let v = value.trim().to_ascii_lowercase();
    (v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit())).then_some(v)
}

/// The checksums a caller asked for, normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Want {
    pub(crate) md5: Option<String>,
    pub(crate) sha256: Option<String>,
}

impl Want {
    /// Checks and normalises the given checksums; `shown` names the source in errors.
    pub(crate) fn parse(md5: Option<&str>, sha256: Option<&str>, shown: &str) -> Result<Want> {
        let md5 = match md5 {
            Some(value) => Some(parse_md5(value).ok_or_else(|| Error::InvalidMd5 {
                source_name: shown.to_string(),
                value: value.to_string(),
            })?),
            None => None,
        };
        let sha256 = match sha256 {
            Some(value) => Some(parse_sha256(value).ok_or_else(|| Error::InvalidSha256 {
                source_name: shown.to_string(),
                value: value.to_string(),
            })?),
            None => None,
        };
        Ok(Want { md5, sha256 })
    }

    /// Whether any checksum is asked for.
    pub(crate) fn any(&self) -> bool {
        self.md5.is_some() || self.sha256.is_some()
    }

    /// The first mismatch between what was asked for and `got` (sha256 first), as an error
    /// naming `shown`.
    pub(crate) fn check(&self, got: &Sums, shown: &str) -> Result<()> {
        if let Some(want) = &self.sha256 {
            if *want != got.sha256 {
                return Err(Error::Sha256Mismatch {
                    source_name: shown.to_string(),
                    expected: want.clone(),
                    actual: got.sha256.clone(),
                });
            }
        }
        if let Some(want) = &self.md5 {
            if *want != got.md5 {
                return Err(Error::Md5Mismatch {
                    source_name: shown.to_string(),
                    expected: want.clone(),
                    actual: got.md5.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC_SHA: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn sums_of_known_inputs() {
        let cases: &[(&[u8], &str, &str)] = &[
            (b"", "d41d8cd98f00b204e9800998ecf8427e", EMPTY_SHA),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72", ABC_SHA),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (input, md5, sha) in cases {
            let p = dir.path().join("f");
            std::fs::write(&p, input).unwrap();
            assert_eq!(md5_file(&p).unwrap(), *md5);
            assert_eq!(sha256_file(&p).unwrap(), *sha);
            let mut h = Hasher::new();
            h.update(input);
            assert_eq!(
                h.finish(),
                Sums {
                    md5: md5.to_string(),
                    sha256: sha.to_string()
                }
            );
        }
    }

    #[test]
    fn both_at_once_equal_each_alone() {
        // Larger than one block of either size: the same as hashing in one go.
        let big: Vec<u8> = (0..9 * BUF_SIZE + 17)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, &big).unwrap();
        let mut h = Hasher::new();
        h.update(&big);
        let sums = h.finish();
        let (m, s) = hash_file(&p, true, true).unwrap();
        assert_eq!(
            (m.unwrap(), s.unwrap()),
            (sums.md5.clone(), sums.sha256.clone())
        );
        assert_eq!(md5_file(&p).unwrap(), sums.md5);
        assert_eq!(sha256_file(&p).unwrap(), sums.sha256);
        assert_eq!(hash_file(&p, false, false).unwrap(), (None, None));
    }

    /// Hands out `data` a few bytes at a time, then fails with `fail` (or ends).
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.data.len() {
                return match self.fail {
                    true => Err(std::io::Error::other("disk on fire")),
                    false => Ok(0),
                };
            }
            let n = out.len().min(self.data.len() - self.at).min(100_003);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn short_reads_and_read_errors_on_the_reading_thread() {
        let data: Vec<u8> = (0..3 * BUF_SIZE + 5).map(|i| (i % 253) as u8).collect();
        let mut h = Hasher::new();
        h.update(&data);
        let sums = h.finish();
        for (md5, sha) in [(true, false), (false, true), (true, true)] {
            let mut ok = Trickle {
                data: data.clone(),
                at: 0,
                fail: false,
            };
            let got = hash_reader(&mut ok, md5, sha).unwrap();
            let want = (
                md5.then(|| sums.md5.clone()),
                sha.then(|| sums.sha256.clone()),
            );
            assert_eq!(got, want);
            let mut bad = Trickle {
                data: data.clone(),
                at: 0,
                fail: true,
            };
            let err = hash_reader(&mut bad, md5, sha).unwrap_err();
            assert_eq!(err.to_string(), "disk on fire");
        }
    }

    #[test]
    fn md5_file_names_missing_path() {
        let err = md5_file(Path::new("/nonexistent/x")).unwrap_err();
        assert_eq!(err.to_string(), "cannot open /nonexistent/x");
    }

    #[test]
    fn parse_table() {
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
        assert_eq!(
            parse_sha256(&ABC_SHA.to_uppercase()).as_deref(),
            Some(ABC_SHA)
        );
        assert_eq!(parse_sha256(&ABC_SHA[1..]), None);
        assert_eq!(parse_sha256("d41d8cd98f00b204e9800998ecf8427e"), None);
    }

    #[test]
    fn want_checks_sha256_then_md5() {
        let got = Sums {
            md5: "a".repeat(32),
            sha256: "b".repeat(64),
        };
        let both = Want::parse(Some(&"a".repeat(32)), Some(&"b".repeat(64)), "src").unwrap();
        assert!(both.any());
        both.check(&got, "src").unwrap();
        let bad_sha = Want::parse(Some(&"a".repeat(32)), Some(&"c".repeat(64)), "src").unwrap();
        assert!(matches!(
            bad_sha.check(&got, "src"),
            Err(Error::Sha256Mismatch { .. })
        ));
        let bad_md5 = Want::parse(Some(&"c".repeat(32)), Some(&"b".repeat(64)), "src").unwrap();
        assert!(matches!(
            bad_md5.check(&got, "src"),
            Err(Error::Md5Mismatch { .. })
        ));
        assert!(!Want::default().any());
        let err = Want::parse(None, Some("xyz"), "http://***@h/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid sha256 \"xyz\" for http://***@h/b: expected 64 hex digits"
        );
    }
}
