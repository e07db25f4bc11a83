//! `ensure_unpacked`: a tarball fetched into the cache and unpacked once beside it, shared by
//! every user of the cache entry (vrun's images, vimage's base images); and
//! `fetch_and_unpack`: a tarball fetched into the cache and unpacked into a folder of its own
//! (a proc's build).
//!
//! Beside the unpacked folder a stamp (see [`crate::stamp_path`]) records what the folder came
//! from: the tarball's md5 and sha256, that its xattrs were restored, and the id shift it was
//! unpacked with. When the folder exists and the stamp has every checksum asked for and the
//! same shift, nothing is read at all: a cached image of hundreds of MB is not hashed again on
//! every use. Without a checksum the tarball is revalidated with its source first (see
//! [`crate::fetch`]), and the folder is kept when the tarball is the one it was unpacked from.
//! Otherwise, under the lock `<folder>.lock`, a folder that is missing or was unpacked from
//! another tarball, with another shift or by an older version (without the tarball's xattrs)
//! is (re)unpacked and stamped; concurrent callers wait for one another and
//! unpack once. A folder replaced that way is kept as `.<folder>.<its md5>.XXXXXX` (see
//! [`Unpacked::Ensured`]).
//!
//! The tarball is unpacked from the file opened when it was checked, so another caller
//! replacing the cache entry meanwhile changes nothing. A tarball that does not unpack
//! (corrupt, cut short, or with a refused entry) is not kept as good: it is removed from the
//! cache ([`crate::Error::Discarded`]), so that the next run fetches it again. One that goes
//! past an unpack limit stays: raising the limit is enough.

use crate::error::{io, Error, Result};
use crate::fetch::{fetch_open, FetchOptions, Fetched};
use crate::hash::{Sums, Want};
use crate::lock::{lock_path, EntryLock};
use crate::progress::Progress;
use crate::redact::redact;
use crate::stamp::{self, stamp_path};
use crate::unpack::{unpack_from, UnpackOptions};
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What [`ensure_unpacked`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpacked {
    /// The folder was in place and its stamp matched: nothing was read.
    Cached,
    /// The tarball was ensured (and maybe downloaded); `unpacked` says whether it was unpacked
    /// now (false: another caller had already done it, with the same shift).
    Ensured {
        /// The tarball in the cache.
        fetched: Fetched,
        /// Whether this call unpacked it.
        unpacked: bool,
        /// Where the folder unpacked from another tarball (or with another shift) went, when
        /// this call replaced one: it is kept, not deleted, because running containers may
        /// still use it.
        retired: Option<PathBuf>,
    },
}

/// Makes sure `contents` holds the unpacked tarball `source` (cached at `tarball`, with md5
/// `md5` when given). See [`ensure_unpacked_with`].
pub fn ensure_unpacked(
    source: &str,
    tarball: &Path,
    contents: &Path,
    md5: Option<&str>,
    opts: &UnpackOptions,
    progress: &dyn Progress,
) -> Result<Unpacked> {
    let fetch = FetchOptions {
        md5: md5.map(str::to_owned),
        ..FetchOptions::default()
    };
    ensure_unpacked_with(source, tarball, contents, &fetch, opts, progress)
}

/// Makes sure `contents` holds the unpacked tarball `source`, cached at `tarball` as `fetch`
/// asks and unpacked as `unpack` asks. See the module docs.
pub fn ensure_unpacked_with(
    source: &str,
    tarball: &Path,
    contents: &Path,
    fetch: &FetchOptions,
    unpack: &UnpackOptions,
    progress: &dyn Progress,
) -> Result<Unpacked> {
    let want = Want::parse(
        fetch.md5.as_deref(),
        fetch.sha256.as_deref(),
        &redact(source),
    )?;
    let stamp_file = stamp_path(contents);
    let shift = unpack.shift_on_disk();
    let trusted = want.any() || !fetch.revalidate;
    if trusted
        && contents.is_dir()
        && stamp::read(&stamp_file).is_some_and(|s| s.matches_want(&want, tarball, shift))
    {
        return Ok(Unpacked::Cached);
    }
    let (fetched, file) = fetch_open(source, tarball, fetch, progress)?;
    let sums = Sums {
        md5: fetched.md5.clone(),
        sha256: fetched.sha256.clone(),
    };
    if let Some(parent) = contents.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io("create directory", parent))?;
    }
    let _lock = EntryLock::acquire(&lock_path(contents))?;
    crate::interrupt::remove_stale_temps(contents);
    let current = stamp::read(&stamp_file);
    if contents.is_dir()
        && current
            .as_ref()
            .is_some_and(|s| s.matches_sums(&sums, shift))
    {
        return Ok(Unpacked::Ensured {
            fetched,
            unpacked: false,
            retired: None,
        });
    }
    // Missing, or unpacked from another tarball, with other ids or by a version that dropped
    // xattrs: the new tree is swapped in atomically, and an old one is kept beside it
    // (containers started from it use it as their lower layer; deleting it would pull their
    // files away under them).
    let old_md5 = current
        .map(|s| s.md5)
        .filter(|m| m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".into());
    remove(&stamp_file)?;
    let prefix = format!(".{}.{old_md5}.", file_name(contents));
    let retired = unpack_cached(tarball, file, contents, unpack, Some(&prefix))?;
    let text = stamp::render(&sums, tarball, shift);
    fs::write(&stamp_file, text).map_err(io("write", &stamp_file))?;
    Ok(Unpacked::Ensured {
        fetched,
        unpacked: true,
        retired,
    })
}

