//! The stamp of an unpacked folder: `.<folder>.md5` beside it says what the folder came from.
//! A first line as `md5sum` writes it, `<md5>  <tarball file name>`; then the tarball's
//! sha256; then `xattrs restored` (the folder was unpacked by a version that writes xattrs,
//! file capabilities and ACLs); then, when the unpack shifted owners
//! ([`crate::UnpackOptions::shift`], as root and with no fixed owner: what is on disk, not what
//! was asked for), the shift:
//!
//! ```text
//! 0123456789abcdef0123456789abcdef  stack.tar.gz
//! sha256 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
//! xattrs restored
//! ids 100000:100000:65536
//! ```
//!
//! Stamps of older versions lack the `xattrs restored` line (their folders lost every xattr
//! and file capability of the tarball): they match nothing, so the folder is unpacked again
//! once. A line this version does not know makes the stamp match nothing too.

use crate::hash::{Sums, Want};
use crate::unpack::IdShift;
use std::fs;
use std::path::{Path, PathBuf};

/// The stamp of an unpacked folder: `<parent>/.<name>.md5`.
pub fn stamp_path(contents: &Path) -> PathBuf {
    let name = contents
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    contents.with_file_name(format!(".{name}.md5"))
}

/// The md5 (lowercase) the stamp of the unpacked folder `contents` records; None without one.
pub fn stamp_md5(contents: &Path) -> Option<String> {
    let text = fs::read_to_string(stamp_path(contents)).ok()?;
    let md5 = text.lines().next()?.split_whitespace().next()?;
    (md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| md5.to_ascii_lowercase())
}

/// A stamp as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) md5: String,
    name: String,
    pub(crate) sha256: Option<String>,
    ids: Option<String>,
    /// Unpacked with the tarball's xattrs (the `xattrs restored` line).
    xattrs: bool,
}

/// The line of a stamp whose folder has the tarball's xattrs.
const XATTRS_LINE: &str = "xattrs restored";

