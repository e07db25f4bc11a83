//! Cache entry names that two different sources never share.
//!
//! [`cache_name`] names an entry by the whole source: the URL with its query (or the absolute
//! path of a local file), hashed, followed by a sanitized basename so that people can still
//! recognise the file (and so that the compression stays told by the extension):
//!
//! ```text
//! http://h/a/build.tar.gz?v=2  ->  5c0d...9e1f-build.tar.gz   (32 hex digits: 128 bits of sha256)
//! ```
//!
//! URLs that end in the same basename, or differ only in the query, get different names.
//! [`cache_name_for`] names an entry by content when a checksum is given
//! (`sha256-<64 hex>-build.tar.gz`, else `md5-<32 hex>-build.tar.gz`): any source with those
//! bytes may share it, since nothing else can pass the check. The name never starts with a dot
//! and never holds a `/`, so it cannot be mistaken for a temp file, a lock or a path.

use crate::hash::{parse_md5, parse_sha256, Sha256};
use std::path::Path;

/// The longest sanitized basename kept (its end: the extension matters).
const MAX_BASENAME: usize = 80;

/// The cache entry name of `source` (an http(s) URL, a `file://` URL or a local path): 32 hex
/// digits of the sha256 of the whole source, `-`, and its sanitized basename. A relative path
/// is made absolute first, and `file:///x` and `/x` name the same entry.
pub fn cache_name(source: &str) -> String {
    let mut sha = Sha256::new();
    sha.update(source_key(source).as_bytes());
    let hex = sha.hex();
    format!("{}-{}", &hex[..32], basename(source))
}

/// The cache entry name of `source` when it must have the given checksum: named by content
/// (`sha256-<hex>-<basename>` when a valid sha256 is given, else `md5-<hex>-<basename>`), so
/// that identical bytes from different URLs share one entry; [`cache_name`] when no valid
/// checksum is given.
pub fn cache_name_for(source: &str, md5: Option<&str>, sha256: Option<&str>) -> String {
    if let Some(sha) = sha256.and_then(parse_sha256) {
        format!("sha256-{sha}-{}", basename(source))
    } else if let Some(md5) = md5.and_then(parse_md5) {
        format!("md5-{md5}-{}", basename(source))
    } else {
        cache_name(source)
    }
}

/// What a source is keyed by: `url:<url>` as given, or `path:<absolute path>`.
fn source_key(source: &str) -> String {
    let path = match source.strip_prefix("file://") {
        Some(path) => path,
        None if source.contains("://") => return format!("url:{source}"),
        None => source,
    };
    let abs = std::path::absolute(Path::new(path)).unwrap_or_else(|_| Path::new(path).into());
    format!("path:{}", abs.display())
}

/// The last path segment of `source` (without query or fragment), with every byte other than
/// `A-Za-z0-9._+-` replaced by `_`, no leading dot, at most 80 bytes (its end), or `download`.
fn basename(source: &str) -> String {
    let path = match source.split_once("://") {
        Some((_, rest)) => {
            let rest = rest.split(['?', '#']).next().unwrap_or_default();
            // The authority is not part of the name.
            rest.split_once('/').map(|(_, p)| p).unwrap_or_default()
        }
        None => source,
    };
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or_default();
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.len() > MAX_BASENAME {
        name = name[name.len() - MAX_BASENAME..].to_string();
    }
    let dots = name.len() - name.trim_start_matches('.').len();
    if dots > 0 {
        name.replace_range(..dots, &"_".repeat(dots));
    }
    if name.is_empty() {
        "download".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basename_table() {
        let cases = [
            ("http://h/a/build.tar.gz", "build.tar.gz"),
            ("http://h/a/build.tar.gz?x=1#f", "build.tar.gz"),
            ("http://h/a/dir/", "dir"),
            ("http://h", "download"),
            ("http://h/", "download"),
            ("http://u:p@h/b%20x.tgz", "b_20x.tgz"),
            ("/srv/My Build (1).tar.xz", "My_Build__1_.tar.xz"),
            ("/srv/.hidden.tar.gz", "_hidden.tar.gz"),
            ("/srv/..", "__"),
            ("file:///srv/x.tar.bz2", "x.tar.bz2"),
            ("/srv/ünï.tar.gz", "_n_.tar.gz"),
        ];
        for (input, want) in cases {
            assert_eq!(basename(input), want, "{input}");
        }
        let long = format!("/srv/{}.tar.gz", "a".repeat(200));
        let b = basename(&long);
        assert_eq!(b.len(), MAX_BASENAME);
        assert!(b.ends_with("a.tar.gz"));
    }

    #[test]
    fn names_differ_whenever_the_source_does() {
        let sources = [
            "http://a/x/build.tar.gz",
            "http://b/y/build.tar.gz",
            "http://a/x/build.tar.gz?v=1",
            "http://a/x/build.tar.gz?v=2",
            "https://a/x/build.tar.gz",
            "http://u:p@a/x/build.tar.gz",
            "/srv/build.tar.gz",
            "/srv/other/build.tar.gz",
        ];
        let names: std::collections::HashSet<String> =
            sources.iter().map(|s| cache_name(s)).collect();
        assert_eq!(names.len(), sources.len());
        for s in sources {
            let n = cache_name(s);
            assert!(n.ends_with("-build.tar.gz"), "{n}");
            assert_eq!(n.len(), 32 + 1 + "build.tar.gz".len());
            assert_eq!(n, cache_name(s), "stable");
        }
    }

    #[test]
    fn a_file_url_and_its_path_are_one_source() {
        assert_eq!(
            cache_name("file:///srv/b.tar.gz"),
            cache_name("/srv/b.tar.gz")
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            cache_name("rel/b.tar.gz"),
            cache_name(&cwd.join("rel/b.tar.gz").display().to_string())
        );
    }

    #[test]
    fn content_names() {
        let md5 = "0123456789ABCDEF0123456789abcdef";
        let sha = "a".repeat(64);
        assert_eq!(
            cache_name_for("http://h/b.tar.gz?sig=1", Some(md5), None),
            "md5-0123456789abcdef0123456789abcdef-b.tar.gz"
        );
        assert_eq!(
            cache_name_for("http://h/b.tar.gz?sig=2", Some(md5), Some(&sha)),
            format!("sha256-{sha}-b.tar.gz")
        );
        assert_eq!(
            cache_name_for("http://h/b.tar.gz", Some("nope"), None),
            cache_name("http://h/b.tar.gz")
        );
    }
}
