//! Packing a rootfs into a `.tar.gz`: entries in a stable (byte-wise sorted, depth-first)
//! order, ownership, modes, mtimes, symlinks, hardlinks, FIFOs and device nodes preserved,
//! paths relative to the root (`./`, `./bin`, ... as `tar -C root .` writes them), compressed
//! on every core by [`crate::pgz::ParGz`], written to a temp file beside the output, fsynced
//! and renamed into place. The same tree gives the same bytes.

use crate::pgz::ParGz;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

/// Packs the tree at `root` into `out` (a `.tar.gz`), leaving out the paths in `exclude`
/// (relative to `root`). Uses `threads` compression threads. On error nothing is left at
/// `out` or beside it.
pub fn pack(
    root: &Path,
    out: &Path,
    exclude: &[PathBuf],
    threads: usize,
) -> Result<Packed, PackError> {
    pack_with(root, out, exclude, threads, None, &|| false)
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

/// [`pack`], asking `cancel` before each entry, as a file's bytes are read and before the
/// rename: when it says true, packing stops with
/// [`PackError::Cancelled`] and nothing is left at `out` or beside it. With `unshift`, the
/// tree's owners are host ids of that user namespace and are written as the container saw
/// them (see [`unshifted`]): a published image says uid 0, never 100000.
pub fn pack_with(
    root: &Path,
    out: &Path,
    exclude: &[PathBuf],
    threads: usize,
    unshift: Option<vr_lxc::IdMap>,
    cancel: &dyn Fn() -> bool,
) -> Result<Packed, PackError> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let werr = |source| PackError::Write {
        path: out.to_path_buf(),
        source,
    };
    let tmp = tempfile::Builder::new()
        .prefix(".vimage-")
        .suffix(".tar.gz.part")
        .tempfile_in(dir)
        .map_err(werr)?;
    let file = tmp.as_file().try_clone().map_err(werr)?;
    let hashing = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        md5: md5::Context::new(),
        sha256: sha2::Sha256::default(),
        size: 0,
    };
    let gz = ParGz::new(hashing, threads, 6).map_err(werr)?;
    let mut builder = tar::Builder::new(gz);
    builder.follow_symlinks(false);
    let mut walker = Walker {
        builder: &mut builder,
        links: HashMap::new(),
        exclude,
        root,
        unshift,
        cancel,
    };
    walker.entry(root, Path::new(""))?;
    let gz = builder.into_inner().map_err(werr)?;
    // A cancel while the last entry was written: asked once more before anything is kept.
    if cancel() {
        return Err(PackError::Cancelled);
    }
    let hashing = gz.finish().map_err(werr)?;
    let (md5, size) = (format!("{:x}", hashing.md5.compute()), hashing.size);
    let sha256: String = sha2::Digest::finalize(hashing.sha256)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file = hashing
        .inner
        .into_inner()
        .map_err(|e| werr(e.into_error()))?;
    // The mode goes on the open temp file (fchmod), before the rename: the output folder may
    // be writable by another user, and a chmod by path after the rename would follow a symlink
    // swapped in at `out` in between. Nothing touches `out` by path after the rename.
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(werr)?;
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
    tmp.persist(out).map_err(|e| werr(e.error))?;
    for (tmp, path) in sidecars {
        tmp.persist(&path).map_err(|e| PackError::Write {
            path: path.clone(),
            source: e.error,
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
) -> Result<(tempfile::NamedTempFile, PathBuf), PackError> {
    let path = PathBuf::from(format!("{}.{ext}", out.display()));
    let werr = |source| PackError::Write {
        path: path.clone(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".vimage-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(werr)?;
    tmp.write_all(text.as_bytes()).map_err(werr)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    Ok((tmp, path))
}

/// A reader that fails once `cancel` says so (the error becomes [`PackError::Cancelled`]).
struct Cancellable<'a, R> {
    inner: R,
    cancel: &'a dyn Fn() -> bool,
}

impl<R: io::Read> io::Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if (self.cancel)() {
            // Not ErrorKind::Interrupted: io::copy would retry it.
            return Err(io::Error::other("packing was cancelled"));
        }
        self.inner.read(buf)
    }
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

struct Walker<'a, W: Write> {
    builder: &'a mut tar::Builder<W>,
    /// (dev, ino) of files with several links -> the archive name first written. Names are
    /// relative to the root without a `./` prefix; the root itself is written as `./`.
    links: HashMap<(u64, u64), PathBuf>,
    exclude: &'a [PathBuf],
    root: &'a Path,
    unshift: Option<vr_lxc::IdMap>,
    cancel: &'a dyn Fn() -> bool,
}

impl<W: Write> Walker<'_, W> {
    fn entry(&mut self, path: &Path, name: &Path) -> Result<(), PackError> {
        if (self.cancel)() {
            return Err(PackError::Cancelled);
        }
        let rerr = |source| PackError::Read {
            path: path.to_path_buf(),
            source,
        };
        let werr = |source| PackError::Write {
            path: PathBuf::from("archive"),
            source,
        };
        let meta = fs::symlink_metadata(path).map_err(rerr)?;
        let ft = meta.file_type();
        let mut header = tar::Header::new_gnu();
        header.set_mode(meta.mode() & 0o7777);
        let (uid, gid) = match self.unshift {
            Some(m) => (
                unshifted(meta.uid(), m.host_uid, m.count),
                unshifted(meta.gid(), m.host_gid, m.count),
            ),
            None => (meta.uid(), meta.gid()),
        };
        header.set_uid(u64::from(uid));
        header.set_gid(u64::from(gid));
        header.set_mtime(meta.mtime().max(0) as u64);
        header.set_size(0);
        if ft.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            let dir_name = if name.as_os_str().is_empty() {
                Path::new("./")
            } else {
                name
            };
            self.builder
                .append_data(&mut header, dir_name, io::empty())
                .map_err(werr)?;
            let mut children: Vec<OsString> = fs::read_dir(path)
                .map_err(rerr)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .map_err(rerr)?;
            children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for child in children {
                let rel = name.join(&child);
                if self.exclude.contains(&rel) {
                    continue;
                }
                self.entry(&self.root.join(&rel), &rel)?;
            }
            return Ok(());
        }
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                let first = first.clone();
                return self
                    .builder
                    .append_link(&mut header, name, &first)
                    .map_err(werr);
            }
            self.links.insert(key, name.to_path_buf());
        }
        if ft.is_file() {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            let file = File::open(path).map_err(rerr)?;
            // A file that changes size while being read would corrupt the archive; tar's
            // append_data reads exactly `size` bytes and fails on a short read. A large file
            // takes seconds: the cancel is asked as it is read too.
            let cancel = self.cancel;
            let reader = Cancellable {
                inner: file,
                cancel,
            };
            self.builder
                .append_data(&mut header, name, reader)
                .map_err(|e| {
                    if cancel() {
                        PackError::Cancelled
                    } else {
                        werr(e)
                    }
                })
        } else if ft.is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            let target = fs::read_link(path).map_err(rerr)?;
            self.builder
                .append_link(&mut header, name, &target)
                .map_err(werr)
        } else if ft.is_char_device() || ft.is_block_device() {
            header.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            let rdev = meta.rdev();
            header.set_device_major(libc::major(rdev)).map_err(werr)?;
            header.set_device_minor(libc::minor(rdev)).map_err(werr)?;
            self.builder
                .append_data(&mut header, name, io::empty())
                .map_err(werr)
        } else if ft.is_fifo() {
            header.set_entry_type(tar::EntryType::Fifo);
            self.builder
                .append_data(&mut header, name, io::empty())
                .map_err(werr)
        } else {
            // Sockets cannot be archived (GNU tar skips them too).
            Ok(())
        }
    }
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
