//! The packages of `cargo xtask dist`, installed the way a host gets them: each `.deb` unpacked
//! with `dpkg-deb -x` into a temp root, then run from there (`--version`, `man -l`, and a proc's
//! setup, run, uptest and teardown with the installed vrun finding the packaged vuptest beside
//! it). The packages are looked for in $VR_DIST_DIR, else `<target>/dist`; without them these
//! tests say so loudly and skip (fail with VR_REQUIRE_E2E=1).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use vr_tests::{free_port, has_interp, ok, wait_for};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TOOLS: [&str; 3] = ["vimage", "vrun", "vuptest"];

/// The folder `cargo xtask dist` writes to.
fn dist_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VR_DIST_DIR").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    // <target>/debug/deps/<test binary>
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("dist")
}

fn arch() -> String {
    let out = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The three .debs, or None after a loud SKIP (a panic with VR_REQUIRE_E2E=1).
fn debs(test: &str) -> Option<Vec<PathBuf>> {
    let dir = dist_dir();
    let arch = arch();
    let debs: Vec<PathBuf> = TOOLS
        .iter()
        .map(|t| dir.join(format!("{t}_{VERSION}_{arch}.deb")))
        .collect();
    let missing: Vec<String> = debs
        .iter()
        .filter(|d| !d.is_file())
        .map(|d| d.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(debs);
    }
    let why = format!(
        "{test} needs the packages of `cargo xtask dist` (missing {})",
        missing.join(", ")
    );
    if std::env::var("VR_REQUIRE_E2E").as_deref() == Ok("1") {
        panic!("VR_REQUIRE_E2E=1 but {why}");
    }
    eprintln!("\n========== SKIP: {why} ==========\n");
    None
}

/// The packages unpacked into one temp root.
struct Installed {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Installed {
    fn bin(&self, tool: &str) -> PathBuf {
        self.root.join("usr/bin").join(tool)
    }
}

fn install(debs: &[PathBuf]) -> Installed {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    for deb in debs {
        ok(&Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(&root)
            .output()
            .unwrap());
    }
    Installed { tmp, root }
}

fn field(deb: &Path, name: &str) -> String {
    ok(&Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg(name)
        .output()
        .unwrap())
    .trim()
    .to_string()
}

#[test]
fn control_fields() {
    let Some(debs) = debs("dist control_fields") else {
        return;
    };
    let arch = arch();
    // (package, Depends must start with, Depends must not mention)
    let cases = [
        ("vimage", "lxc, libc6", "vuptest"),
        ("vrun", &*format!("lxc, vuptest (= {VERSION}), libc6"), ""),
        ("vuptest", "", "libc6"),
    ];
    for (deb, (name, depends, not)) in debs.iter().zip(cases) {
        assert_eq!(field(deb, "Package"), name);
        assert_eq!(field(deb, "Version"), VERSION);
        assert_eq!(field(deb, "Architecture"), arch);
        assert_eq!(field(deb, "Section"), "utils");
        assert_eq!(field(deb, "Priority"), "optional");
        let got = field(deb, "Depends");
        assert!(got.starts_with(depends), "{name}: Depends: {got}");
        if !not.is_empty() {
            assert!(!got.contains(not), "{name}: Depends: {got}");
        }
        assert!(
            field(deb, "Maintainer").contains('@'),
            "{name}: a Maintainer needs an address"
        );
    }
}

#[test]
fn installed_tools_version_man_and_completions() {
    let Some(debs) = debs("dist installed_tools_version_man_and_completions") else {
        return;
    };
    let inst = install(&debs);
    let man = vr_tests::which("man").expect("man (man-db) is needed to check the man pages");
    for tool in TOOLS {
        let out = Command::new(inst.bin(tool))
            .arg("--version")
            .output()
            .unwrap();
        assert_eq!(ok(&out), format!("{tool} {VERSION}\n"));
        let page = inst.root.join(format!("usr/share/man/man1/{tool}.1.gz"));
        let text = ok(&Command::new(&man)
            .args(["-P", "cat", "-l"])
            .arg(&page)
            .env("LC_ALL", "C")
            .env("MANWIDTH", "100")
            .output()
            .unwrap());
        for want in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "--version"] {
            assert!(text.contains(want), "{tool}: no {want} in\n{text}");
        }
        let subs: &[&str] = match tool {
            "vimage" => &["build", "shell"],
            "vrun" => &["setup", "run", "uptest", "teardown", "shell"],
            _ => &[],
        };
        for sub in subs {
            assert!(
                text.contains(&format!("{tool}-{sub}(1)")),
                "{tool} {sub}: {text}"
            );
            let sub_page = inst
                .root
                .join(format!("usr/share/man/man1/{tool}-{sub}.1.gz"));
            let text = ok(&Command::new(&man)
                .args(["-P", "cat", "-l"])
                .arg(&sub_page)
                .env("LC_ALL", "C")
                .output()
                .unwrap());
            // man justifies lines, so "vimage build" may print as "vimage  build".
            let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(words.contains(&format!("{tool} {sub}")), "{text}");
        }
        let bash = inst
            .root
            .join(format!("usr/share/bash-completion/completions/{tool}"));
        ok(&Command::new("bash").arg("-n").arg(&bash).output().unwrap());
        for f in [
            format!("usr/share/zsh/vendor-completions/_{tool}"),
            format!("usr/share/fish/vendor_completions.d/{tool}.fish"),
            format!("usr/share/doc/{tool}/copyright"),
        ] {
            assert!(inst.root.join(&f).is_file(), "{tool}: missing {f}");
        }
    }
    // vuptest must run in any image: statically linked, no ELF interpreter.
    assert!(
        !has_interp(&inst.bin("vuptest")),
        "the packaged vuptest is dynamically linked"
    );
    assert!(has_interp(&inst.bin("vrun")));
}

#[test]
fn tarballs_hold_the_same_files() {
    if debs("dist tarballs_hold_the_same_files").is_none() {
        return;
    }
    for tool in TOOLS {
        let top = format!("{tool}-{VERSION}-x86_64-linux");
        let tarball = dist_dir().join(format!("{top}.tar.gz"));
        let list = ok(&Command::new("tar")
            .arg("-tzf")
            .arg(&tarball)
            .output()
            .unwrap());
        for want in [
            format!("{top}/bin/{tool}"),
            format!("{top}/man/man1/{tool}.1"),
            format!("{top}/completions/{tool}.bash"),
            format!("{top}/completions/_{tool}"),
            format!("{top}/completions/{tool}.fish"),
            format!("{top}/LICENSE"),
        ] {
            assert!(
                list.lines().any(|l| l == want),
                "{tool}: no {want} in\n{list}"
            );
        }
    }
}

/// A VR_ROOT, busybox image, app build (Procfile `web` = httpd, one uptest) and proc.yaml.
struct Flow {
    tmp: tempfile::TempDir,
    yaml: PathBuf,
    port: u16,
}

/// The demo's flow: with `vimage`, a stack is built from a busybox base (as the demo does) and
/// used as the proc's image; without, the busybox image itself.
fn flow(vimage: Option<&Path>) -> Flow {
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("files");
    let app = tmp.path().join("app");
    fs::create_dir_all(&files).unwrap();
    fs::create_dir_all(app.join("www")).unwrap();
    fs::create_dir_all(app.join("uptests/web")).unwrap();
    let base = files.join("busybox.tar.gz");
    let base_md5 = vr_tests::busybox_image(&base).unwrap();
    let (image, image_md5) = match vimage {
        None => (base, base_md5),
        Some(vimage) => {
            fs::write(
                files.join("provision.sh"),
                "#!/bin/sh\necho packaged > /etc/stack-release\n",
            )
            .unwrap();
            fs::write(
                files.join("image.yaml"),
                format!(
                    "base_image_url: busybox.tar.gz\nbase_image_md5: {base_md5}\nbase_image_name: distbase\n\
                     new_image_name: stack\nscript_url: provision.sh\n"
                ),
            )
            .unwrap();
            let built = Command::new(vimage)
                .args(["build", "image.yaml"])
                .current_dir(&files)
                .env("VR_ROOT", tmp.path().join("vr"))
                .output()
                .unwrap();
            ok(&built);
            let stack = files.join("stack.tar.gz");
            let md5 = vr_tests::md5_file(&stack).unwrap();
            (stack, md5)
        }
    };
    fs::write(
        app.join("Procfile"),
        "web: exec httpd -f -p \"$PORT\" -h /app/www\n",
    )
    .unwrap();
    fs::write(app.join("www/index.html"), "hello from the package\n").unwrap();
    // The uptest may start before httpd listens: it retries, and keeps wget's "connection
    // refused" out of the Output that the test compares byte for byte.
    let uptest = app.join("uptests/web/01_page");
    fs::write(
        &uptest,
        "#!/bin/sh\nfor i in $(seq 300); do\n  if wget -q -O- \"http://$1:$2/\" 2>/dev/null | grep -q package; then echo \"page ok on $1:$2\"; exit 0; fi\n  sleep 0.1\ndone\necho no page; exit 1\n",
    )
    .unwrap();
    fs::set_permissions(&uptest, fs::Permissions::from_mode(0o755)).unwrap();
    let build = files.join("build.tar.gz");
    vr_tests::tar_gz(&app, &build).unwrap();
    let build_md5 = vr_tests::md5_file(&build).unwrap();
    let port = free_port();
    let yaml = tmp.path().join("proc.yaml");
    fs::write(
        &yaml,
        format!(
            "app_name: dist{}\nversion: v1\nconfig_name: test\nrelease_hash: abc123\nproc_name: web\n\
             port: {port}\nhost: 127.0.0.1\nuser: app\ngroup: app\nimage_name: busybox\n\
             image_url: {}\nimage_md5: {image_md5}\nbuild_url: {}\nbuild_md5: {build_md5}\n",
            std::process::id(),
            image.display(),
            build.display()
        ),
    )
    .unwrap();
    Flow { tmp, yaml, port }
}

impl Flow {
    /// `vrun` as a host would start it: the given executable, this VR_ROOT, no VR_UPTESTER,
    /// and a PATH without any vuptest on it.
    fn vrun(&self, exe: &Path, args: &[&str]) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path)
            .filter(|d| !d.join("vuptest").exists())
            .collect();
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .arg(&self.yaml)
            .env("VR_ROOT", self.tmp.path().join("vr"))
            .env("PATH", std::env::join_paths(dirs).unwrap())
            .env_remove("VR_UPTESTER")
            .env_remove("VR_STATIC_VUPTEST")
            .stdin(Stdio::null());
        cmd
    }
}

