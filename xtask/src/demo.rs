//! `cargo xtask demo`: the README's first command, the example flow end to end on this machine.
//!
//! As root on Debian or Ubuntu: installs what is missing, builds the tools (release, vuptest
//! statically linked), makes a busybox base image, builds the stack of `examples/image/` with
//! `vimage build`, packs the app of `examples/app/`, then `vrun setup`, `vrun run` in the
//! background, `vrun uptest` (its JSON is the demo's stdout), SIGTERM to `vrun run` and
//! `vrun teardown`; one line on stderr explains each step. Every command runs as a user would
//! type it (`sh -c`, in the demo folder, the release binaries first on PATH), in a temp folder
//! that holds VR_ROOT too and is removed at the end, after a failure and after Ctrl-C. Any step
//! that fails makes the demo fail.

mod support;

use crate::util;
use anyhow::{bail, ensure, Context, Result};
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::{copy, free_port, interrupt, leftovers, md5, set_keys, to_stderr};

/// How many steps the demo announces.
const STEPS: usize = 15;
/// The command lines the demo runs (the docs quote them; tests/tests/docs.rs checks that).
const VIMAGE_BUILD: &str = "vimage build image.yaml";
const VRUN_SETUP: &str = "vrun setup proc.yaml";
const VRUN_RUN: &str = "vrun run proc.yaml";
const VRUN_UPTEST: &str = "vrun uptest proc.yaml";
const VRUN_UPTEST_JQ: &str = "vrun uptest proc.yaml | jq '.[] | select(.Passed|not)'";
const VRUN_TEARDOWN: &str = "vrun teardown proc.yaml";
const VRUN_GC: &str = "vrun gc";
const VRUN_DOCTOR: &str = "vrun doctor";
/// The container name of examples/proc.yaml without its port.
const NAME_STEM: &str = "hello-v1-demo-5f3a9c1-web";
/// How long the proc may take to listen, and to stop after SIGTERM.
const START_LIMIT: Duration = Duration::from_secs(30);
const STOP_LIMIT: Duration = Duration::from_secs(15);

/// The environment variable naming a file where the demo appends each command line it runs
/// (`cargo xtask test` sets it; tests/tests/docs.rs then checks the docs' commands against what
/// was actually run).
pub const RECORD_ENV: &str = "VR_DEMO_RECORD";

/// Appends `line` to the record, when one is asked for.
fn record(line: &str) {
    use std::io::Write;
    // `exec vrun run ...` runs `vrun run ...` (the shell gives way to it).
    let line = line.strip_prefix("exec ").unwrap_or(line);
    let Some(path) = std::env::var_os(RECORD_ENV) else {
        return;
    };
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

pub fn run(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask demo (it takes no arguments)");
    }
    if !util::is_root() {
        bail!("the demo starts LXC containers and mounts overlays: run it as root");
    }
    interrupt::catch();
    let packages: Vec<&str> = util::RUNTIME_TOOLS.iter().map(|(_, pkg)| *pkg).collect();
    step(
        1,
        &format!(
            "install what is missing of {} with apt-get",
            packages.join(", ")
        ),
    );
    util::ensure_tools(util::RUNTIME_TOOLS)?;
    util::ensure_subids()?;
    step(
        2,
        "build vimage, vrun and vuptest (release; vuptest statically linked so it runs in any image)",
    );
    let static_vuptest = util::build_bins(true)?;
    interrupt::check()?;
    let mut demo = Demo::new(util::target_dir().join("release"), static_vuptest)?;
    let result = demo.flow();
    let cleanup = demo.cleanup();
    match (result, cleanup) {
        (Ok(()), Ok(())) => {
            eprintln!("demo: done; the machine is as it was (except packages and target/)");
            Ok(())
        }
        (Err(e), Ok(())) => Err(e.context("the demo failed (its temp folder was removed)")),
        (Ok(()), Err(c)) => Err(c.context("the demo ran, but cleaning up failed")),
        (Err(e), Err(c)) => Err(e.context(format!(
            "the demo failed, and cleaning up failed too: {c:#}"
        ))),
    }
}

/// One line that says what a step does.
fn step(n: usize, what: &str) {
    eprintln!("\ndemo [{n}/{STEPS}] {what}");
}

/// The demo's temp folder, its running proc, and what it must undo.
struct Demo {
    tmp: Option<tempfile::TempDir>,
    /// The demo folder: every file of the flow, the current directory of every command.
    work: PathBuf,
    /// VR_ROOT.
    root: PathBuf,
    /// target/release.
    bins: PathBuf,
    /// The static vuptest, given to vrun as VR_UPTESTER.
    vuptest: PathBuf,
    /// `vrun run` while it runs.
    running: Option<Child>,
    /// True from `vrun setup` until `vrun teardown` succeeded.
    set_up: bool,
}

