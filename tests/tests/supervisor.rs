//! vrun under a real supervisord (Debian's `supervisor` package), driven by the program file of
//! docs/examples/hello-web.conf and the commands of docs/supervisors.md: the example stack built
//! by vimage, the example app set up, started by supervisord, uptested, stopped, torn down,
//! nothing left. The same program file with `stopwaitsecs=1` and an app that ignores SIGTERM
//! (issue 10): supervisord's SIGKILL ends vrun, and `restart` runs one copy of the app, nothing
//! of the first. And the systemd unit of docs/examples/vrun@.service, which only
//! `systemd-analyze verify` can check here (PID 1 is not systemd).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
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

/// A proc deployed the way docs/supervisors.md says, in a temp folder; torn down when dropped,
/// so a failing test leaves no proc folder (nor a container, which teardown stops) behind.
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

    /// Adds `lines` (YAML) to hello-web.yaml; before `vrun setup`, which renders the command.
    fn add_to_proc_yaml(&self, lines: &str) {
        let path = self.dir.join("hello-web.yaml");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text + lines).unwrap();
    }
}

impl Drop for Deploy {
    fn drop(&mut self) {
        // Idempotent: after a test's own teardown, a no-op.
        let _ = self.run("vrun teardown hello-web.yaml");
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

/// True when the supervisord tests can run: root, LXC, supervisor's and jq's commands.
fn supervisord_ready(test: &str) -> bool {
    vr_tests::e2e_ready(test) && tools_ready(test, &["supervisord", "supervisorctl", "jq"])
}

/// `supervisorctl status hello-web`.
fn status(d: &Deploy) -> String {
    String::from_utf8_lossy(&d.run("supervisorctl status hello-web").stdout).into_owned()
}

/// Puts the program file of the docs, with this test's paths for vrun, the proc.yaml, VR_ROOT
/// and the log and then each `(from, to)` of `more`, in supervisord's include folder; `update`
/// adds and starts it; returns once it is RUNNING.
fn add_program(d: &Deploy, more: &[(&str, String)]) {
    let t = d.tmp.path();
    let example = fs::read_to_string(repo().join("docs/examples/hello-web.conf")).unwrap();
    let mut pairs = vec![
        ("/usr/bin/vrun", vr_tests::bin("vrun").display().to_string()),
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
    ];
    pairs.extend(more.iter().cloned());
    fs::write(
        t.join("conf.d/hello-web.conf"),
        substitute(&example, &pairs),
    )
    .unwrap();
    assert!(d
        .ok("supervisorctl reread")
        .contains("hello-web: available"));
    assert!(d.ok("supervisorctl update").contains("hello-web: added"));
    until(Duration::from_secs(30), "hello-web is RUNNING", || {
        status(d).contains("RUNNING")
    });
}

#[test]
fn vrun_under_supervisord() {
    if !supervisord_ready("supervisor vrun_under_supervisord") {
        return;
    }
    let d = Deploy::new();
    let t = d.tmp.path();
    d.ok("vrun setup hello-web.yaml");
    let sup = Supervisord::start(&d);
    add_program(&d, &[]);
    let pid: i32 = d.ok("supervisorctl pid hello-web").trim().parse().unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], d.port));
    until(Duration::from_secs(30), "the proc listens", || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
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
    assert!(status(&d).contains("STOPPED"));
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

/// Polls `check` every 50 ms until it is Ok; fails after `limit` with `what` and the last Err.
#[track_caller]
fn settle(limit: Duration, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        match check() {
            Ok(()) => return,
            Err(why) if start.elapsed() > limit => {
                panic!("timed out after {limit:?} waiting until {what}: {why}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Every process as (pid, parent pid, command line with spaces for NULs); zombies have an
/// empty command line.
fn processes() -> Vec<(i32, i32, String)> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces and parentheses.
            let ppid = stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            let args = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, ppid, args.trim_end().to_string()))
        })
        .collect()
}

/// An app that ignores SIGTERM and has a child in the background, known by the command lines
/// of its processes: `httpd -f -p <port> -h /app/public` and `sleep <secs>`.
struct Stubborn {
    httpd: String,
    sleep: String,
    /// Its container's name.
    container: String,
}

/// The pids of one copy of a [`Stubborn`] app.
#[derive(Debug)]
struct AppPids {
    /// The container's init, httpd's parent.
    init: i32,
    httpd: i32,
    sleep: i32,
}

impl AppPids {
    /// Those of its processes that still run (or are zombies).
    fn alive(&self) -> Vec<i32> {
        [self.init, self.httpd, self.sleep]
            .into_iter()
            .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
            .collect()
    }
}

