//! Tests against real directories: a `tree` (the untrusted side) and an `outside` directory
//! (standing for host files) that hostile symlinks and hard links in the tree point at. Every
//! test checks that `outside` is exactly as it was.

mod dir;
mod paths;
mod read;
mod remove;
mod swap;
mod write;

use crate::Beneath;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The content of the host file the tree's links point at.
pub(crate) const SECRET: &[u8] = b"host secret\n";
/// Its mode.
pub(crate) const SECRET_MODE: u32 = 0o640;
/// The mode of the outside directory.
pub(crate) const OUTSIDE_MODE: u32 = 0o751;
/// The owner asked for in tests running as root (an unprivileged container's root).
pub(crate) const CONTAINER_ROOT: (u32, u32) = (100_000, 100_000);

/// The content of `outside/sub/inner`.
pub(crate) const INNER: &[u8] = b"host inner\n";

/// A temp directory holding `tree/` (with a [`Beneath`] on it) and `outside/` with `file` and
/// `sub/inner` (so a link to `outside` can be followed more than one level down).
pub(crate) struct Fixture {
    _tmp: tempfile::TempDir,
    pub(crate) tree: PathBuf,
    pub(crate) outside: PathBuf,
    pub(crate) beneath: Beneath,
}

pub(crate) fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    let outside = tmp.path().join("outside");
    fs::create_dir(&tree).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("file"), SECRET).unwrap();
    set_mode(&outside.join("file"), SECRET_MODE);
    fs::create_dir(outside.join("sub")).unwrap();
    fs::write(outside.join("sub/inner"), INNER).unwrap();
    set_mode(&outside, OUTSIDE_MODE);
    let beneath = Beneath::open(&tree).unwrap();
    Fixture {
        _tmp: tmp,
        tree,
        outside,
        beneath,
    }
}

impl Fixture {
    /// `outside/file`.
    pub(crate) fn secret(&self) -> PathBuf {
        self.outside.join("file")
    }

    /// Plants a symlink at `tree/rel` pointing at `target`.
    pub(crate) fn link(&self, rel: &str, target: &Path) {
        std::os::unix::fs::symlink(target, self.tree.join(rel)).unwrap();
    }

    /// Panics unless `outside` holds exactly `file` (with its content, mode and owner) and
    /// `sub/inner`, and the directory itself kept its mode and owner.
    pub(crate) fn assert_outside_untouched(&self) {
        assert_eq!(names(&self.outside), ["file", "sub"]);
        assert_eq!(names(&self.outside.join("sub")), ["inner"]);
        assert_eq!(fs::read(self.outside.join("sub/inner")).unwrap(), INNER);
        assert_eq!(fs::read(self.secret()).unwrap(), SECRET);
        let me = rustix::process::geteuid().as_raw();
        let file = fs::symlink_metadata(self.secret()).unwrap();
        assert_eq!(file.mode() & 0o7777, SECRET_MODE);
        assert_eq!(file.uid(), me);
        assert_eq!(file.nlink(), 1 + self.extra_links());
        let dir = fs::symlink_metadata(&self.outside).unwrap();
        assert_eq!(dir.mode() & 0o7777, OUTSIDE_MODE);
        assert_eq!(dir.uid(), me);
    }

    /// Hard links to `outside/file` still inside the tree (counted by walking it).
    fn extra_links(&self) -> u64 {
        let ino = fs::metadata(self.secret()).unwrap().ino();
        walk(&self.tree)
            .iter()
            .filter(|p| fs::symlink_metadata(p).unwrap().ino() == ino)
            .count() as u64
    }
}

/// Every path below `dir`, not following symlinks.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

pub(crate) use vr_tests::names;

pub(crate) fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The permission bits (with setuid, setgid, sticky) of `path`, not following a symlink.
pub(crate) fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The owner to ask for: [`CONTAINER_ROOT`] as root, `None` otherwise (not root cannot chown).
pub(crate) fn owner() -> Option<(u32, u32)> {
    is_root().then_some(CONTAINER_ROOT)
}

/// For tests that matter as an unprivileged user: as root, runs the test `module::name` again
/// in a child process as uid/gid 65534, asserts it passed and returns `true` (the caller
/// stops); when not root returns `false` and the caller runs the body itself.
pub(crate) fn rerun_as_nobody(module: &str, name: &str) -> bool {
    if !is_root() {
        return false;
    }
    let module = module.strip_prefix("vr_fs::").unwrap_or(module);
    let test = format!("{module}::{name}");
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", &test, "--test-threads=1"])
        .env_remove("TMPDIR")
        .uid(65_534)
        .gid(65_534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} as uid 65534 failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    true
}
