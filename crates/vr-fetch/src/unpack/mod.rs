//! `unpack`: a compressed tarball into a directory, safely and atomically.

mod budget;
mod gz;
mod meter;
mod path;
mod pipe;
mod rules;
mod sys;
mod tree;
mod xattrs;

use crate::error::{io, Error, Result};
use crate::limits::UnpackLimits;
use crate::lock::{lock_path, EntryLock};
use crate::temp::TempDir;
use budget::Budget;
use meter::{Meter, Metered};
use pipe::{Chunks, Pipe, Source};
use std::fs::{self, File};
use std::io::{BufReader, ErrorKind};
use std::path::{Path, PathBuf};
use tree::{Fail, Tree};
use vr_stop::Stop;

pub use rules::{IdShift, Policy};

/// Read size for the compressed file.
const READ_BUF: usize = 256 * 1024;

/// How to unpack. The default keeps everything as stored: an OS image unpacked for a container
/// without a user namespace, within the default [`UnpackLimits`], stopped by the process's
/// stop flag.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Give everything unpacked to this (uid, gid), host ids, whatever `shift` says. When
    /// None, root keeps the numeric owners stored in the tarball (shifted by `shift`), and
    /// anyone else owns what they unpack.
    pub owner: Option<(u32, u32)>,
    /// Shift the stored owners into a user namespace's range on the host: uid `u` becomes
    /// `uid_base + u`, gid `g` becomes `gid_base + g`, and folders with no entry of their own
    /// (the root without a `./` entry, parents of entries) belong to `(uid_base, gid_base)`.
    /// A stored id at or above `count` refuses the whole tarball ([`Error::UnsafeEntry`]),
    /// whoever unpacks; ownership changes need root. Owners ignore it when `owner` is given;
    /// the ids inside xattrs follow it whoever owns the files: ACL ids are shifted, and a file
    /// capability becomes a version 3 capability of the root `uid_base` + its stored root id
    /// (one at or above `count` refuses the tarball too).
    pub shift: Option<IdShift>,
    /// How far the tarball's author is trusted: [`Policy::Image`] keeps everything,
    /// [`Policy::Build`] refuses device nodes and drops setuid, setgid, file capabilities,
    /// ACLs and a writable top folder.
    pub policy: Policy,
    /// The folder the tree is unpacked in before it is renamed into place (default: the
    /// target's parent). It must be on the target's file system. Give one that only the
    /// unpacker can write when the target's parent is writable by someone else (a
    /// container's layer): the tree being written is then out of their reach.
    pub staging: Option<PathBuf>,
    /// How much the unpack may write: bytes (declared sparse sizes included), entries, and
    /// the free space it leaves on the target's file system.
    pub limits: UnpackLimits,
    /// Stops the unpack between entries when set (default: the process's flag, see
    /// [`crate::interrupt`]).
    pub stop: Stop,
}

impl Default for UnpackOptions {
    fn default() -> UnpackOptions {
        UnpackOptions {
            owner: None,
            shift: None,
            policy: Policy::default(),
            staging: None,
            limits: UnpackLimits::default(),
            stop: Stop::process(),
        }
    }
}

impl UnpackOptions {
    /// The shift an unpack with these options applies to the files on disk: `shift` when
    /// running as root with no fixed owner, else none (nothing is chowned, or everything goes
    /// to `owner`).
    pub(crate) fn shift_on_disk(&self) -> Option<IdShift> {
        let euid = nix::unistd::geteuid().as_raw();
        rules::Ownership::decide(euid, self.owner).shift_on_disk(self.shift)
    }
}

/// The compression of a tarball, told by its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `.tar.gz`, `.tgz`
    Gzip,
    /// `.tar.bz2`, `.tbz2`, `.tbz`
    Bzip2,
    /// `.tar.xz`, `.txz`
    Xz,
    /// `.tar.zst`, `.tzst`
    Zstd,
}