/// Should a failing test leave a container behind (what issue 10 was about), kills the app's
/// processes, which ends the container, and removes its LXC cgroups once they are empty.
impl Drop for Stubborn {
    fn drop(&mut self) {
        for (pid, _, args) in processes() {
            if args == self.httpd || args == self.sleep {
                // SAFETY: kill on a pid just read; its command line is unique to this test.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let start = Instant::now();
        while !lxc_cgroups(&self.container).is_empty() && start.elapsed() < Duration::from_secs(10)
        {
            for dir in lxc_cgroups(&self.container) {
                let _ = remove_cgroup(&dir);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Removes the cgroup `dir` and those inside it, deepest first.
fn remove_cgroup(dir: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(dir)?.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&e.path())?;
        }
    }
    fs::remove_dir(dir)
}

impl Stubborn {
    /// The app of `d`, with a `sleep` argument unique to this test.
    fn new(d: &Deploy) -> Stubborn {
        let port = d.port;
        Stubborn {
            httpd: format!("httpd -f -p {port} -h /app/public"),
            sleep: format!("sleep 8{port}{}", std::process::id() % 1000),
            container: d.container(),
        }
    }

    /// proc.yaml's `cmd`: the shell ignores SIGTERM, so do its background child and the httpd
    /// it becomes.
    fn cmd(&self) -> String {
        format!(
            "cmd: |-\n  trap '' TERM; {} & exec httpd -f -p \"$PORT\" -h /app/public\n",
            self.sleep
        )
    }

    /// The one copy of the app that runs, or why there is not exactly one: busybox httpd forks
    /// a child per connection, so only an httpd whose parent is no such httpd counts.
    fn one_copy(&self) -> Result<AppPids, String> {
        let all = processes();
        let httpds: Vec<(i32, i32)> = all
            .iter()
            .filter(|(_, ppid, args)| {
                *args == self.httpd
                    && !all
                        .iter()
                        .any(|(pid, _, a)| pid == ppid && *a == self.httpd)
            })
            .map(|(pid, ppid, _)| (*pid, *ppid))
            .collect();
        let sleeps: Vec<i32> = all
            .iter()
            .filter(|(_, _, args)| *args == self.sleep)
            .map(|(pid, _, _)| *pid)
            .collect();
        match (&httpds[..], &sleeps[..]) {
            ([(httpd, init)], [sleep]) => Ok(AppPids {
                init: *init,
                httpd: *httpd,
                sleep: *sleep,
            }),
            _ => Err(format!(
                "want one copy of the app, got httpd (pid, parent) {httpds:?} and sleep pids {sleeps:?}"
            )),
        }
    }

    /// Whether no process of the app runs.
    fn none(&self) -> Result<(), String> {
        let left: Vec<(i32, i32, String)> = processes()
            .into_iter()
            .filter(|(_, _, args)| *args == self.httpd || *args == self.sleep)
            .collect();
        match left.is_empty() {
            true => Ok(()),
            false => Err(format!("still running: {left:?}")),
        }
    }
}

/// The pids of the `lxc-execute` of the container `name`.
fn lxc_execute(name: &str) -> Vec<i32> {
    let of_it = format!(" -n {name} ");
    processes()
        .into_iter()
        .filter(|(_, _, args)| args.starts_with("lxc-execute ") && args.contains(&of_it))
        .map(|(pid, _, _)| pid)
        .collect()
}

/// LXC's cgroups of `container` in every hierarchy: `lxc.payload.<name>` and
/// `lxc.monitor.<name>`, maybe with LXC's `-N` suffix for a name already taken.
fn lxc_cgroups(container: &str) -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(
        fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir()),
    );
    let of_it = |n: &str| {
        ["lxc.payload.", "lxc.monitor."].iter().any(|prefix| {
            n.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(container))
                .is_some_and(|tail| {
                    tail.is_empty()
                        || tail
                            .strip_prefix('-')
                            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                })
        })
    };
    roots
        .iter()
        .filter_map(|root| fs::read_dir(root).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| of_it(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect()
}

/// At most one payload and one monitor cgroup of `container` per hierarchy: none is left of an
/// earlier container of that name.
fn one_container_cgroups(container: &str) -> Result<(), String> {
    let dirs = lxc_cgroups(container);
    for d in &dirs {
        let kind = |p: &Path| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                p.parent().unwrap().to_path_buf(),
                n.starts_with("lxc.payload."),
            )
        };
        if dirs.iter().filter(|o| kind(o) == kind(d)).count() > 1 {
            return Err(format!("more than one container's cgroups: {dirs:?}"));
        }
    }
    Ok(())
}