#[test]
fn installed_vrun_runs_a_proc_and_finds_the_packaged_vuptest() {
    // The demo's flow with the installed binaries: vimage build, vrun setup, run, uptest,
    // SIGTERM, teardown.
    if !vr_tests::e2e_ready("dist installed_vrun_runs_a_proc_and_finds_the_packaged_vuptest") {
        return;
    }
    let Some(debs) = debs("dist installed_vrun_runs_a_proc_and_finds_the_packaged_vuptest") else {
        return;
    };
    let inst = install(&debs);
    let flow = flow(Some(&inst.bin("vimage")));
    let vrun = inst.bin("vrun");
    ok(&flow.vrun(&vrun, &["setup"]).output().unwrap());
    let mut run = flow.vrun(&vrun, &["run"]).spawn().unwrap();
    let out = flow.vrun(&vrun, &["uptest"]).output().unwrap();
    let json = ok(&out);
    let results: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(results[0]["Name"], "01_page", "{json}");
    assert_eq!(results[0]["Passed"], true, "{json}");
    assert_eq!(
        results[0]["Output"],
        format!("page ok on 127.0.0.1:{}\n", flow.port),
        "{json}"
    );
    // SAFETY: kill has no memory preconditions; the pid is our own unreaped child.
    let rc = unsafe { libc::kill(run.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    // The installed vrun run must stop after SIGTERM.
    let status = wait_for(&mut run, Duration::from_secs(30));
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    ok(&flow.vrun(&vrun, &["teardown"]).output().unwrap());
    assert!(!flow
        .tmp
        .path()
        .join("vr/procs")
        .read_dir()
        .unwrap()
        .any(|_| true));
    drop(inst);
}

#[test]
fn vrun_without_vuptest_says_where_it_looked() {
    if !vr_tests::e2e_ready("dist vrun_without_vuptest_says_where_it_looked") {
        return;
    }
    let Some(debs) = debs("dist vrun_without_vuptest_says_where_it_looked") else {
        return;
    };
    let inst = install(&debs);
    // The installed vrun alone in a folder: no vuptest beside it, none on PATH, no VR_UPTESTER.
    let lonely = inst.tmp.path().join("lonely");
    fs::create_dir(&lonely).unwrap();
    fs::copy(inst.bin("vrun"), lonely.join("vrun")).unwrap();
    let flow = flow(None);
    ok(&flow
        .vrun(&lonely.join("vrun"), &["setup"])
        .output()
        .unwrap());
    let out = flow
        .vrun(&lonely.join("vrun"), &["uptest"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let want = format!(
        "vrun: no statically linked vuptest found (looked next to vrun, on PATH, then at \
         $VR_UPTESTER): {}/vuptest: not found; ",
        lonely.display()
    );
    assert!(stderr.starts_with(&want), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let _ = flow.vrun(&lonely.join("vrun"), &["teardown"]).output();
}
