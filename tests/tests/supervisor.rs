//! vrun under a real supervisord (Debian's `supervisor` package), driven by the program file of
//! docs/examples/hello-web.conf and the commands of docs/supervisors.md: the example stack built
//! by vimage, the example app set up, started by supervisord, uptested, stopped, torn down,
//! nothing left. And the systemd unit of docs/examples/vrun@.service, which only
//! `systemd-analyze verify` can check here (PID 1 is not systemd).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use vr_tests::until;

/// The workspace root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// True when every tool is on PATH; otherwise a loud SKIP, or a failure with VR_REQUIRE_E2E=1.
fn tools_ready(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| vr_tests::which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("{test} needs {} on PATH", missing.join(", "));
    if std::env::var("VR_REQUIRE_E2E").as_deref() == Ok("1") {
        panic!("VR_REQUIRE_E2E=1 but {why}");
    }
    eprintln!("\n========== SKIP: {why} ==========\n");
    false
}

/// A proc deployed the way docs/supervisors.md says, in a temp folder.
struct Deploy {
    tmp: tempfile::TempDir,
    /// Holds the tarballs, hello-web.yaml and supervisord.conf; every command runs here.
    dir: PathBuf,
    root: PathBuf,
    port: u16,
}

impl Deploy {
    /// Builds the example stack with vimage, packs the example app, writes hello-web.yaml.
    fn new() -> Deploy {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("procs");
        let root = tmp.path().join("vr-root");
        for d in [&dir, &tmp.path().join("log"), &tmp.path().join("conf.d")] {
            fs::create_dir_all(d).unwrap();
        }
        let examples = repo().join("examples");
        vr_tests::busybox_image(&dir.join("busybox-base.tar.gz")).unwrap();
        for f in ["image.yaml", "provision.sh"] {
            fs::copy(examples.join("image").join(f), dir.join(f)).unwrap();
        }
        vr_tests::tar_gz(&examples.join("app"), &dir.join("hello-build.tar.gz")).unwrap();
        let port = vr_tests::free_port();
        let proc_yaml = fs::read_to_string(examples.join("proc.yaml")).unwrap();
        assert!(proc_yaml.contains("port: 5000\n"), "{proc_yaml}");
        fs::write(
            dir.join("hello-web.yaml"),
            proc_yaml.replace("port: 5000\n", &format!("port: {port}\n")),
        )
        .unwrap();
        let d = Deploy {
            tmp,
            dir,
            root,
            port,
        };
        d.ok("vimage build image.yaml");
        d
    }

    /// `sh -c LINE` in the deploy folder, the workspace binaries first on PATH.
    fn sh(&self, line: &str) -> Command {
        let bins = vr_tests::bin("vrun").parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            bins.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(line)
            .current_dir(&self.dir)
            .env("PATH", path)
            .env("VR_ROOT", &self.root)
            .env("VR_UPTESTER", vr_tests::static_vuptest())
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, line: &str) -> Output {
        self.sh(line).output().unwrap()
    }