/// Whether `GET /` on 127.0.0.1:`port` answers 200 with the example app's front page.
fn serves_front_page(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("port {port}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    let ok = answer.starts_with("HTTP/1.") && answer.contains(" 200 ");
    match ok && answer.contains("Hello from vr") {
        true => Ok(()),
        false => Err(format!("port {port} answers {answer:?}")),
    }
}

/// Issue 10: with `stopwaitsecs`, supervisord SIGKILLs a vrun whose app ignores SIGTERM; the
/// container outlived vrun, and the next start failed ("Address already in use") into BACKOFF.
/// Here, with `stopwaitsecs=1`, `supervisorctl restart` runs exactly one copy of the app and
/// nothing of the first (no process, no second container's cgroups), and `stop` leaves nothing.
#[test]
fn restart_after_sigkill_runs_one_copy() {
    let test = "supervisor restart_after_sigkill_runs_one_copy";
    if !supervisord_ready(test) {
        return;
    }
    let d = Deploy::new();
    let t = d.tmp.path();
    let name = d.container();
    let app = Stubborn::new(&d);
    d.add_to_proc_yaml(&app.cmd());
    d.ok("vrun setup hello-web.yaml");
    let sup = Supervisord::start(&d);
    add_program(&d, &[("stopwaitsecs=30", "stopwaitsecs=1".to_string())]);
    let log = || fs::read_to_string(t.join("log/supervisord.log")).unwrap();
    let app_log = || fs::read_to_string(t.join("log/hello-web.log")).unwrap_or_default();

    let first_vrun = d.ok("supervisorctl pid hello-web").trim().to_string();
    let mut first = None;
    settle(Duration::from_secs(30), "the first copy serves", || {
        first = Some(app.one_copy()?);
        serves_front_page(d.port)
    });
    let first = first.unwrap();
    let first_lxc = lxc_execute(&name);
    assert_eq!(first_lxc.len(), 1, "lxc-execute of {name}: {first_lxc:?}");
    one_container_cgroups(&name).unwrap();
    assert!(!lxc_cgroups(&name).is_empty(), "{name} has no LXC cgroups");

    // SIGTERM, ignored; SIGKILL a second later; the next start at once.
    let out =
        String::from_utf8_lossy(&d.run("supervisorctl restart hello-web").stdout).into_owned();
    assert!(
        out.contains("hello-web: stopped") && out.contains("hello-web: started"),
        "{out}\nsupervisord.log: {}\nhello-web.log: {}",
        log(),
        app_log()
    );
    until(
        Duration::from_secs(30),
        "hello-web is RUNNING again",
        || status(&d).contains("RUNNING"),
    );
    let vrun = d.ok("supervisorctl pid hello-web").trim().to_string();
    assert_ne!(vrun, first_vrun, "vrun was not restarted");
    assert!(
        !Path::new(&format!("/proc/{first_vrun}")).exists(),
        "the first vrun ({first_vrun}) is still there"
    );
    settle(
        Duration::from_secs(30),
        "one copy of the app serves, nothing of the first is left",
        || {
            app.one_copy()?;
            let left = first.alive();
            if !left.is_empty() {
                return Err(format!("{left:?} of the first copy {first:?} run on"));
            }
            match lxc_execute(&name)[..] {
                [pid] if !first_lxc.contains(&pid) => {}
                ref pids => {
                    return Err(format!(
                        "lxc-execute of {name}: {pids:?}, first {first_lxc:?}"
                    ))
                }
            }
            one_container_cgroups(&name)?;
            serves_front_page(d.port)
        },
    );
    // supervisord killed the first vrun, and the next start was a success at the first try:
    // no `exited` (BACKOFF) in between.
    let text = log();
    let count = |s: &str| text.matches(s).count();
    assert_eq!(
        count(&format!("killing 'hello-web' ({first_vrun}) with SIGKILL")),
        1,
        "the app did not ignore SIGTERM: this test shows nothing\nsupervisord.log: {text}"
    );
    assert_eq!(
        count("stopped: hello-web (terminated by SIGKILL)"),
        1,
        "{text}"
    );
    assert_eq!(count("spawned: 'hello-web'"), 2, "{text}");
    assert_eq!(
        count("success: hello-web entered RUNNING state"),
        2,
        "{text}"
    );
    assert_eq!(count("exited: hello-web"), 0, "{text}");
    assert!(
        !app_log().contains("Address already in use"),
        "hello-web.log: {}",
        app_log()
    );

    // Stop: SIGTERM ignored, SIGKILL a second later; then nothing of the container is left.
    assert!(d
        .ok("supervisorctl stop hello-web")
        .contains("hello-web: stopped"));
    assert!(status(&d).contains("STOPPED"));
    assert_eq!(
        log()
            .matches("stopped: hello-web (terminated by SIGKILL)")
            .count(),
        2,
        "{}",
        log()
    );
    settle(
        Duration::from_secs(20),
        "nothing of the container is left and the port is free",
        || {
            app.none()?;
            match (lxc_execute(&name), lxc_cgroups(&name)) {
                (pids, _) if !pids.is_empty() => Err(format!("lxc-execute left: {pids:?}")),
                (_, dirs) if !dirs.is_empty() => Err(format!("cgroups left: {dirs:?}")),
                _ => TcpListener::bind(("127.0.0.1", d.port))
                    .map(drop)
                    .map_err(|e| format!("port {}: {e}", d.port)),
            }
        },
    );
    vr_tests::nothing_left(&name, &d.root);
    sup.shutdown(&d);
    d.ok("vrun teardown hello-web.yaml");
    assert!(!d.root.join("procs").join(&name).exists());
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
        &[("/usr/bin/vrun", vr_tests::bin("vrun").display().to_string())],
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
