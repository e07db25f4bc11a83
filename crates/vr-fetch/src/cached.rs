//! `ensure_unpacked`: a tarball fetched into the cache and unpacked once beside it, shared by
//! every user of the cache entry (vrun's images, vimage's base images).
//!
//! Beside the unpacked folder a stamp `.<folder>.md5` records what the folder came from: a
//! first line as `md5sum` writes it, `<md5>  <tarball file name>`, and, when the unpack shifted
//! owners ([`UnpackOptions::shift`], as root and with no fixed owner: what is on disk, not what
//! was asked for), a second line `ids <uid_base>:<gid_base>:<count>`:
//!
//! ```text
//! 0123456789abcdef0123456789abcdef  stack.tar.gz
//! ids 100000:100000:65536
//! ```
//!
//! When the folder exists and the stamp matches, nothing is read at all: a cached image of
//! hundreds of MB is not hashed again on every use. A stamp matches when its md5 is the one
//! asked for (or, when no md5 is asked for, its file name is the tarball's: a new URL under the
//! same image name is fetched, as `ensure` would), and its ids line is the shift this call would
//! put on disk (no line for none: a folder unpacked by an older vr, or with other ids, is never
//! used as if it were shifted, nor a shifted one as if it were not). Otherwise the tarball is
//! ensured (md5-checked, fetched again when needed) and, under the lock `<folder>.lock`, a
//! folder that is missing or was unpacked from another tarball or with another shift is
//! (re)unpacked and stamped; concurrent callers wait for one another and unpack once. A folder
//! replaced that way is kept as `.<folder>.<its md5>.XXXXXX` (see [`Unpacked::Ensured`]).

use crate::error::{io, Result};
use crate::fetch::{ensure_with, Fetched};
use crate::lock::{lock_path, EntryLock};
use crate::progress::Progress;
use crate::unpack::{unpack_retiring, IdShift, UnpackOptions};
use std::fs;
use std::io::ErrorKind;
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

/// The stamp of an unpacked folder: `<parent>/.<name>.md5`.
pub fn stamp_path(contents: &Path) -> PathBuf {
    let name = contents
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    contents.with_file_name(format!(".{name}.md5"))
}

