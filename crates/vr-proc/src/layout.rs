//! Where things live on the host, under `VR_ROOT` (default `/apps`).

use std::ffi::OsString;
use std::path::PathBuf;

use crate::names::{check_name, url_basename};
use crate::{Error, Result};

/// The default `VR_ROOT`.
pub const DEFAULT_ROOT: &str = "/apps";

/// Name of the folder under `images/<image_name>/` that holds the unpacked image.
const CONTENTS: &str = "contents";

/// The host layout under one root:
///
/// ```text
/// <root>/builds/<basename of build_url>
/// <root>/images/<image_name>/<basename of image_url>
/// <root>/images/<image_name>/contents/
/// <root>/procs/<container_name>/{proc.lxc, rootfs/, work/}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `VR_ROOT`.
    pub root: PathBuf,
}

/// The host paths of one proc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcPaths {
    /// `procs/<container_name>`.
    pub dir: PathBuf,
    /// `procs/<container_name>/proc.lxc`: the LXC config.
    pub lxc_config: PathBuf,
    /// `procs/<container_name>/rootfs`: the proc's own (upper) layer.
    pub rootfs: PathBuf,
    /// `procs/<container_name>/work`: the overlayfs work dir.
    pub work: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// The layout for the value of the `VR_ROOT` environment variable (the caller passes
    /// `std::env::var_os("VR_ROOT")`); unset or empty means `/apps`. A relative path is taken
    /// from the current directory (LXC configs need absolute paths).
    pub fn from_env(vr_root: Option<OsString>) -> Layout {
        match vr_root {
            Some(root) if !root.is_empty() => {
                let root = PathBuf::from(root);
                Layout::new(std::path::absolute(&root).unwrap_or(root))
            }
            _ => Layout::new(DEFAULT_ROOT),
        }
    }

    /// `<root>/builds`.
    pub fn builds_dir(&self) -> PathBuf {
        self.root.join("builds")
    }

    /// `<root>/builds/<basename of build_url>`: where vr before 0.2 cached a build (taken over
    /// when its checksum matches, see vr-fetch's `FetchOptions::adopt`).
    pub fn build_tarball(&self, build_url: &str) -> Result<PathBuf> {
        let name = url_basename(build_url, "build_url")?;
        not_a_lock(&name, build_url, "build_url")?;
        Ok(self.builds_dir().join(name))
    }

    /// `<root>/builds/<entry>`: a build cache entry named by the caller (vr-fetch's
    /// `cache_name_for`: by the whole source, or by content), a plain file name.
    pub fn build_entry(&self, entry: &str) -> Result<PathBuf> {
        check_name(entry, "build cache entry")?;
        not_a_lock(entry, entry, "build_url")?;
        Ok(self.builds_dir().join(entry))
    }

    /// `<root>/images/<image_name>/<entry>`: an image cache entry named by the caller, never
    /// `contents` or one of its files.
    pub fn image_entry(&self, image_name: &str, entry: &str) -> Result<PathBuf> {
        let dir = self.image_dir(image_name)?;
        check_name(entry, "image cache entry")?;
        if entry == CONTENTS || entry.starts_with("contents.") || entry.starts_with(".contents") {
            return Err(Error::InvalidName {
                key: "image_url",
                value: entry.to_string(),
                reason: "has a file name reserved for the unpacked image (`contents`)",
            });
        }
        not_a_lock(entry, entry, "image_url")?;
        Ok(dir.join(entry))
    }

    /// `<root>/images`.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// `<root>/images/<image_name>`.
    pub fn image_dir(&self, image_name: &str) -> Result<PathBuf> {
        check_name(image_name, "image_name")?;
        Ok(self.images_dir().join(image_name))
    }

    /// `<root>/images/<image_name>/<basename of image_url>`. The basename may not collide
    /// with `contents` (or its lock and temp files).
    pub fn image_tarball(&self, image_name: &str, image_url: &str) -> Result<PathBuf> {
        let dir = self.image_dir(image_name)?;
        let name = url_basename(image_url, "image_url")?;
        if name == CONTENTS || name.starts_with("contents.") || name.starts_with(".contents") {
            return Err(Error::InvalidName {
                key: "image_url",
                value: image_url.to_string(),
                reason: "has a file name reserved for the unpacked image (`contents`)",
            });
        }
        not_a_lock(&name, image_url, "image_url")?;
        Ok(dir.join(name))
    }

    /// `<root>/images/<image_name>/contents`: the unpacked image.
    pub fn image_contents(&self, image_name: &str) -> Result<PathBuf> {
        Ok(self.image_dir(image_name)?.join(CONTENTS))
    }

    /// `<root>/procs`.
    pub fn procs_dir(&self) -> PathBuf {
        self.root.join("procs")
    }

    /// The paths under `<root>/procs/<container_name>`.
    pub fn proc_paths(&self, container_name: &str) -> Result<ProcPaths> {
        check_name(container_name, "container_name")?;
        let dir = self.procs_dir().join(container_name);
        Ok(ProcPaths {
            lxc_config: dir.join("proc.lxc"),
            rootfs: dir.join("rootfs"),
            work: dir.join("work"),
            dir,
        })
    }
}