impl Compression {
    /// The compression named by `path`'s extension; anything else is
    /// [`Error::UnknownCompression`].
    pub fn from_path(path: &Path) -> Result<Compression> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let ends = |exts: &[&str]| exts.iter().any(|e| name.ends_with(e));
        if ends(&[".tar.gz", ".tgz"]) {
            Ok(Compression::Gzip)
        } else if ends(&[".tar.bz2", ".tbz2", ".tbz"]) {
            Ok(Compression::Bzip2)
        } else if ends(&[".tar.xz", ".txz"]) {
            Ok(Compression::Xz)
        } else if ends(&[".tar.zst", ".tzst"]) {
            Ok(Compression::Zstd)
        } else {
            Err(Error::UnknownCompression {
                path: path.to_path_buf(),
            })
        }
    }

    /// The decompressed stream of `file`. Every format reads concatenated streams
    /// (`cat a.tar.gz b.tar.gz`, pigz/pzstd output) through to the end.
    fn decoder(self, file: File) -> std::io::Result<Box<dyn Source>> {
        let buffered = |file| BufReader::with_capacity(READ_BUF, file);
        Ok(match self {
            // It reads ahead itself, and inflates a whole member at a time when it can.
            Compression::Gzip => Box::new(gz::Gz::new(file)?),
            Compression::Bzip2 => {
                Box::new(Chunks(bzip2::bufread::MultiBzDecoder::new(buffered(file))))
            }
            // A stream declares its dictionary, up to 4 GiB, which liblzma would allocate (and
            // touch as the output grows): bounded as zstd's window is.
            Compression::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(
                    XZ_MEMORY,
                    liblzma::stream::CONCATENATED,
                )
                .map_err(std::io::Error::from)?;
                Box::new(Chunks(XzLimited(liblzma::bufread::XzDecoder::new_stream(
                    buffered(file),
                    stream,
                ))))
            }
            // zstd's default window limit (2^27 bytes, what `zstd --long` writes) bounds the
            // memory a hostile frame header can ask for; larger windows are refused.
            Compression::Zstd => Box::new(Chunks(zstd::stream::read::Decoder::with_buffer(
                buffered(file),
            )?)),
        })
    }
}

/// The most memory an xz stream may take to decode: `xz -9` needs 65 MiB.
const XZ_MEMORY: u64 = 256 << 20;

/// An xz decoder whose memory-limit error says what was refused.
struct XzLimited<R>(R);

impl<R: std::io::Read> std::io::Read for XzLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let over = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<liblzma::stream::Error>())
                .is_some_and(|inner| matches!(inner, liblzma::stream::Error::MemLimit));
            match over {
                true => std::io::Error::other(format!(
                    "the xz stream needs more than {} MiB of memory to decode (a dictionary \
                     larger than xz -9's 64 MiB can make it): refused",
                    XZ_MEMORY >> 20
                )),
                false => e,
            }
        })
    }
}

/// Unpacks `tarball` (gzip, bzip2, xz or zstd, by extension) into `target`: into a temp dir
/// beside `target`, renamed into place when complete; an existing `target` is replaced. An
/// entry that would land outside, or be written through a symlink, refuses the whole tarball,
/// and so does going past one of [`UnpackOptions::limits`]: then nothing is left under
/// `target` or beside it. What an earlier, killed unpack of `target` left in the staging
/// folder is removed first.
pub fn unpack(tarball: &Path, target: &Path, opts: &UnpackOptions) -> Result<()> {
    Compression::from_path(tarball)?;
    let file = File::open(tarball).map_err(io("open", tarball))?;
    unpack_from(tarball, file, target, opts, None).map(|_| ())
}

/// Like [`unpack`], but an existing `target` is not removed: it is moved, in the same step
/// that puts the new tree in place, to a new folder beside it whose name starts with
/// `retire_prefix`, and that folder is returned. A tree that running containers use as their
/// lower layer must not be deleted under them.
pub fn unpack_retiring(
    tarball: &Path,
    target: &Path,
    opts: &UnpackOptions,
    retire_prefix: &str,
) -> Result<Option<PathBuf>> {
    Compression::from_path(tarball)?;
    let file = File::open(tarball).map_err(io("open", tarball))?;
    unpack_from(tarball, file, target, opts, Some(retire_prefix))
}