/// Makes sure `tarball` holds the file at `source` as `fetch` asks (see [`crate::fetch`]),
/// then unpacks it into `target` as `unpack` asks (see [`crate::unpack()`]), from the file
/// that was checked. A tarball that does not unpack is removed from the cache
/// ([`Error::Discarded`]).
pub fn fetch_and_unpack(
    source: &str,
    tarball: &Path,
    target: &Path,
    fetch: &FetchOptions,
    unpack: &UnpackOptions,
    progress: &dyn Progress,
) -> Result<Fetched> {
    let (fetched, file) = fetch_open(source, tarball, fetch, progress)?;
    unpack_cached(tarball, file, target, unpack, None)?;
    Ok(fetched)
}

/// Unpacks the cached `tarball` (open as `file`); when it does not unpack, the cache entry
/// goes, if it is still that file.
fn unpack_cached(
    tarball: &Path,
    file: File,
    target: &Path,
    opts: &UnpackOptions,
    retire_prefix: Option<&str>,
) -> Result<Option<PathBuf>> {
    let identity = file.metadata().map(|m| (m.dev(), m.ino())).ok();
    match unpack_from(tarball, file, target, opts, retire_prefix) {
        Err(err) if does_not_unpack(&err) => Err(discard(tarball, identity, err)),
        other => other,
    }
}

/// Whether `err` says the tarball itself is bad (not the disk, not a limit, not a signal).
fn does_not_unpack(err: &Error) -> bool {
    match err {
        Error::Tar { .. } | Error::UnsafeEntry { .. } => true,
        Error::Cleanup { error, .. } => does_not_unpack(error),
        _ => false,
    }
}

