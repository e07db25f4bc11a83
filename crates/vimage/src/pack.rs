//! Packing a rootfs into an image tarball (`.tar.gz` or `.tar.zst`): entries byte for byte as
//! GNU tar writes `tar --sort=name --numeric-owner -C root -cf - .` (names `./`, `./bin/`,
//! `./bin/sh`, see `walk.rs`), ownership, modes, mtimes, symlinks, hardlinks, FIFOs,
//! device nodes and the xattrs vr carries (PAX records, as `tar --xattrs --acls` writes them)
//! preserved, compressed on every core ([`crate::pgz`], [`crate::zst`]), written to a temp file
//! beside the output, fsynced and renamed into place.
//!
//! The same tree gives the same bytes, whatever the number of threads; with a
//! `SOURCE_DATE_EPOCH` ([`PackOptions::source_date_epoch`]) no mtime is later than it, so two
//! builds that make the same files make the same tarball.

use crate::pgz::ParGz;
use std::ffi::OsStr;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub use vr_proc::ImageFormat;

/// The gzip level: gzip's and pigz's default (libdeflate's 6 is about 1 % smaller than
/// zlib's, see [`crate::pgz`]).
pub const GZIP_LEVEL: u32 = 6;

/// The environment variable that clamps the mtimes of a build's tarball (read by vimage).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Why a rootfs could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading the tree failed at `path`.
    #[error("cannot read {path}")]
    Read {
        /// The file or folder that failed.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Packing was cancelled (a signal arrived); nothing was left behind.
    #[error("packing was interrupted")]
    Cancelled,
    /// Writing the tarball failed.
    #[error("cannot write {path}")]
    Write {
        /// The tarball (or its temp file).
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `SOURCE_DATE_EPOCH` is set to something else than a number of seconds.
    #[error("SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC (like 1700000000), not {value:?}")]
    SourceDateEpoch {
        /// What it was set to.
        value: String,
    },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The tarball.
    pub path: PathBuf,
    /// Its md5, lowercase hex.
    pub md5: String,
    /// Its sha256, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// How [`pack`] packs.
pub struct PackOptions<'a> {
    /// Compression threads (at least one is used). The bytes do not depend on it.
    pub threads: usize,
    /// The user namespace whose host ids the tree's owners are: they are written as the
    /// container saw them (see [`unshifted`]), so a published image says uid 0, never 100000.
    pub unshift: Option<vr_lxc::IdMap>,
    /// Paths relative to the root that are left out (with everything under them).
    pub exclude: &'a [PathBuf],
    /// gzip or zstd.
    pub format: ImageFormat,
    /// No mtime in the tarball is later than this (seconds since 1970): the
    /// `SOURCE_DATE_EPOCH` convention of reproducible builds (GNU tar's `--clamp-mtime`).
    pub source_date_epoch: Option<u64>,
    /// Asked before each entry, as a file's bytes are read and before the rename: when it
    /// says true, packing stops with [`PackError::Cancelled`] and nothing is left behind.
    pub cancel: &'a dyn Fn() -> bool,
}

fn never() -> bool {
    false
}

impl Default for PackOptions<'_> {
    /// Every core, gzip, nothing excluded, owners as they are, mtimes as they are.
    fn default() -> Self {
        PackOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            unshift: None,
            exclude: &[],
            format: ImageFormat::default(),
            source_date_epoch: None,
            cancel: &never,
        }
    }
}

/// Reads `SOURCE_DATE_EPOCH`'s value: `None` when unset, the seconds when it is a
/// non-negative integer (ASCII digits only), an error naming the variable otherwise (an empty
/// value too: a build that asked for reproducible bytes must not quietly get others).
pub fn source_date_epoch(value: Option<&OsStr>) -> Result<Option<u64>, PackError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    match text.parse::<u64>() {
        Ok(secs) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(secs)),
        _ => Err(PackError::SourceDateEpoch {
            value: value.to_string_lossy().into_owned(),
        }),
    }
}

/// The owner a file of a user-namespaced tree gets in the tarball: its id as the container
/// saw it (host id minus the map's base), or 65534 (the kernel's overflow id, what the
/// container saw too) for a host id outside the map.
pub fn unshifted(host_id: u32, base: u32, count: u32) -> u32 {
    match host_id.checked_sub(base) {
        Some(id) if id < count => id,
        _ => OVERFLOW_ID,
    }
}

/// The id a user namespace shows for an unmapped host id.
pub const OVERFLOW_ID: u32 = 65_534;

/// GNU tar's record (its default blocking factor of 20 blocks of 512 bytes).
const RECORD: u64 = 20 * 512;

/// A writer that counts the bytes it passes on.
struct Counted<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The compressor of the chosen format, over the hashing file writer.
enum Compressor<W: Write + Send + 'static> {
    Gzip(ParGz<W>),
    Zstd(crate::zst::ZstWriter<W>),
}

