//! Entry names to paths that cannot leave the unpack root.

use std::path::{Component, Path, PathBuf};

/// The path of an archive name relative to the unpack root, or why it is refused. `.`
/// components are dropped; an empty result means the root itself. Absolute names and any `..`
/// are refused outright (not stripped): a tarball that has them was not made from a rootfs.
pub(crate) fn enclosed(name: &Path) -> Result<PathBuf, &'static str> {
    let mut rel = PathBuf::new();
    for component in name.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("it contains `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("it is an absolute path"),
        }
    }
    Ok(rel)
}

/// The ancestors of `rel` below the root, outermost first, without `rel` itself:
/// `a/b/c` gives `a`, `a/b`.
pub(crate) fn parents(rel: &Path) -> Vec<&Path> {
    let mut out: Vec<&Path> = rel
        .ancestors()
        .skip(1)
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enclosed_table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("etc/passwd", Ok("etc/passwd")),
            ("./etc/passwd", Ok("etc/passwd")),
            ("etc/./passwd", Ok("etc/passwd")),
            ("etc//passwd", Ok("etc/passwd")),
            ("etc/", Ok("etc")),
            ("./", Ok("")),
            (".", Ok("")),
            ("", Ok("")),
            ("..", Err("it contains `..`")),
            ("../evil", Err("it contains `..`")),
            ("./../evil", Err("it contains `..`")),
            ("a/../../evil", Err("it contains `..`")),
            ("a/b/..", Err("it contains `..`")),
            ("a/..", Err("it contains `..`")),
            ("/etc/passwd", Err("it is an absolute path")),
            ("//etc/passwd", Err("it is an absolute path")),
            ("/", Err("it is an absolute path")),
            ("..foo/bar", Ok("..foo/bar")),
            ("foo../bar", Ok("foo../bar")),
            ("a\\..\\b", Ok("a\\..\\b")),
            ("...", Ok("...")),
        ];
        for (name, want) in cases {
            let got = enclosed(Path::new(name));
            let got = got
                .as_ref()
                .map(|p| p.to_str().unwrap_or("?"))
                .map_err(|e| *e);
            assert_eq!(got, *want, "{name:?}");
        }
    }

    #[test]
    fn parents_table() {
        let cases: &[(&str, &[&str])] = &[("a", &[]), ("a/b", &["a"]), ("a/b/c", &["a", "a/b"])];
        for (rel, want) in cases {
            let got: Vec<&str> = parents(Path::new(rel))
                .iter()
                .map(|p| p.to_str().unwrap_or("?"))
                .collect();
            assert_eq!(got, *want, "{rel}");
        }
    }
}