    /// Runs LINE, asserts it succeeded, returns its stdout.
    fn ok(&self, line: &str) -> String {
        let out = self.run(line);
        assert!(
            out.status.success(),
            "`{line}`: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn container(&self) -> String {
        format!("hello-v1-demo-5f3a9c1-web-{}", self.port)
    }
}

/// A private supervisord (its own socket, pid file, logs and include folder); shut down when
/// dropped, so a failing test leaves nothing running.
struct Supervisord {
    child: Option<Child>,
}

impl Supervisord {
    fn start(d: &Deploy) -> Supervisord {
        let t = d.tmp.path().display();
        let conf = format!(
            "[unix_http_server]\nfile={t}/supervisor.sock\n\n\
             [supervisord]\nlogfile={t}/log/supervisord.log\npidfile={t}/supervisord.pid\n\
             childlogdir={t}/log\nnodaemon=true\n\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
             [supervisorctl]\nserverurl=unix://{t}/supervisor.sock\n\n\
             [include]\nfiles = {t}/conf.d/*.conf\n"
        );
        // supervisorctl finds ./supervisord.conf in the deploy folder before /etc/supervisor.
        fs::write(d.dir.join("supervisord.conf"), conf).unwrap();
        let child = d
            .sh("exec supervisord -n -c supervisord.conf")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let s = Supervisord { child: Some(child) };
        until(Duration::from_secs(30), "supervisord answers", || {
            d.run("supervisorctl pid").status.success()
        });
        s
    }

    fn shutdown(mut self, d: &Deploy) {
        d.ok("supervisorctl shutdown");
        let mut child = self.child.take().unwrap();
        until(Duration::from_secs(30), "supervisord exits", || {
            child.try_wait().unwrap().is_some()
        });
    }
}

impl Drop for Supervisord {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill on our own unreaped child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

/// `text` with each `(from, to)` replaced; each `from` must occur in it.
fn substitute(text: &str, pairs: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (from, to) in pairs {
        assert!(out.contains(from), "{from:?} is no longer in the example");
        out = out.replace(from, to);
    }
    out
}

#[test]
fn vrun_under_supervisord() {
    if !vr_tests::e2e_ready("supervisor vrun_under_supervisord")
        || !tools_ready(
            "supervisor vrun_under_supervisord",
            &["supervisord", "supervisorctl", "jq"],
        )
    {
        return;
    }
    let d = Deploy::new();
    let t = d.tmp.path();
    d.ok("vrun setup hello-web.yaml");
    let sup = Supervisord::start(&d);

    // The program file of the docs, with this test's paths.
    let example = fs::read_to_string(repo().join("docs/examples/hello-web.conf")).unwrap();
    let program = substitute(
        &example,
        &[
            (
                "/usr/local/bin/vrun",
                vr_tests::bin("vrun").display().to_string(),
            ),
            (
                "/etc/vr/procs/hello-web.yaml",
                d.dir.join("hello-web.yaml").display().to_string(),
            ),
            (
                "VR_ROOT=\"/apps\"",
                format!("VR_ROOT=\"{}\"", d.root.display()),
            ),
            (
                "/var/log/vr/hello-web.log",
                t.join("log/hello-web.log").display().to_string(),
            ),
        ],
    );
    fs::write(t.join("conf.d/hello-web.conf"), program).unwrap();
    assert!(d
        .ok("supervisorctl reread")
        .contains("hello-web: available"));
    assert!(d.ok("supervisorctl update").contains("hello-web: added"));
    until(Duration::from_secs(30), "hello-web is RUNNING", || {
        String::from_utf8_lossy(&d.run("supervisorctl status hello-web").stdout).contains("RUNNING")
    });
    let pid: i32 = d.ok("supervisorctl pid hello-web").trim().parse().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], d.port));
    until(Duration::from_secs(30), "the proc listens", || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    });

    // The uptests pass, and the jq filter of the docs lists no failure.
    let json: serde_json::Value =
        serde_json::from_str(&d.ok("vrun uptest hello-web.yaml")).unwrap();
    let results = json.as_array().unwrap();
    assert_eq!(results.len(), 2, "{json}");
    assert!(results.iter().all(|r| r["Passed"] == true), "{json}");
    assert_eq!(
        d.ok("vrun uptest hello-web.yaml | jq '.[] | select(.Passed|not)'"),
        ""
    );

    // Stop: SIGTERM to vrun, which ends the proc and exits; nothing of it is left.
    assert!(d
        .ok("supervisorctl stop hello-web")
        .contains("hello-web: stopped"));
    assert!(
        String::from_utf8_lossy(&d.run("supervisorctl status hello-web").stdout)
            .contains("STOPPED")
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "vrun run ({pid}) is still there"
    );
    let log = fs::read_to_string(t.join("log/supervisord.log")).unwrap();
    assert!(
        log.contains("stopped: hello-web (exit status 143)"),
        "supervisord.log: {log}"
    );
    vr_tests::nothing_left(&d.container(), &d.root);
    // Retire it: the program file goes, `update` drops it, teardown removes the proc's folder.
    fs::remove_file(t.join("conf.d/hello-web.conf")).unwrap();
    assert!(d
        .ok("supervisorctl update")
        .contains("hello-web: removed process group"));
    d.ok("vrun teardown hello-web.yaml");
    assert!(!d.root.join("procs").join(d.container()).exists());
    sup.shutdown(&d);
}

#[test]
fn systemd_unit_verifies() {
    if !tools_ready("supervisor systemd_unit_verifies", &["systemd-analyze"]) {
        return;
    }
    // The unit with the real vrun; the instance name picks the proc.yaml.
    let tmp = tempfile::tempdir().unwrap();
    let unit = fs::read_to_string(repo().join("docs/examples/vrun@.service")).unwrap();
    let unit = substitute(
        &unit,
        &[(
            "/usr/local/bin/vrun",
            vr_tests::bin("vrun").display().to_string(),
        )],
    );
    fs::write(tmp.path().join("vrun@hello-web.service"), unit).unwrap();
    let out = Command::new("sh")
        .args(["-c", "systemd-analyze verify vrun@hello-web.service"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Unknown keys and bad values are warnings only: there must be none.
    assert_eq!(stderr, "", "systemd-analyze complained");
}