impl<W: Write + Send + 'static> Compressor<W> {
    fn new(out: W, format: ImageFormat, threads: usize) -> io::Result<Self> {
        Ok(match format {
            ImageFormat::Gzip => Compressor::Gzip(ParGz::new(out, threads, GZIP_LEVEL)?),
            ImageFormat::Zstd => Compressor::Zstd(crate::zst::ZstWriter::new(out, threads)?),
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gzip(gz) => gz.finish(),
            Compressor::Zstd(zst) => zst.finish(),
        }
    }
}

impl<W: Write + Send + 'static> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(gz) => gz.write(buf),
            Compressor::Zstd(zst) => zst.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gzip(gz) => gz.flush(),
            Compressor::Zstd(zst) => zst.flush(),
        }
    }
}

/// Packs the tree at `root` into `out` as `opts` say. On error (and when cancelled) nothing
/// is left at `out` or beside it.
pub fn pack(root: &Path, out: &Path, opts: &PackOptions) -> Result<Packed, PackError> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let werr = |source| PackError::Write {
        path: out.to_path_buf(),
        source,
    };
    // No name until it is complete (O_TMPFILE where the file system has it): a vimage killed
    // outright leaves nothing in the output folder. Mode 0644 from the start, set on the
    // descriptor (the folder may be writable by another user: nothing is done by path).
    let tmp = vr_fs::Unnamed::new_in(dir, ".vimage-", 0o644).map_err(werr)?;
    let file = tmp.as_file().try_clone().map_err(werr)?;
    let hashing = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        md5: md5::Context::new(),
        sha256: sha2::Sha256::default(),
        size: 0,
    };
    let compressor = Compressor::new(hashing, opts.format, opts.threads).map_err(werr)?;
    // The archive reaches the compressor in 1 MiB writes, not in tar's 512-byte headers and
    // 8 KiB reads: each write into zstd's multithreaded stream takes its locks.
    let mut builder = tar::Builder::new(Counted {
        inner: BufWriter::with_capacity(1 << 20, compressor),
        written: 0,
    });
    crate::walk::walk(&mut builder, root, out, opts)?;
    // The end (two zero blocks), then zeros to a whole record as GNU tar pads: the archive
    // inside is byte for byte what `tar --sort=name --numeric-owner -cf` writes.
    let mut counted = builder.into_inner().map_err(werr)?;
    let pad = (RECORD - counted.written % RECORD) % RECORD;
    io::copy(&mut io::repeat(0).take(pad), &mut counted).map_err(werr)?;
    let compressor = counted
        .inner
        .into_inner()
        .map_err(|e| werr(e.into_error()))?;
    // A cancel while the last entry was written: asked once more before anything is kept.
    if (opts.cancel)() {
        return Err(PackError::Cancelled);
    }
    let hashing = compressor.finish().map_err(werr)?;
    let (md5, size) = (format!("{:x}", hashing.md5.compute()), hashing.size);
    let sha256: String = sha2::Digest::finalize(hashing.sha256)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file = hashing
        .inner
        .into_inner()
        .map_err(|e| werr(e.into_error()))?;
    file.sync_all().map_err(werr)?;
    // The sidecars `<out>.md5` and `<out>.sha256` (md5sum/sha256sum lines) are written before
    // and renamed right after the tarball: a failed build leaves the previous three alone.
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sidecars = [("md5", &md5), ("sha256", &sha256)]
        .into_iter()
        .map(|(ext, sum)| sidecar(dir, out, ext, &format!("{sum}  {name}\n")))
        .collect::<Result<Vec<_>, PackError>>()?;
    tmp.persist(out).map_err(werr)?;
    for (tmp, path) in sidecars {
        tmp.persist(&path).map_err(|source| PackError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(Packed {
        path: out.to_path_buf(),
        md5,
        sha256,
        size,
    })
}

/// A sidecar of `out` (`<out>.<ext>` holding `text`) in a temp file of `dir`, mode 0644,
/// synced, ready to be renamed into place; with the path it goes to.
fn sidecar(
    dir: &Path,
    out: &Path,
    ext: &str,
    text: &str,
) -> Result<(vr_fs::Unnamed, PathBuf), PackError> {
    let path = PathBuf::from(format!("{}.{ext}", out.display()));
    let werr = |source| PackError::Write {
        path: path.clone(),
        source,
    };
    let mut tmp = vr_fs::Unnamed::new_in(dir, ".vimage-", 0o644).map_err(werr)?;
    tmp.as_file_mut().write_all(text.as_bytes()).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    Ok((tmp, path))
}

struct HashingWriter<W: Write> {
    inner: W,
    md5: md5::Context,
    sha256: sha2::Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.md5.consume(&buf[..n]);
        sha2::Digest::update(&mut self.sha256, &buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