/// The stamp's text: `<md5>  <tarball file name>` and a newline, as `md5sum` writes it, then
/// the ids line of `shift`, if any.
fn stamp_text(md5: &str, tarball: &Path, shift: Option<IdShift>) -> String {
    let mut text = format!("{md5}  {}\n", file_name(tarball));
    if let Some(line) = ids_line(shift) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// The stamp line recording `shift`: `ids <uid_base>:<gid_base>:<count>`; None for no shift.
fn ids_line(shift: Option<IdShift>) -> Option<String> {
    shift.map(|s| format!("ids {}:{}:{}", s.uid_base, s.gid_base, s.count))
}

/// The shift an unpacked folder's stamp records (None: no stamp, or unpacked without one).
pub fn unpacked_shift(contents: &Path) -> Option<IdShift> {
    let text = fs::read_to_string(stamp_path(contents)).ok()?;
    let ids = text.lines().nth(1)?.strip_prefix("ids ")?;
    let mut parts = ids.split(':').map(|p| p.trim().parse::<u32>().ok());
    let (uid_base, gid_base, count) = (parts.next()??, parts.next()??, parts.next()??);
    Some(IdShift {
        uid_base,
        gid_base,
        count,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether the folder stamped `stamp` came from the tarball asked for: the same md5 when one
/// is given, else the same tarball file name (stamps of older versions hold only an md5:
/// those match an md5 alone); and unpacked with the same `shift` (a stamp without an ids line
/// was unpacked without one).
fn stamp_matches(stamp: &Path, md5: Option<&str>, tarball: &Path, shift: Option<IdShift>) -> bool {
    let Ok(text) = fs::read_to_string(stamp) else {
        return false;
    };
    let mut lines = text.lines();
    let line = lines.next().unwrap_or_default();
    let rest: Vec<&str> = lines.collect();
    let want_rest: Vec<String> = ids_line(shift).into_iter().collect();
    if rest != want_rest {
        return false;
    }
    let (have_md5, have_name) = line.split_once("  ").unwrap_or((line, ""));
    match md5 {
        Some(want) => have_md5.trim().eq_ignore_ascii_case(want.trim()),
        None => !have_name.is_empty() && have_name == file_name(tarball),
    }
}

/// Makes sure `contents` holds the unpacked tarball `source` (cached at `tarball`, with md5
/// `md5` when given). See the module docs.
pub fn ensure_unpacked(
    source: &str,
    tarball: &Path,
    contents: &Path,
    md5: Option<&str>,
    opts: &UnpackOptions,
    progress: &dyn Progress,
) -> Result<Unpacked> {
    let stamp = stamp_path(contents);
    let shift = opts.shift_on_disk();
    if contents.is_dir() && stamp_matches(&stamp, md5, tarball, shift) {
        return Ok(Unpacked::Cached);
    }
    let fetched = ensure_with(source, tarball, md5, progress)?;
    if let Some(parent) = contents.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io("create directory", parent))?;
    }
    let _lock = EntryLock::acquire(&lock_path(contents))?;
    crate::interrupt::remove_stale_temps(contents);
    if contents.is_dir() && stamp_matches(&stamp, Some(&fetched.md5), tarball, shift) {
        return Ok(Unpacked::Ensured {
            fetched,
            unpacked: false,
            retired: None,
        });
    }
    // Missing, or unpacked from another tarball or with other ids: the new tree is swapped in
    // atomically, and an old one is kept beside it (containers started from it use it as their
    // lower layer; deleting it would pull their files away under them).
    let old_md5 = fs::read_to_string(&stamp)
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_owned))
        .filter(|m| m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".into());
    remove(&stamp)?;
    let prefix = format!(".{}.{old_md5}.", file_name(contents));
    let retired = unpack_retiring(tarball, contents, opts, &prefix)?;
    let text = stamp_text(&fetched.md5, tarball, shift);
    fs::write(&stamp, text).map_err(io("write", &stamp))?;
    Ok(Unpacked::Ensured {
        fetched,
        unpacked: true,
        retired,
    })
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
        assert_eq!(
            fs::read_to_string(cache.join(".contents.md5")).unwrap(),
            format!("{md5}  image.tar.gz\n")
        );
        // The source may vanish: a stamped cache entry is not read again.
        fs::remove_file(&src).unwrap();
        assert_eq!(run(&src, &cache, Some(&md5)).unwrap(), Unpacked::Cached);
        assert_eq!(run(&src, &cache, None).unwrap(), Unpacked::Cached);
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
    fn stamp_sits_beside_the_folder() {
        assert_eq!(
            stamp_path(Path::new("/apps/images/x/contents")),
            Path::new("/apps/images/x/.contents.md5")
        );
    }

    #[test]
    fn stamp_matching() {
        let tmp = tempfile::tempdir().unwrap();
        let stamp = tmp.path().join(".contents.md5");
        let tarball = Path::new("/apps/images/x/stack 1.tar.gz");
        let other = Path::new("/apps/images/x/stack-2.tar.gz");
        assert!(!stamp_matches(&stamp, None, tarball, None), "no stamp");
        assert!(
            !stamp_matches(&stamp, Some("abc"), tarball, None),
            "no stamp"
        );
        fs::write(&stamp, stamp_text("ABC", tarball, None)).unwrap();
        assert_eq!(fs::read_to_string(&stamp).unwrap(), "ABC  stack 1.tar.gz\n");
        assert!(stamp_matches(&stamp, Some("abc"), tarball, None));
        assert!(stamp_matches(&stamp, Some("abc"), other, None), "same md5");
        assert!(!stamp_matches(&stamp, Some("abd"), tarball, None));
        assert!(
            stamp_matches(&stamp, None, tarball, None),
            "same file, no md5"
        );
        assert!(!stamp_matches(&stamp, None, other, None), "another URL");
        // A stamp of an older version: the md5 alone.
        fs::write(&stamp, "ABC\n").unwrap();
        assert!(stamp_matches(&stamp, Some("abc"), tarball, None));
        assert!(!stamp_matches(&stamp, None, tarball, None));
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
        assert_eq!(at(&a, "a.tar.gz").unwrap(), Unpacked::Cached);
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

    const SHIFT: IdShift = IdShift {
        uid_base: 100_000,
        gid_base: 100_000,
        count: 65536,
    };

    #[test]
    fn the_shift_of_an_unpacked_folder_is_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let contents = tmp.path().join("contents");
        assert_eq!(unpacked_shift(&contents), None);
        let stamp = stamp_path(&contents);
        fs::write(
            &stamp,
            stamp_text("abc", Path::new("x.tar.gz"), Some(SHIFT)),
        )
        .unwrap();
        assert_eq!(unpacked_shift(&contents), Some(SHIFT));
        fs::write(&stamp, stamp_text("abc", Path::new("x.tar.gz"), None)).unwrap();
        assert_eq!(unpacked_shift(&contents), None);
        fs::write(&stamp, "abc  x.tar.gz\nids 1:2\n").unwrap();
        assert_eq!(unpacked_shift(&contents), None);
    }

    #[test]
    fn stamp_text_records_the_shift() {
        let tarball = Path::new("/apps/images/x/stack.tar.gz");
        let split = IdShift {
            uid_base: 200_000,
            gid_base: 300_000,
            count: 1000,
        };
        let cases = [
            (None, "abc  stack.tar.gz\n"),
            (Some(SHIFT), "abc  stack.tar.gz\nids 100000:100000:65536\n"),
            (Some(split), "abc  stack.tar.gz\nids 200000:300000:1000\n"),
        ];
        for (shift, want) in cases {
            assert_eq!(stamp_text("abc", tarball, shift), want, "{shift:?}");
        }
    }

    #[test]
    fn stamp_matches_only_the_same_shift() {
        let tmp = tempfile::tempdir().unwrap();
        let stamp = tmp.path().join(".contents.md5");
        let tarball = Path::new("/apps/images/x/stack.tar.gz");
        let other = IdShift {
            gid_base: 200_000,
            ..SHIFT
        };
        let fewer = IdShift {
            count: 65535,
            ..SHIFT
        };
        let shifted = "ABC  stack.tar.gz\nids 100000:100000:65536\n";
        // (stamp text, shift asked for) -> matches, for the md5 and for the file name
        let cases = [
            ("ABC  stack.tar.gz\n", None, true),
            ("ABC  stack.tar.gz\n", Some(SHIFT), false),
            ("ABC\n", Some(SHIFT), false),
            (shifted, Some(SHIFT), true),
            (shifted, None, false),
            (shifted, Some(other), false),
            (shifted, Some(fewer), false),
            (
                "ABC  stack.tar.gz\nids 100000:100000:65536",
                Some(SHIFT),
                true,
            ),
            ("ABC  stack.tar.gz\nids 100000:100000\n", Some(SHIFT), false),
            (
                "ABC  stack.tar.gz\nids 100000:100000:65536\nmore\n",
                Some(SHIFT),
                false,
            ),
            ("ABC  stack.tar.gz\n\n", None, false),
        ];
        for (text, shift, want) in cases {
            fs::write(&stamp, text).unwrap();
            let by_md5 = stamp_matches(&stamp, Some("abc"), tarball, shift);
            assert_eq!(by_md5, want, "{text:?} {shift:?} by md5");
            if text.contains("  ") {
                let by_name = stamp_matches(&stamp, None, tarball, shift);
                assert_eq!(by_name, want, "{text:?} {shift:?} by name");
            }
        }
    }
}