/// Unpacks the open `file` (named `tarball`: its name says the compression, and errors name
/// it) into `target`, retiring an existing one under `retire_prefix` when given.
pub(crate) fn unpack_from(
    tarball: &Path,
    file: File,
    target: &Path,
    opts: &UnpackOptions,
    retire_prefix: Option<&str>,
) -> Result<Option<PathBuf>> {
    let compression = Compression::from_path(tarball)?;
    let name = target
        .file_name()
        .ok_or_else(|| {
            io("unpack into", target)(std::io::Error::new(
                ErrorKind::InvalidInput,
                "the target has no file name",
            ))
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io("create directory", &parent))?;
    let staging = opts.staging.clone().unwrap_or_else(|| parent.clone());
    crate::temp::sweep(&staging, &name);
    let tmp = TempDir::new(&staging, &name).map_err(io("create temp dir in", &staging))?;
    let result = Budget::new(tmp.path(), opts.limits)
        .map_err(io("look at the free space of", tmp.path()))
        .and_then(|budget| fill(tarball, compression, file, tmp.path(), opts, budget))
        .and_then(|()| place(tmp.path(), target))
        .and_then(|swapped| match (swapped, retire_prefix) {
            (true, Some(prefix)) => retire(tmp.path(), &parent, prefix).map(Some),
            _ => Ok(None),
        });
    let tmp_path = tmp.path().to_path_buf();
    // On success the temp name holds nothing, or the replaced old tree; on failure the partial
    // unpack. Either way it goes.
    let cleanup = tmp.close().err();
    match (result, cleanup) {
        (Ok(retired), None) => Ok(retired),
        (Ok(_), Some(e)) => Err(io("remove the replaced tree at", tmp_path)(e)),
        (Err(e), None) => Err(e),
        (Err(e), Some(cleanup)) => Err(Error::Cleanup {
            path: tmp_path,
            cleanup,
            error: Box::new(e),
        }),
    }
}

/// Like [`unpack`], under the lock `<target>.lock`, and only when `target` does not exist yet.
/// Returns whether it unpacked. Concurrent callers wait for one another, and all but the first
/// find the target in place.
pub fn unpack_once(tarball: &Path, target: &Path, opts: &UnpackOptions) -> Result<bool> {
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io("create directory", parent))?;
    }
    let _lock = EntryLock::acquire(&lock_path(target))?;
    match fs::symlink_metadata(target) {
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io("stat", target)(e)),
    }
    unpack(tarball, target, opts)?;
    Ok(true)
}

/// An entry name as errors show it: at most 200 characters.
fn short(name: &str) -> String {
    const MAX: usize = 200;
    match name.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_string(),
    }
}

/// Writes every entry of the tarball under `root`, within `budget`.
fn fill(
    tarball: &Path,
    compression: Compression,
    file: File,
    root: &Path,
    opts: &UnpackOptions,
    budget: Budget,
) -> Result<()> {
    let tar_err = |source| Error::Tar {
        tarball: tarball.to_path_buf(),
        source,
    };
    let pipe = compression
        .decoder(file)
        .and_then(Pipe::spawn)
        .map_err(io("start unpacking", tarball))?;
    // The tar crate reads a long name (GNU `L`/`K`) or a pax header (`x`) whole into memory
    // before it hands out the entry they belong to: what it reads between two entries is
    // metered (a hostile 200 MB "name" is refused before it is held) and kept, for the pax
    // records as stored (see [`meter`]).
    let meter = Meter::default();
    let mut archive = tar::Archive::new(Metered {
        inner: pipe,
        meter: meter.clone(),
    });
    let mut tree = Tree::new(root, opts, budget);
    let mut entries = archive.entries().map_err(tar_err)?;
    // Where the crate looks for the next entry's headers: after the last entry's data.
    let mut next_header = 0;
    loop {
        meter.between_entries(true);
        let next = entries.next();
        meter.between_entries(false);
        let Some(entry) = next else { break };
        opts.stop
            .check()
            .map_err(|i| Error::Interrupted { signal: i.0 })?;
        let mut entry = entry.map_err(tar_err)?;
        let pax = meter.local_pax(next_header, entry.raw_header_position());
        next_header = meter::after_data(&entry, meter.pos());
        let added = pax
            .map_err(Fail::Unsafe)
            .and_then(|pax| tree.add(&mut entry, pax.as_deref()));
        added.map_err(|fail| {
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            failed(tarball, &name, fail)
        })?;
    }
    tree.finish().map_err(|(rel, fail)| {
        let name = if rel.as_os_str().is_empty() {
            ".".to_string()
        } else {
            rel.to_string_lossy().into_owned()
        };
        failed(tarball, &name, fail)
    })
}

