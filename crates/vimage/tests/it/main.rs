//! vimage through its real binary, on real LXC, with a busybox base image made at test time.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod build;
mod contained;
mod daemons;
mod debian;
mod errors;
mod log;
mod on_error;
mod repro;
mod residue;
mod shell;
mod signals;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A test's world: a VR_ROOT, an output folder, a base image tarball, an HTTP server over it.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub base_md5: String,
    pub server: vr_tests::HttpServer,
}

impl Default for World {
    fn default() -> World {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["root", "out", "www"] {
            fs::create_dir(tmp.path().join(d)).unwrap();
        }
        let base_md5 = vr_tests::busybox_image(&tmp.path().join("www/base.tar.gz")).unwrap();
        let server = vr_tests::HttpServer::serve(&tmp.path().join("www"));
        World {
            tmp,
            base_md5,
            server,
        }
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    pub fn out(&self) -> PathBuf {
        self.tmp.path().join("out")
    }

    /// Writes a script into the web folder and returns its local path.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.tmp.path().join("www").join(name);
        fs::write(&path, body).unwrap();
        path
    }

    /// Writes an image.yaml into the output folder.
    pub fn yaml(&self, name: &str, text: &str) -> PathBuf {
        let path = self.out().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// The usual image.yaml: base over HTTP with its md5, the script at `script`.
    pub fn image_yaml(&self, new_name: &str, script: &Path, extra: &str) -> PathBuf {
        let text = format!(
            "base_image_url: {}\nbase_image_name: busybox-base\nbase_image_md5: {}\nnew_image_name: {new_name}\nscript_url: {}\n{extra}",
            self.server.url("base.tar.gz"),
            self.base_md5,
            script.display()
        );
        self.yaml(&format!("{new_name}.yaml"), &text)
    }

    /// An image.yaml building `new_name` with `script` on the base `base` (a URL or path; no
    /// md5) cached as `base_name`.
    pub fn yaml_on(&self, new_name: &str, base: &str, base_name: &str, script: &Path) -> PathBuf {
        self.yaml(
            &format!("{new_name}.yaml"),
            &format!(
                "base_image_url: {base}\nbase_image_name: {base_name}\nnew_image_name: {new_name}\nscript_url: {}\n",
                script.display()
            ),
        )
    }

    /// `vimage ARGS` in the output folder with this VR_ROOT, to be run as the caller likes.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vimage"));
        cmd.args(args)
            .current_dir(self.out())
            .env("VR_ROOT", self.root());
        cmd
    }

    pub fn vimage(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// What is under images/busybox-base besides the cache itself (must be nothing).
    pub fn leftovers(&self) -> Vec<String> {
        let dir = self.root().join("images/busybox-base");
        let mut names: Vec<String> = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        // The cache itself: the tarball (named by its source or checksum, ending in its
        // file name), its lock and sidecar, the unpacked tree, its lock and stamp.
        names.retain(|n| {
            let cached = ["base.tar.gz", "base.tar.gz.lock", "base.tar.gz.meta"]
                .iter()
                .any(|end| n.ends_with(end));
            !cached
                && !matches!(
                    n.as_str(),
                    "contents" | "contents.lock" | ".contents.md5" | ".build.lock"
                )
        });
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = self.root().display().to_string();
        names.extend(
            mounts
                .lines()
                .filter(|l| l.contains(&root))
                .map(|l| format!("mount: {l}")),
        );
        names
    }
}

/// The content of the file `name` (relative to the root: `etc/motd`) in the gzip tarball
/// `tarball`, whose names are `./etc/motd` as GNU tar and vimage write them (empty when it is
/// not there).
pub fn file_in(tarball: &Path, name: &str) -> String {
    let out = Command::new("tar")
        .arg("-xzOf")
        .arg(tarball)
        .arg(format!("./{}", name.trim_start_matches("./")))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `vimage ARGS` on a terminal of its own, in `w`'s folder with its VR_ROOT.
pub fn vimage_on_a_terminal(w: &World, args: &[&str]) -> vr_tests::Terminal {
    let root = w.root();
    vr_tests::Terminal::spawn(
        Path::new(env!("CARGO_BIN_EXE_vimage")),
        args,
        &w.out(),
        &[("VR_ROOT", root.as_path())],
    )
}