/// The stamp line recording `shift`: `ids <uid_base>:<gid_base>:<count>`; None for no shift.
fn ids_line(shift: Option<IdShift>) -> Option<String> {
    shift.map(|s| format!("ids {}:{}:{}", s.uid_base, s.gid_base, s.count))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The stamp's text for a folder unpacked from `tarball` with `sums` and `shift`.
pub(crate) fn render(sums: &Sums, tarball: &Path, shift: Option<IdShift>) -> String {
    let mut text = format!(
        "{}  {}\nsha256 {}\n{XATTRS_LINE}\n",
        sums.md5,
        file_name(tarball),
        sums.sha256
    );
    if let Some(line) = ids_line(shift) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// The stamp at `path`; None when there is none, or it holds a line this version does not
/// know (it then matches nothing).
pub(crate) fn read(path: &Path) -> Option<Stamp> {
    parse(&fs::read_to_string(path).ok()?)
}

fn parse(text: &str) -> Option<Stamp> {
    let mut lines = text.lines();
    let first = lines.next()?;
    let (md5, name) = first.split_once("  ").unwrap_or((first, ""));
    let md5 = md5.trim().to_ascii_lowercase();
    if md5.is_empty() {
        return None;
    }
    let mut stamp = Stamp {
        md5,
        name: name.to_string(),
        sha256: None,
        ids: None,
        xattrs: false,
    };
    for line in lines {
        if let Some(sha) = line.strip_prefix("sha256 ") {
            stamp.sha256 = Some(sha.trim().to_ascii_lowercase());
        } else if line == XATTRS_LINE {
            stamp.xattrs = true;
        } else if line.starts_with("ids ") {
            stamp.ids = Some(line.to_string());
        } else {
            return None;
        }
    }
    Some(stamp)
}

impl Stamp {
    /// Whether the folder was unpacked as this version unpacks: with the tarball's xattrs and
    /// with `shift` (no ids line: with none).
    fn same_unpack(&self, shift: Option<IdShift>) -> bool {
        self.xattrs && self.ids == ids_line(shift)
    }

    /// Whether the folder came from a tarball with the checksums `want` asks for (each one
    /// asked for must be on the stamp and equal), with `shift`. Without any checksum: whether
    /// it came from the same tarball file (same name), with `shift`.
    pub(crate) fn matches_want(&self, want: &Want, tarball: &Path, shift: Option<IdShift>) -> bool {
        if !self.same_unpack(shift) {
            return false;
        }
        if !want.any() {
            return !self.name.is_empty() && self.name == file_name(tarball);
        }
        let md5 = want.md5.as_ref().is_none_or(|m| *m == self.md5);
        let sha = want
            .sha256
            .as_ref()
            .is_none_or(|s| self.sha256.as_ref() == Some(s));
        md5 && sha
    }

    /// Whether the folder came from the tarball with `sums`, with `shift`.
    pub(crate) fn matches_sums(&self, sums: &Sums, shift: Option<IdShift>) -> bool {
        self.same_unpack(shift)
            && self.md5 == sums.md5
            && self.sha256.as_deref() == Some(sums.sha256.as_str())
    }
}

/// The shift an unpacked folder's stamp records (None: no stamp, or unpacked without one).
pub fn unpacked_shift(contents: &Path) -> Option<IdShift> {
    let stamp = read(&stamp_path(contents))?;
    let ids = stamp.ids?;
    let mut parts = ids["ids ".len()..]
        .split(':')
        .map(|p| p.trim().parse::<u32>().ok());
    let (uid_base, gid_base, count) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() {
        return None;
    }
    Some(IdShift {
        uid_base,
        gid_base,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIFT: IdShift = IdShift {
        uid_base: 100_000,
        gid_base: 100_000,
        count: 65536,
    };

    fn sums(md5: &str, sha: &str) -> Sums {
        Sums {
            md5: md5.repeat(32 / md5.len()),
            sha256: sha.repeat(64 / sha.len()),
        }
    }

    fn want(md5: Option<&str>, sha: Option<&str>) -> Want {
        Want {
            md5: md5.map(|m| m.repeat(32 / m.len())),
            sha256: sha.map(|s| s.repeat(64 / s.len())),
        }
    }

    #[test]
    fn stamp_sits_beside_the_folder() {
        assert_eq!(
            stamp_path(Path::new("/apps/images/x/contents")),
            Path::new("/apps/images/x/.contents.md5")
        );
    }

    #[test]
    fn render_table() {
        let tarball = Path::new("/apps/images/x/stack.tar.gz");
        let split = IdShift {
            uid_base: 200_000,
            gid_base: 300_000,
            count: 1000,
        };
        let s = sums("a", "b");
        let head = format!(
            "{}  stack.tar.gz\nsha256 {}\nxattrs restored\n",
            "a".repeat(32),
            "b".repeat(64)
        );
        let cases = [
            (None, head.clone()),
            (Some(SHIFT), format!("{head}ids 100000:100000:65536\n")),
            (Some(split), format!("{head}ids 200000:300000:1000\n")),
        ];
        for (shift, text) in cases {
            assert_eq!(render(&s, tarball, shift), text, "{shift:?}");
            let stamp = parse(&text).unwrap();
            assert!(stamp.matches_sums(&s, shift));
            assert!(stamp.matches_want(&want(Some("a"), Some("b")), tarball, shift));
        }
    }

    #[test]
    fn matching_by_checksums_and_by_name() {
        let tarball = Path::new("/apps/images/x/stack 1.tar.gz");
        let other = Path::new("/apps/images/x/stack-2.tar.gz");
        let full = parse(&render(&sums("a", "b"), tarball, None)).unwrap();
        // (stamp, want, tarball) -> matches
        let old_md5_only = parse(&format!("{}\n", "A".repeat(32))).unwrap();
        let no_xattrs = parse(&format!(
            "{}  stack 1.tar.gz\nsha256 {}\n",
            "a".repeat(32),
            "b".repeat(64)
        ))
        .unwrap();
        let cases = [
            (&full, want(Some("a"), None), tarball, true),
            (&full, want(Some("a"), None), other, true),
            (&full, want(None, Some("b")), other, true),
            (&full, want(Some("a"), Some("b")), tarball, true),
            (&full, want(Some("c"), Some("b")), tarball, false),
            (&full, want(Some("a"), Some("c")), tarball, false),
            (&full, want(None, None), tarball, true),
            (&full, want(None, None), other, false),
            // An older version's stamp: its folder lacks the tarball's xattrs.
            (&old_md5_only, want(Some("a"), None), tarball, false),
            (&old_md5_only, want(None, Some("b")), tarball, false),
            (&old_md5_only, want(None, None), tarball, false),
            (&no_xattrs, want(Some("a"), Some("b")), tarball, false),
            (&no_xattrs, want(None, None), tarball, false),
        ];
        for (i, (stamp, w, t, expect)) in cases.into_iter().enumerate() {
            assert_eq!(stamp.matches_want(&w, t, None), expect, "case {i}");
        }
        assert!(full.matches_sums(&sums("a", "b"), None));
        assert!(!old_md5_only.matches_sums(&sums("a", "b"), None));
        assert!(!no_xattrs.matches_sums(&sums("a", "b"), None));
        assert!(!full.matches_sums(&sums("a", "c"), None));
    }

    #[test]
    fn only_the_same_shift_matches() {
        let other = IdShift {
            gid_base: 200_000,
            ..SHIFT
        };
        let fewer = IdShift {
            count: 65535,
            ..SHIFT
        };
        let md5 = "a".repeat(32);
        let shifted = format!("{md5}  stack.tar.gz\nxattrs restored\nids 100000:100000:65536\n");
        let plain = format!("{md5}  stack.tar.gz\nxattrs restored\n");
        // (stamp text, shift asked for) -> matches
        let cases = [
            (plain.clone(), None, true),
            (plain.clone(), Some(SHIFT), false),
            (format!("{md5}\n"), Some(SHIFT), false),
            (format!("{md5}  stack.tar.gz\n"), None, false),
            (
                format!("{md5}  stack.tar.gz\nids 100000:100000:65536\n"),
                Some(SHIFT),
                false,
            ),
            (shifted.clone(), Some(SHIFT), true),
            (shifted.clone(), None, false),
            (shifted.clone(), Some(other), false),
            (shifted.clone(), Some(fewer), false),
            (shifted.trim_end().to_string(), Some(SHIFT), true),
            (
                format!("{md5}  stack.tar.gz\nxattrs restored\nids 100000:100000\n"),
                Some(SHIFT),
                false,
            ),
            (format!("{shifted}more\n"), Some(SHIFT), false),
            (format!("{plain}\n"), None, false),
        ];
        let tarball = Path::new("/apps/images/x/stack.tar.gz");
        for (text, shift, expect) in cases {
            let by_md5 = parse(&text)
                .is_some_and(|s| s.matches_want(&want(Some("a"), None), tarball, shift));
            assert_eq!(by_md5, expect, "{text:?} {shift:?} by md5");
            let by_name =
                parse(&text).is_some_and(|s| s.matches_want(&want(None, None), tarball, shift));
            assert_eq!(
                by_name,
                expect && text.contains("  "),
                "{text:?} {shift:?} by name"
            );
        }
    }

    #[test]
    fn the_shift_of_an_unpacked_folder_is_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let contents = tmp.path().join("contents");
        assert_eq!(unpacked_shift(&contents), None);
        let stamp = stamp_path(&contents);
        let s = sums("a", "b");
        fs::write(&stamp, render(&s, Path::new("x.tar.gz"), Some(SHIFT))).unwrap();
        assert_eq!(unpacked_shift(&contents), Some(SHIFT));
        fs::write(&stamp, render(&s, Path::new("x.tar.gz"), None)).unwrap();
        assert_eq!(unpacked_shift(&contents), None);
        // An older stamp: the ids on the second line.
        fs::write(&stamp, "abc  x.tar.gz\nids 100000:100000:65536\n").unwrap();
        assert_eq!(unpacked_shift(&contents), Some(SHIFT));
        fs::write(&stamp, "abc  x.tar.gz\nids 1:2\n").unwrap();
        assert_eq!(unpacked_shift(&contents), None);
    }
}