impl Demo {
    fn new(bins: PathBuf, vuptest: PathBuf) -> Result<Demo> {
        let tmp = tempfile::Builder::new()
            .prefix("vr-demo-")
            .tempdir()
            .context("cannot create the demo's temp folder")?;
        let work = tmp.path().join("demo");
        let root = tmp.path().join("vr-root");
        fs::create_dir(&work).with_context(|| format!("cannot create {}", work.display()))?;
        Ok(Demo {
            tmp: Some(tmp),
            work,
            root,
            bins,
            vuptest,
            running: None,
            set_up: false,
        })
    }

    fn flow(&mut self) -> Result<()> {
        let examples = util::root().join("examples");
        eprintln!(
            "demo: working in {} with VR_ROOT={}",
            self.work.display(),
            self.root.display()
        );

        step(
            3,
            &format!("{VRUN_DOCTOR}: check that this host can run vr (LXC, cgroups, overlayfs, user namespaces, VR_ROOT, disk)"),
        );
        let report = self.capture(VRUN_DOCTOR)?;
        ensure!(
            report.trim_start().starts_with('['),
            "vrun doctor printed no JSON: {report}"
        );

        step(4, "make a base image: busybox-base.tar.gz, a busybox-static rootfs with users root and app");
        let base = self.work.join("busybox-base.tar.gz");
        let base_md5 = vr_tests::busybox_image(&base)
            .with_context(|| format!("cannot make {}", base.display()))?;
        eprintln!("demo: busybox-base.tar.gz, md5 {base_md5}");

        step(5, &format!("{VIMAGE_BUILD}: run examples/image/provision.sh as root in a container on the base image, pack the result"));
        for f in ["image.yaml", "provision.sh"] {
            copy(&examples.join("image").join(f), &self.work.join(f))?;
        }
        self.check(VIMAGE_BUILD)?;
        let image_md5 = md5(&self.work.join("demo-stack.tar.gz"))?;

        step(
            6,
            "pack the app: examples/app (Procfile, public/, uptests/web/) as hello-build.tar.gz",
        );
        let build = self.work.join("hello-build.tar.gz");
        vr_tests::tar_gz(&examples.join("app"), &build)
            .with_context(|| format!("cannot pack examples/app into {}", build.display()))?;
        let build_md5 = md5(&build)?;

        let port = free_port()?;
        step(7, &format!("write proc.yaml: examples/proc.yaml with port {port} (free now) and the md5 of both tarballs"));
        let template = examples.join("proc.yaml");
        let text = fs::read_to_string(&template)
            .with_context(|| format!("cannot read {}", template.display()))?;
        let text = set_keys(
            &text,
            &[
                ("port", &port.to_string()),
                ("image_md5", &image_md5),
                ("build_md5", &build_md5),
            ],
        );
        let proc_yaml = self.work.join("proc.yaml");
        fs::write(&proc_yaml, text)
            .with_context(|| format!("cannot write {}", proc_yaml.display()))?;

        step(8, &format!("{VRUN_SETUP}: unpack the image (once per host), the build into the proc's own layer, write its LXC config"));
        self.set_up = true;
        self.check(VRUN_SETUP)?;

        step(9, &format!("{VRUN_RUN} in the background, as a supervisor would start it; wait until it listens on port {port}"));
        let child = self
            .sh(&format!("exec {VRUN_RUN}"))
            .stdin(Stdio::null())
            .stdout(to_stderr()?)
            .spawn()
            .context("cannot start vrun run")?;
        self.running = Some(child);
        self.wait_for_port(port)?;

        step(10, &format!("{VRUN_UPTEST}: run uptests/web/* in a container beside the proc; its JSON is the demo's stdout"));
        let json = self.capture(VRUN_UPTEST)?;
        print!("{json}");
        std::io::stdout()
            .flush()
            .context("cannot write to stdout")?;
        let all_passed = self
            .sh("jq -e 'length > 0 and all(.[]; .Passed)'")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .and_then(|mut jq| {
                if let Some(mut input) = jq.stdin.take() {
                    input.write_all(json.as_bytes())?;
                }
                jq.wait()
            })
            .context("cannot run jq")?;
        ensure!(
            all_passed.success(),
            "not every uptest passed: {}",
            json.trim()
        );

        step(
            11,
            &format!("{VRUN_UPTEST_JQ}: how a script lists failed uptests (none here)"),
        );
        let failed = self.capture(VRUN_UPTEST_JQ)?;
        ensure!(
            failed.trim().is_empty(),
            "jq found failed uptests:\n{failed}"
        );

        step(12, "stop the proc: SIGTERM to `vrun run`, which hands it to httpd and exits with its status (143 = 128 + SIGTERM)");
        let status = self.stop()?;
        ensure!(
            matches!(status.code(), Some(0 | 143)),
            "vrun run ended with {status}, not 143 (httpd ended by SIGTERM) or 0"
        );
        eprintln!(
            "demo: vrun run exited with status {}",
            status.code().unwrap_or(-1)
        );

        step(13, &format!("{VRUN_TEARDOWN}: remove the proc's folder"));
        self.check(VRUN_TEARDOWN)?;
        self.set_up = false;
        let name = format!("{NAME_STEM}-{port}");
        let proc_dir = self.root.join("procs").join(&name);
        ensure!(
            !proc_dir.exists(),
            "{} is still there after teardown",
            proc_dir.display()
        );

        step(
            14,
            &format!("{VRUN_GC}: remove the cached tarballs no set-up proc uses any more (what went, as JSON on stdout)"),
        );
        let removed = self.capture(VRUN_GC)?;
        let build = self.root.join("builds");
        ensure!(
            removed.trim_start().starts_with('[') && removed.contains(&*build.to_string_lossy()),
            "vrun gc did not remove the demo's build tarball: {removed}"
        );

        step(15, "check that nothing of the proc is left (process, mount, cgroup), then remove the demo's temp folder");
        let tmp = self
            .tmp
            .as_ref()
            .map(|t| t.path().to_path_buf())
            .unwrap_or_default();
        leftovers::check(&[name.as_str(), &tmp.to_string_lossy()])
    }

