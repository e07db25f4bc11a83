//! What a set-up proc uses, so that it keeps using it: setup records, in the proc's folder, the
//! image tree it was set up on (by its tarball's md5) and the cached tarballs it came from.
//!
//! An image replaced under the same `image_name` moves the old tree aside to
//! `images/<image_name>/.contents.<md5>.XXXXXX` (procs running on it still use it);
//! `run`, `uptest` and `shell` of a proc set up on it find it there by the recorded md5, and
//! refuse (`set it up again`) once it is gone. `vrun gc` keeps exactly what these records and
//! running containers name.
//!
//! The record, `procs/<name>/uses`, is lines of `<key> <value>`:
//!
//! ```text
//! image_name busybox
//! image_md5 0123456789abcdef0123456789abcdef
//! image_tarball /apps/images/busybox/busybox.tar.gz
//! build_tarball /apps/builds/app.tar.gz
//! ```

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The unpacked image's folder name in `images/<image_name>/`.
pub const CONTENTS: &str = "contents";

/// The record's file name in the proc's folder.
pub const USES_FILE: &str = "uses";

/// What a set-up proc uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uses {
    /// `image_name`.
    pub image_name: String,
    /// The md5 of the tarball its image tree was unpacked from.
    pub image_md5: String,
    /// The cached image tarball.
    pub image_tarball: PathBuf,
    /// The cached build tarball.
    pub build_tarball: PathBuf,
}

impl Uses {
    /// The record's text.
    pub fn render(&self) -> String {
        format!(
            "image_name {}\nimage_md5 {}\nimage_tarball {}\nbuild_tarball {}\n",
            self.image_name,
            self.image_md5,
            self.image_tarball.display(),
            self.build_tarball.display()
        )
    }

    /// Parses a record; None when a key is missing (a record of another version).
    pub fn parse(text: &str) -> Option<Uses> {
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Some(Uses {
            image_name: value("image_name")?,
            image_md5: value("image_md5")?,
            image_tarball: PathBuf::from(value("image_tarball")?),
            build_tarball: PathBuf::from(value("build_tarball")?),
        })
    }

    /// Reads the record of the proc whose folder is `dir`; None when there is none.
    pub fn read(dir: &Path) -> Option<Uses> {
        Uses::parse(&std::fs::read_to_string(dir.join(USES_FILE)).ok()?)
    }
}

/// The md5 an unpacked tree's stamp (`.contents.md5` beside `contents`) records.
pub fn tree_md5(contents: &Path) -> Option<String> {
    vr_fetch::stamp_md5(contents)
}

