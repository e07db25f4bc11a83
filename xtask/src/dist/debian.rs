//! What Debian asks of a package beyond its files, and the check that it got it: the changelog
//! (`changelog.gz`: vr's packages are native, their version has no Debian revision), the
//! lintian overrides, each under its written reason, and `lintian` run over the built
//! packages, which fails `cargo xtask dist` on any error or warning.

use super::{Tool, MAINTAINER, VERSION};
use crate::util;
use anyhow::{ensure, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// One entry of the packages' changelog.
pub struct Release {
    /// The version it released.
    pub version: &'static str,
    /// Its date (RFC 2822); `None` for the newest: the release time ($SOURCE_DATE_EPOCH).
    pub date: Option<&'static str>,
    /// What changed, one item each.
    pub changes: &'static [&'static str],
}

/// The changelog of all three packages, newest first. A new workspace version needs an entry
/// here (`cargo xtask dist` refuses to pack without one); give the entry before it the date
/// its package said.
pub const RELEASES: &[Release] = &[Release {
    version: "0.1.0",
    date: None,
    changes: &[
        "First release of vr, Velociraptor's container tooling, in three packages: vimage \
         builds OS images, vrun sets up, runs, uptests and tears down procs in LXC containers, \
         vuptest runs a proc's uptests.",
        "Man pages for the commands, proc.yaml(5) and image.yaml(5); bash, zsh and fish \
         completions; the docs and supervisord, systemd and Nomad examples in \
         /usr/share/doc.",
    ],
}];

/// `usr/share/doc/<package>/changelog` (before gzip) in Debian's format.
pub fn changelog(package: &str, epoch: u64) -> Result<String> {
    let newest = RELEASES.first().map(|r| r.version);
    ensure!(
        newest == Some(VERSION),
        "the packages' changelog (RELEASES in xtask/src/dist/debian.rs) has no entry for \
         version {VERSION}: its newest is {newest:?}"
    );
    let mut text = String::new();
    for (i, release) in RELEASES.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&format!(
            "{package} ({}) unstable; urgency=medium\n\n",
            release.version
        ));
        for change in release.changes {
            text.push_str(&wrap(change, "  * ", "    ", 79));
        }
        let date = match release.date {
            Some(date) => date.to_string(),
            None => rfc2822(epoch),
        };
        text.push_str(&format!("\n -- {MAINTAINER}  {date}\n"));
    }
    Ok(text)
}

/// `text` wrapped at `width` columns, the first line after `first`, the others after `rest`.
fn wrap(text: &str, first: &str, rest: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// A time as a Debian changelog writes it: `Thu, 01 Jan 1970 00:00:00 +0000` (UTC).
pub fn rfc2822(epoch: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day) = super::pages::civil(epoch);
    let secs = epoch % 86_400;
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(epoch / 86_400 % 7) as usize],
        MONTHS[month as usize - 1],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Why vrun and vimage carry libyaml's messages (the `embedded-library` override).
pub const LIBYAML: &str = "\
unsafe-libyaml, the Rust translation of libyaml that serde_yaml compiles into
the binary (Rust links its crates statically), carries the libyaml messages
lintian looks for. It is not a bundled copy of the C library, and there is no
shared libyaml to use instead: serde_yaml has no backend for the system's
libyaml-0-2. Reading proc.yaml and image.yaml with another YAML parser would
change what vr accepts.";

/// Why the static vuptest is not a shared library without prerequisites.
pub const STATIC_PIE: &str = "\
vuptest is a static-pie executable, not a shared library: it is linked
statically on purpose (vrun copies it into containers of any image, which
may have no C library), and lintian takes every pie executable without
NEEDED libraries for a shared object lacking them.";

/// `usr/share/lintian/overrides/<tool>`, or `None` for a tool without overrides: each
/// override under its reason, as `#` lines (lintian shows them with the override).
pub fn overrides(tool: &Tool) -> Option<String> {
    if tool.overrides.is_empty() {
        return None;
    }
    let mut text = String::new();
    for (i, (tag, reason)) in tool.overrides.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        for line in reason.lines() {
            text.push_str(&format!("# {line}\n"));
        }
        text.push_str(&format!("{}: {tag}\n", tool.name));
    }
    Some(text)
}

/// Runs lintian over the packages; fails on any error or warning, which it prints.
pub fn lintian(debs: &[PathBuf]) -> Result<()> {
    // --allow-root: these are the packages just built here, not someone else's to distrust.
    util::run(
        Command::new("lintian")
            .args(["--allow-root", "--fail-on", "error,warning"])
            .args(debs),
    )
    .context("lintian found errors or warnings in the packages (above)")?;
    eprintln!(
        "xtask: dist: lintian: no errors or warnings in {} packages",
        debs.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changelog_entry() {
        let text = changelog("vrun", 1_795_364_625).unwrap();
        let first = format!("vrun ({VERSION}) unstable; urgency=medium\n\n  * First release");
        assert!(text.starts_with(&first), "{text}");
        assert!(
            text.ends_with(
                "\n\n -- vr developers <vr@example.invalid>  Sun, 22 Nov 2026 16:23:45 +0000\n"
            ),
            "{text}"
        );
        for line in text.lines() {
            assert!(line.len() <= 80, "too long for lintian: {line:?}");
        }
        // Items wrap under their own text.
        assert!(text.contains("\n    "), "{text}");
    }

    #[test]
    fn wraps() {
        // (text, width, expected)
        let cases = [
            ("a b c", 80, "  * a b c\n"),
            ("aaa bbb ccc", 11, "  * aaa bbb\n    ccc\n"),
            ("toolongword x", 5, "  * toolongword\n    x\n"),
        ];
        for (text, width, want) in cases {
            assert_eq!(wrap(text, "  * ", "    ", width), want, "{text}");
        }
    }

    #[test]
    fn dates_for_changelogs() {
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 +0000"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (1_795_364_625, "Sun, 22 Nov 2026 16:23:45 +0000"),
            (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 +0000"),
        ];
        for (epoch, want) in cases {
            assert_eq!(rfc2822(epoch), want, "{epoch}");
        }
    }

    #[test]
    fn overrides_have_reasons() {
        let vrun = super::super::TOOLS
            .iter()
            .find(|t| t.name == "vrun")
            .unwrap();
        let text = overrides(vrun).unwrap();
        assert!(text.starts_with("# unsafe-libyaml, "), "{text}");
        assert!(
            text.ends_with("\nvrun: embedded-library libyaml [usr/bin/vrun]\n"),
            "{text}"
        );
        for tool in &super::super::TOOLS {
            assert!(!tool.overrides.is_empty(), "{}", tool.name);
            for (tag, reason) in tool.overrides {
                assert!(tag.ends_with(&format!("[usr/bin/{}]", tool.name)), "{tag}");
                assert!(reason.len() > 100, "{tag}: a reason, please");
            }
        }
    }
}