    /// `sh -c LINE` in the demo folder, the release binaries first on PATH.
    fn sh(&self, line: &str) -> Command {
        record(line);
        let mut path = OsString::from(self.bins.as_os_str());
        if let Some(old) = std::env::var_os("PATH") {
            path.push(":");
            path.push(old);
        }
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(line)
            .current_dir(&self.work)
            .env("PATH", path)
            .env("VR_ROOT", &self.root)
            .env("VR_UPTESTER", &self.vuptest);
        cmd
    }

    /// Runs LINE, its stdout sent to our stderr (stdout is for the uptest JSON only).
    fn check(&self, line: &str) -> Result<()> {
        eprintln!("$ {line}");
        let status = self
            .sh(line)
            .stdin(Stdio::null())
            .stdout(to_stderr()?)
            .status()
            .with_context(|| format!("cannot run `{line}`"))?;
        interrupt::check()?;
        ensure!(status.success(), "`{line}` failed: {status}");
        Ok(())
    }

    /// Runs LINE and returns its stdout.
    fn capture(&self, line: &str) -> Result<String> {
        eprintln!("$ {line}");
        let out = self
            .sh(line)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run `{line}`"))?;
        interrupt::check()?;
        ensure!(out.status.success(), "`{line}` failed: {}", out.status);
        String::from_utf8(out.stdout).with_context(|| format!("`{line}` printed non-UTF-8"))
    }

    /// Waits until the proc accepts connections on `port`; fails if `vrun run` ends first.
    fn wait_for_port(&mut self, port: u16) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let start = Instant::now();
        loop {
            interrupt::check()?;
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                eprintln!("demo: the proc listens on {addr}");
                return Ok(());
            }
            if let Some(child) = self.running.as_mut() {
                if let Some(status) = child.try_wait().context("cannot wait for vrun run")? {
                    self.running = None;
                    bail!("vrun run ended before the proc listened on {addr}: {status}");
                }
            }
            ensure!(
                start.elapsed() < START_LIMIT,
                "the proc did not listen on {addr} within {START_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM to `vrun run`; waits for it (SIGKILL after [`STOP_LIMIT`], which is a failure).
    fn stop(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.running.take() else {
            bail!("vrun run is not running");
        };
        let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
        // SAFETY: kill on our own unreaped child: its pid cannot have been reused.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().context("cannot wait for vrun run")? {
                return Ok(status);
            }
            if start.elapsed() > STOP_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("vrun run did not stop within {STOP_LIMIT:?} of SIGTERM; killed it");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Undoes what the flow left: stops `vrun run`, tears the proc down, removes the temp folder.
    fn cleanup(&mut self) -> Result<()> {
        let mut problems = Vec::new();
        if self.running.is_some() {
            eprintln!("demo: cleaning up: stopping vrun run");
            if let Err(e) = self.stop() {
                problems.push(format!("{e:#}"));
            }
        }
        if self.set_up {
            eprintln!("demo: cleaning up: {VRUN_TEARDOWN}");
            match self.sh(VRUN_TEARDOWN).stdin(Stdio::null()).status() {
                Ok(s) if s.success() => self.set_up = false,
                Ok(s) => problems.push(format!("`{VRUN_TEARDOWN}` failed: {s}")),
                Err(e) => problems.push(format!("cannot run `{VRUN_TEARDOWN}`: {e}")),
            }
        }
        if let Some(tmp) = self.tmp.take() {
            let path = tmp.path().to_path_buf();
            if let Err(e) = tmp.close() {
                problems.push(format!("cannot remove {}: {e}", path.display()));
            } else if path.exists() {
                problems.push(format!("{} is still there", path.display()));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("; "))
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // cleanup() normally ran already; this covers a panic in between.
        if self.tmp.is_some() || self.running.is_some() {
            if let Err(e) = self.cleanup() {
                eprintln!("demo: {e:#}");
            }
        }
    }
}