/// The error for the entry `name` of `tarball` that failed with `fail`.
fn failed(tarball: &Path, name: &str, fail: Fail) -> Error {
    let tarball = tarball.to_path_buf();
    let entry = short(name);
    match fail {
        Fail::Unsafe(reason) => Error::UnsafeEntry {
            tarball,
            entry,
            reason,
        },
        Fail::Read(source) => Error::Tar { tarball, source },
        Fail::Write(source) => Error::Entry {
            tarball,
            entry,
            source,
        },
        Fail::Limit(limit) => Error::UnpackLimit {
            tarball,
            entry,
            limit,
        },
        Fail::Xattr { name, source } => Error::Xattr {
            tarball,
            entry,
            name,
            source,
        },
    }
}

/// Moves the complete tree at `tmp` to `target`; an existing `target` is swapped with it in
/// one step (RENAME_EXCHANGE), so `target` is never missing or half-written. Returns whether
/// it swapped (then `tmp` holds the old tree).
fn place(tmp: &Path, target: &Path) -> Result<bool> {
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == ErrorKind::NotFound => fs::rename(tmp, target)
            .map(|()| false)
            .map_err(io("rename into place", target)),
        Err(e) => Err(io("stat", target)(e)),
        Ok(_) => nix::fcntl::renameat2(
            None,
            tmp,
            None,
            target,
            nix::fcntl::RenameFlags::RENAME_EXCHANGE,
        )
        .map(|()| true)
        .map_err(|errno| io("replace", target)(errno.into())),
    }
}

/// Moves the replaced tree at `old` to a new folder `<parent>/<prefix>XXXXXX` and returns it.
fn retire(old: &Path, parent: &Path, prefix: &str) -> Result<PathBuf> {
    let keep = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(io("create a folder in", parent))?
        .keep();
    // Renaming a folder onto an empty one replaces it.
    fs::rename(old, &keep).map_err(io("keep the replaced tree at", &keep))?;
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_table() {
        let cases = [
            ("a.tar.gz", Some(Compression::Gzip)),
            ("A.TGZ", Some(Compression::Gzip)),
            ("a.tar.bz2", Some(Compression::Bzip2)),
            ("a.tbz2", Some(Compression::Bzip2)),
            ("a.tar.xz", Some(Compression::Xz)),
            ("a.txz", Some(Compression::Xz)),
            ("a.tar.zst", Some(Compression::Zstd)),
            ("A.TZST", Some(Compression::Zstd)),
            ("a.zst", None),
            ("a.tar.zstd", None),
            ("a.tar", None),
            ("a.zip", None),
            ("a.gz.tar", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(Compression::from_path(Path::new(name)).ok(), want, "{name}");
        }
    }

    #[test]
    fn unknown_compression_is_named() {
        let err = unpack(
            Path::new("/srv/image.zip"),
            Path::new("/tmp/x"),
            &UnpackOptions::default(),
        )
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown compression for /srv/image.zip: expected .tar.gz, .tgz, .tar.bz2, .tbz2, .tbz, .tar.xz, .txz, .tar.zst or .tzst")
        );
    }
}