fn is_md5(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The md5 of a retired tree, from its name `.contents.<md5>.XXXXXX`.
pub fn retired_md5(file_name: &str) -> Option<String> {
    let rest = file_name.strip_prefix(".contents.")?;
    let (md5, suffix) = rest.split_once('.')?;
    (is_md5(md5) && !suffix.is_empty()).then(|| md5.to_ascii_lowercase())
}

/// The tree of `image_dir` unpacked from the tarball with `md5`: `contents` when its stamp
/// says so, else a retired `.contents.<md5>.XXXXXX`; None when neither is there.
pub fn find_tree(image_dir: &Path, md5: &str) -> Option<PathBuf> {
    let contents = image_dir.join(CONTENTS);
    if contents.is_dir() && tree_md5(&contents).is_some_and(|m| m.eq_ignore_ascii_case(md5)) {
        return Some(contents);
    }
    let mut retired: Vec<PathBuf> = std::fs::read_dir(image_dir)
        .ok()?
        .flatten()
        .filter(|e| {
            retired_md5(&e.file_name().to_string_lossy())
                .is_some_and(|m| m.eq_ignore_ascii_case(md5))
        })
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect();
    retired.sort();
    retired.into_iter().next()
}

/// `config_text` (a `proc.lxc`) with the image layer of its overlay rootfs (the layer in
/// `image_dir`) replaced by `new`; None when the rootfs has no such layer or it is `new`
/// already.
pub fn with_image_layer(config_text: &str, image_dir: &Path, new: &Path) -> Option<String> {
    let new = new.to_str()?;
    let mut found = false;
    let lines: Vec<String> = config_text
        .lines()
        .map(|line| {
            let Some((key, value)) = line.split_once('=') else {
                return line.to_string();
            };
            if key.trim() != "lxc.rootfs.path" {
                return line.to_string();
            }
            let parts: Vec<&str> = value
                .trim()
                .split(':')
                .map(|p| {
                    if Path::new(p).parent() == Some(image_dir) && p != new {
                        found = true;
                        new
                    } else {
                        p
                    }
                })
                .collect();
            format!("{}= {}", key, parts.join(":"))
        })
        .collect();
    found.then(|| lines.join("\n") + "\n")
}

/// The image tree the proc whose folder is `dir` was set up on: by its record, or (a proc
/// set up before records existed) `contents`. An error saying to set it up again when it is
/// gone.
pub fn pinned_tree(dir: &Path, image_dir: &Path, proc_name: &str, file: &Path) -> Result<PathBuf> {
    let Some(uses) = Uses::read(dir) else {
        return Ok(image_dir.join(CONTENTS));
    };
    find_tree(image_dir, &uses.image_md5).with_context(|| {
        format!(
            "the image {} that {proc_name} was set up on (md5 {}) is gone from {}: set it up again with `vrun setup {}`",
            uses.image_name,
            uses.image_md5,
            image_dir.display(),
            file.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5_A: &str = "0123456789abcdef0123456789abcdef";
    const MD5_B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn the_record_round_trips() {
        let uses = Uses {
            image_name: "busybox".into(),
            image_md5: MD5_A.into(),
            image_tarball: "/apps/images/busybox/b.tar.gz".into(),
            build_tarball: "/apps/builds/app.tar.gz".into(),
        };
        assert_eq!(Uses::parse(&uses.render()), Some(uses));
        assert_eq!(Uses::parse("image_name x\n"), None);
    }

    #[test]
    fn retired_names() {
        assert_eq!(
            retired_md5(&format!(".contents.{MD5_A}.Ab12Cd")),
            Some(MD5_A.into())
        );
        assert_eq!(retired_md5(&format!(".contents.{MD5_A}.")), None);
        assert_eq!(retired_md5(".contents.md5"), None);
        assert_eq!(retired_md5("contents"), None);
        assert_eq!(retired_md5(".contents.unpack-x"), None);
    }

    #[test]
    fn trees_are_found_by_md5() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::create_dir(d.join("contents")).unwrap();
        std::fs::write(d.join(".contents.md5"), format!("{MD5_B}  new.tar.gz\n")).unwrap();
        std::fs::create_dir(d.join(format!(".contents.{MD5_A}.x1"))).unwrap();
        assert_eq!(find_tree(d, MD5_B), Some(d.join("contents")));
        assert_eq!(
            find_tree(d, MD5_A),
            Some(d.join(format!(".contents.{MD5_A}.x1")))
        );
        assert_eq!(find_tree(d, &"1".repeat(32)), None);
        // A link with the right name is not a tree.
        std::os::unix::fs::symlink("/", d.join(format!(".contents.{}.x2", "2".repeat(32))))
            .unwrap();
        assert_eq!(find_tree(d, &"2".repeat(32)), None);
    }

    #[test]
    fn the_image_layer_is_swapped_in_the_config() {
        let text = "lxc.uts.name = x\nlxc.rootfs.path = overlay:/a/contents:/p/rootfs\n";
        assert_eq!(
            with_image_layer(text, Path::new("/a"), Path::new("/a/.contents.m.x")),
            Some("lxc.uts.name = x\nlxc.rootfs.path = overlay:/a/.contents.m.x:/p/rootfs\n".into())
        );
        assert_eq!(
            with_image_layer(text, Path::new("/b"), Path::new("/b/c")),
            None
        );
        assert_eq!(
            with_image_layer(text, Path::new("/a"), Path::new("/a/contents")),
            None,
            "unchanged"
        );
    }
}