/// Cache entries are locked through `<entry>.lock`; a download may not land on a lock file.
fn not_a_lock(name: &str, url: &str, key: &'static str) -> Result<()> {
    if name.ends_with(".lock") {
        return Err(Error::InvalidName {
            key,
            value: url.to_string(),
            reason: "has a file name ending in `.lock`, reserved for cache locks",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn root_from_env() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, "/apps"),
            (Some(""), "/apps"),
            (Some("/tmp/vr"), "/tmp/vr"),
        ];
        for (env, want) in cases {
            let layout = Layout::from_env(env.map(OsString::from));
            assert_eq!(layout.root, Path::new(want), "{env:?}");
        }
        // Relative: from the current directory.
        let layout = Layout::from_env(Some("vr-root".into()));
        assert_eq!(
            layout.root,
            std::env::current_dir().unwrap().join("vr-root")
        );
    }

    #[test]
    fn paths() {
        let l = Layout::new("/r");
        assert_eq!(l.builds_dir(), Path::new("/r/builds"));
        assert_eq!(
            l.build_tarball("http://h/b/app-1.tar.gz?x=1").unwrap(),
            Path::new("/r/builds/app-1.tar.gz")
        );
        assert_eq!(l.image_dir("jammy").unwrap(), Path::new("/r/images/jammy"));
        assert_eq!(
            l.image_tarball("jammy", "/srv/jammy.tar.gz").unwrap(),
            Path::new("/r/images/jammy/jammy.tar.gz")
        );
        assert_eq!(
            l.image_contents("jammy").unwrap(),
            Path::new("/r/images/jammy/contents")
        );
        assert_eq!(l.procs_dir(), Path::new("/r/procs"));
        assert_eq!(
            l.proc_paths("a-1-p-h-web-5000").unwrap(),
            ProcPaths {
                dir: "/r/procs/a-1-p-h-web-5000".into(),
                lxc_config: "/r/procs/a-1-p-h-web-5000/proc.lxc".into(),
                rootfs: "/r/procs/a-1-p-h-web-5000/rootfs".into(),
                work: "/r/procs/a-1-p-h-web-5000/work".into(),
            }
        );
    }

    #[test]
    fn rejects_names_that_leave_the_layout() {
        let l = Layout::new("/r");
        let cases: Vec<(Result<PathBuf>, &str)> = vec![
            (l.image_dir(".."), "key `image_name`: \"..\" must not be `.` or `..`"),
            (l.image_dir("a/b"), "key `image_name`: \"a/b\" must not contain `/`"),
            (l.image_contents(""), "key `image_name`: \"\" must not be empty"),
            (
                l.image_tarball("x", "http://h/contents"),
                "key `image_url`: \"http://h/contents\" has a file name reserved for the unpacked image (`contents`)",
            ),
            (
                l.image_tarball("x", "/srv/contents.lock"),
                "key `image_url`: \"/srv/contents.lock\" has a file name reserved for the unpacked image (`contents`)",
            ),
            (
                l.image_tarball("..", "/srv/a.tar.gz"),
                "key `image_name`: \"..\" must not be `.` or `..`",
            ),
            (
                l.build_tarball("http://h/x.tar.gz.lock"),
                "key `build_url`: \"http://h/x.tar.gz.lock\" has a file name ending in `.lock`, reserved for cache locks",
            ),
            (
                l.build_tarball("http://h/b/.."),
                "key `build_url`: \"http://h/b/..\" ends in `.` or `..`, not a file name",
            ),
            (
                l.proc_paths("..").map(|p| p.dir),
                "key `container_name`: \"..\" must not be `.` or `..`",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.unwrap_err().to_string(), want);
        }
    }
}