/// Removes the cache entry `tarball` (and its sidecar) when it is still the file `identity`
/// (dev, inode), and says so in the error.
fn discard(tarball: &Path, identity: Option<(u64, u64)>, err: Error) -> Error {
    let Ok(_lock) = EntryLock::acquire(&lock_path(tarball)) else {
        return err;
    };
    let same = fs::metadata(tarball)
        .map(|m| Some((m.dev(), m.ino())) == identity)
        .unwrap_or(false);
    if !same || fs::remove_file(tarball).is_err() {
        return err;
    }
    let _ = crate::meta::remove(tarball);
    Error::Discarded {
        tarball: tarball.to_path_buf(),
        error: Box::new(err),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io("remove", path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    /// A source tarball holding one file `f` with `text`, and its md5.
    fn tarball(dir: &Path, name: &str, text: &str) -> (PathBuf, String) {
        let tree = dir.join(format!("tree-{name}"));
        fs::create_dir_all(&tree).unwrap();
        fs::write(tree.join("f"), text).unwrap();
        let out = dir.join(name);
        vr_tests::tar_gz(&tree, &out).unwrap();
        let md5 = vr_tests::md5_file(&out).unwrap();
        (out, md5)
    }

    fn run(src: &Path, cache: &Path, md5: Option<&str>) -> Result<Unpacked> {
        ensure_unpacked(
            src.to_str().unwrap(),
            &cache.join("image.tar.gz"),
            &cache.join("contents"),
            md5,
            &UnpackOptions::default(),
            &NoProgress,
        )
    }

    #[test]
    fn unpacks_once_then_answers_from_the_stamp() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, md5) = tarball(tmp.path(), "a.tar.gz", "one");
        let cache = tmp.path().join("cache");
        let first = run(&src, &cache, Some(&md5)).unwrap();
        assert!(
            matches!(first, Unpacked::Ensured { unpacked: true, .. }),
            "{first:?}"
        );
        assert_eq!(fs::read_to_string(cache.join("contents/f")).unwrap(), "one");
        let sha = crate::sha256_file(&src).unwrap();
        assert_eq!(
            fs::read_to_string(cache.join(".contents.md5")).unwrap(),
            format!("{md5}  image.tar.gz\nsha256 {sha}\nxattrs restored\n")
        );
        // The source may vanish: a stamped cache entry is not read again when a checksum
        // says what it must be.
        fs::remove_file(&src).unwrap();
        assert_eq!(run(&src, &cache, Some(&md5)).unwrap(), Unpacked::Cached);
        // Without one the source is asked first: gone, the cached copy is used, with a
        // warning for the caller to show.
        let Unpacked::Ensured {
            fetched,
            unpacked: false,
            retired: None,
        } = run(&src, &cache, None).unwrap()
        else {
            panic!("not answered from the cache")
        };
        let warning = fetched.warning.unwrap();
        assert_eq!(warning.source, src.display().to_string());
        assert!(warning.reason.contains("cannot open"), "{warning}");
    }

    #[test]
    fn another_tarball_under_the_same_name_replaces_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, md5_a) = tarball(tmp.path(), "a.tar.gz", "one");
        let (b, md5_b) = tarball(tmp.path(), "b.tar.gz", "two");
        let cache = tmp.path().join("cache");
        run(&a, &cache, Some(&md5_a)).unwrap();
        let second = run(&b, &cache, Some(&md5_b)).unwrap();
        assert!(
            matches!(second, Unpacked::Ensured { unpacked: true, .. }),
            "{second:?}"
        );
        assert_eq!(fs::read_to_string(cache.join("contents/f")).unwrap(), "two");
        assert!(fs::read_to_string(cache.join(".contents.md5"))
            .unwrap()
            .starts_with(&format!("{md5_b}  ")));
        // The old tree is kept (a running container may use it), under a name with its md5.
        let Unpacked::Ensured {
            retired: Some(old), ..
        } = second
        else {
            panic!("nothing retired: {second:?}")
        };
        assert_eq!(old.parent().unwrap(), cache);
        let name = old.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(&format!(".contents.{md5_a}.")), "{name}");
        assert_eq!(fs::read_to_string(old.join("f")).unwrap(), "one");
    }

    #[test]
    fn a_wrong_md5_fails_and_leaves_the_cached_folder_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, md5_a) = tarball(tmp.path(), "a.tar.gz", "one");
        let cache = tmp.path().join("cache");
        run(&a, &cache, Some(&md5_a)).unwrap();
        let wrong = "0123456789abcdef0123456789abcdef";
        let err = run(&a, &cache, Some(wrong)).unwrap_err().to_string();
        assert!(err.contains(wrong) && err.contains(&md5_a), "{err}");
        assert_eq!(fs::read_to_string(cache.join("contents/f")).unwrap(), "one");
    }

    #[test]
    fn concurrent_callers_unpack_once() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, md5_a) = tarball(tmp.path(), "a.tar.gz", "one");
        let cache = tmp.path().join("cache");
        let results: Vec<Unpacked> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| run(&a, &cache, Some(&md5_a)).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let unpacked = results
            .iter()
            .filter(|r| matches!(r, Unpacked::Ensured { unpacked: true, .. }))
            .count();
        assert_eq!(unpacked, 1, "{results:?}");
    }

    #[test]
    fn without_md5_a_new_url_is_fetched_not_answered_from_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, _) = tarball(tmp.path(), "a.tar.gz", "one");
        let (b, _) = tarball(tmp.path(), "b.tar.gz", "two");
        let cache = tmp.path().join("cache");
        let at = |src: &Path, name: &str| {
            ensure_unpacked(
                src.to_str().unwrap(),
                &cache.join(name),
                &cache.join("contents"),
                None,
                &UnpackOptions::default(),
                &NoProgress,
            )
        };
        at(&a, "a.tar.gz").unwrap();
        // Unchanged at its source: neither copied nor unpacked again.
        let again = at(&a, "a.tar.gz").unwrap();
        let Unpacked::Ensured {
            fetched,
            unpacked: false,
            ..
        } = again
        else {
            panic!("{again:?}")
        };
        assert!(!fetched.downloaded && fetched.warning.is_none());
        let second = at(&b, "b.tar.gz").unwrap();
        assert!(
            matches!(second, Unpacked::Ensured { unpacked: true, .. }),
            "{second:?}"
        );
        assert_eq!(fs::read_to_string(cache.join("contents/f")).unwrap(), "two");
        // A source that cannot be fetched is an error, not the old folder.
        let gone = tmp.path().join("gone.tar.gz");
        assert!(at(&gone, "gone.tar.gz").is_err());
        assert_eq!(fs::read_to_string(cache.join("contents/f")).unwrap(), "two");
    }

    #[test]
    fn a_folder_unpacked_by_an_older_version_is_unpacked_again_once() {
        // Older versions dropped every xattr and file capability of the tarball: their
        // stamps (one md5sum line, maybe a sha256 and an ids line, never `xattrs restored`)
        // match nothing, so the folder is unpacked again, once, the old one kept aside.
        let tmp = tempfile::tempdir().unwrap();
        let (src, sum) = tarball(tmp.path(), "a.tar.gz", "one");
        let cache = tmp.path().join("cache");
        run(&src, &cache, Some(&sum)).unwrap();
        let stamp = cache.join(".contents.md5");
        let sha = crate::sha256_file(&src).unwrap();
        let new_stamp = fs::read_to_string(&stamp).unwrap();
        for old in [
            format!("{sum}  a.tar.gz\n"),
            format!("{sum}  image.tar.gz\nsha256 {sha}\n"),
        ] {
            fs::write(&stamp, &old).unwrap();
            for md5 in [Some(sum.as_str()), None] {
                let got = run(&src, &cache, md5).unwrap();
                let Unpacked::Ensured {
                    unpacked: true,
                    retired: Some(kept),
                    ..
                } = &got
                else {
                    panic!("{old:?} {md5:?}: not unpacked again: {got:?}")
                };
                assert_eq!(fs::read_to_string(&stamp).unwrap(), new_stamp);
                assert_eq!(fs::read_to_string(kept.join("f")).unwrap(), "one");
                fs::remove_dir_all(kept).unwrap();
                // Once: the new stamp answers from then on.
                assert_eq!(run(&src, &cache, Some(&sum)).unwrap(), Unpacked::Cached);
                fs::write(&stamp, &old).unwrap();
            }
        }
    }
}
