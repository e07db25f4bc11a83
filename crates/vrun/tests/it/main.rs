//! vrun end to end: the real binary against real LXC (root needed; see vr_tests::e2e_ready).
#![allow(clippy::unwrap_used)]

mod atomic;
mod caches;
mod doctor;
mod errors;
mod images;
mod killed;
mod lifecycle;
mod procs;
mod security;
mod security_host;
mod upgrade;
mod volumes;
mod zstd;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The helpers shared with the other crates' tests.
pub use vr_tests::{free_port, nothing_left, ok, static_vuptest, stderr, wait_for, with_stdin};

/// A test's own VR_ROOT, image and build tarballs.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub image: PathBuf,
    pub image_md5: String,
    pub build: PathBuf,
    pub build_md5: String,
}

pub const PROCFILE: &str = "web: exec httpd -f -p \"$PORT\" -h /app/www\nprinter: echo printed\n";

/// Makes the busybox image and the app build (Procfile, www/, uptests/web/{01_pass,02_fail,.hidden}).
pub fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vr");
    let files = tmp.path().join("files");
    fs::create_dir_all(&files).unwrap();
    let image = files.join("busybox.tar.gz");
    let image_md5 = vr_tests::busybox_image(&image).unwrap();
    let app = tmp.path().join("app");
    fs::create_dir_all(app.join("www")).unwrap();
    fs::create_dir_all(app.join("uptests/web")).unwrap();
    fs::write(app.join("Procfile"), PROCFILE).unwrap();
    fs::write(app.join("www/index.html"), "hello from the app\n").unwrap();
    let script = |name: &str, text: &str| {
        let p = app.join("uptests/web").join(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(
        "01_pass",
        "#!/bin/sh\nfor i in $(seq 300); do\n  if wget -q -O- \"http://$1:$2/\" 2>/dev/null | grep -q hello; then echo page ok; exit 0; fi\n  sleep 0.1\ndone\necho no page; exit 1\n",
    );
    script("02_fail", "#!/bin/sh\necho failing on purpose\nexit 3\n");
    script(".hidden", "#!/bin/sh\nexit 0\n");
    let build = files.join("build.tar.gz");
    vr_tests::tar_gz(&app, &build).unwrap();
    let build_md5 = vr_tests::md5_file(&build).unwrap();
    Env {
        tmp,
        root,
        image,
        image_md5,
        build,
        build_md5,
    }
}

/// A unique app name for this test and process.
pub fn app_name(test: &str) -> String {
    format!("{test}{}", std::process::id())
}

impl Env {
    /// Writes a proc.yaml for `app` on `port` with local image/build paths and `extra` lines.
    pub fn proc_yaml(&self, app: &str, port: u16, extra: &str) -> PathBuf {
        self.proc_yaml_from(
            app,
            port,
            self.image.to_str().unwrap(),
            self.build.to_str().unwrap(),
            extra,
        )
    }

    /// A proc.yaml with the given image and build URLs (or paths).
    pub fn proc_yaml_from(
        &self,
        app: &str,
        port: u16,
        image_url: &str,
        build_url: &str,
        extra: &str,
    ) -> PathBuf {
        let yaml = format!(
            "app_name: {app}\nversion: v1\nconfig_name: test\nrelease_hash: abc123\nport: {port}\nhost: 127.0.0.1\n\
             user: app\ngroup: app\nimage_name: busybox\nimage_url: {image_url}\nimage_md5: {}\n\
             build_url: {build_url}\nbuild_md5: {}\n{extra}",
            self.image_md5, self.build_md5
        );
        let path = self.tmp.path().join(format!("{app}-{port}.yaml"));
        fs::write(&path, yaml).unwrap();
        path
    }

    /// `vrun ARGS` with this VR_ROOT.
    pub fn vrun(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vrun"));
        cmd.env("VR_ROOT", &self.root)
            .env("VR_UPTESTER", static_vuptest());
        cmd
    }

    /// Starts `vrun run YAML` (stdin from /dev/null, stdout as given) and returns the child.
    pub fn start_run(&self, yaml: &Path, stdout: Stdio) -> std::process::Child {
        self.vrun()
            .arg("run")
            .arg(yaml)
            .stdin(Stdio::null())
            .stdout(stdout)
            .spawn()
            .unwrap()
    }

    /// Runs `vrun ARGS` to completion.
    pub fn run(&self, args: &[&str], yaml: &Path) -> Output {
        self.vrun()
            .args(args)
            .arg(yaml)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The proc folder of a container name.
    pub fn proc_dir(&self, name: &str) -> PathBuf {
        self.root.join("procs").join(name)
    }
}

/// The container name of the procs written by [`Env::proc_yaml`].
pub fn container(app: &str, proc_name: &str, port: u16) -> String {
    format!("{app}-v1-test-abc123-{proc_name}-{port}")
}
