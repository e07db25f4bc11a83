//! `vrun run` killed outright (SIGKILL, as a supervisor does after its grace period): nothing
//! of the container outlives it, whether it was starting, running or stopping, for a root and
//! a non-root proc whose app ignores SIGTERM and has a child in the background.

use super::security::{yaml_as, AS_APP, AS_ROOT};
use super::*;
use std::net::{TcpListener, TcpStream};

use vr_tests::{pids_of, running};

/// `vrun run` with no stdio of ours: should the container outlive it (what these tests look
/// for), it must not hold the test harness's pipes open. Killed when dropped.
struct Run(std::process::Child);

impl Run {
    fn start(env: &Env, yaml: &Path) -> Run {
        let child = env
            .vrun()
            .arg("run")
            .arg(yaml)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Run(child)
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill on our own child's pid (not reaped before drop).
        unsafe { libc::kill(self.0.id() as i32, signal) };
    }

    fn sigkill(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.0.wait();
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A proc set up to serve on its port while ignoring SIGTERM, with a child (`sleep <secs>`)
/// in the background.
struct Stubborn {
    env: Env,
    app: String,
    port: u16,
    /// The background sleep's argument, unique to this test (the tests of this binary run at
    /// once, in one process).
    secs: String,
    yaml: PathBuf,
}

impl Stubborn {
    fn set_up(test: &str, ids: &str) -> Stubborn {
        let env = env();
        let (app, port) = (app_name(test.trim_start_matches("vrun ")), free_port());
        let secs = format!("8{port}{}", std::process::id() % 1000);
        let cmd = format!("trap '' TERM; sleep {secs} & exec httpd -f -p \"$PORT\" -h /app/www");
        let yaml = yaml_as(&env, &app, port, ids, &cmd, "");
        ok(&env.run(&["setup"], &yaml));
        Stubborn {
            env,
            app,
            port,
            secs,
            yaml,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Right after the spawn, while LXC sets the container up.
    Starting,
    /// Once the app listens.
    Running,
    /// After a SIGTERM that the app ignores, before the supervisor's SIGKILL.
    Stopping,
}

fn killed(test: &str, ids: &str, moment: Moment) {
    if !vr_tests::e2e_ready(test) {
        return;
    }
    let Stubborn {
        env,
        app,
        port,
        secs,
        yaml,
    } = Stubborn::set_up(test, ids);
    let listens = || TcpStream::connect(("127.0.0.1", port)).is_ok();
    let run = Run::start(&env, &yaml);
    match moment {
        Moment::Starting => std::thread::sleep(Duration::from_millis(15)),
        Moment::Running | Moment::Stopping => {
            vr_tests::until(Duration::from_secs(20), "the proc listens", listens);
            // The background child may exec its sleep after httpd listens (a loaded host).
            vr_tests::until(Duration::from_secs(10), "the background child runs", || {
                running(&["sleep", &secs])
            });
        }
    }
    if let Moment::Stopping = moment {
        run.signal(libc::SIGTERM);
        std::thread::sleep(Duration::from_millis(300));
    }
    run.sigkill();
    // Pins lxc-execute's parent-death signal (SIGTERM: it hands it to the container's init,
    // which ends every process of the container). The container's init of a non-root proc
    // has switched uid and lost its own parent-death signal, so SIGKILL to lxc-execute left
    // it running.
    vr_tests::until(
        Duration::from_secs(10),
        "the container's processes are gone",
        || !running(&["sleep", &secs]) && !listens(),
    );
    let name = container(&app, "x", port);
    vr_tests::until(Duration::from_secs(10), "LXC's cgroups are gone", || {
        std::panic::catch_unwind(|| nothing_left(&name, &env.root)).is_ok()
    });
    assert!(
        TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "port {port} still taken"
    );
    // The next run starts one copy, which teardown can remove once it is stopped.
    let again = Run::start(&env, &yaml);
    vr_tests::until(Duration::from_secs(20), "the next run listens", listens);
    again.sigkill();
    vr_tests::until(Duration::from_secs(10), "the next run is gone", || {
        !listens()
    });
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn killed_while_starting_leaves_nothing() {
    killed(
        "vrun killed_while_starting_leaves_nothing",
        AS_APP,
        Moment::Starting,
    );
}

#[test]
fn killed_while_running_leaves_nothing() {
    killed(
        "vrun killed_while_running_leaves_nothing",
        AS_APP,
        Moment::Running,
    );
}

#[test]
fn killed_while_stopping_leaves_nothing() {
    killed(
        "vrun killed_while_stopping_leaves_nothing",
        AS_APP,
        Moment::Stopping,
    );
}

#[test]
fn a_root_proc_killed_while_running_leaves_nothing() {
    killed(
        "vrun a_root_proc_killed_while_running_leaves_nothing",
        AS_ROOT,
        Moment::Running,
    );
}

#[test]
fn a_root_proc_killed_while_stopping_leaves_nothing() {
    killed(
        "vrun a_root_proc_killed_while_stopping_leaves_nothing",
        AS_ROOT,
        Moment::Stopping,
    );
}

/// The pid of `parent`'s child named `comm`.
fn child_named(parent: u32, comm: &str) -> Option<i32> {
    fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let status = fs::read_to_string(e.path().join("status")).ok()?;
        let name = status.lines().find_map(|l| l.strip_prefix("Name:"))?.trim();
        let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:"))?.trim();
        (name == comm && ppid == parent.to_string()).then_some(pid)
    })
}

/// vrun and its lxc-execute killed at once (`kill -9` of their process group): nothing could
/// hand the container's init a signal, and a non-root proc's init has no parent-death signal
/// left, so the container runs on. The next `vrun run` (`teardown` when `then` says so) must
/// find it, stop it and say so.
fn killed_with_lxc_execute(test: &str, then: &str) {
    if !vr_tests::e2e_ready(test) {
        return;
    }
    let Stubborn {
        env,
        app,
        port,
        secs,
        yaml,
    } = Stubborn::set_up(test, AS_APP);
    let listens = || TcpStream::connect(("127.0.0.1", port)).is_ok();
    let run = Run::start(&env, &yaml);
    vr_tests::until(Duration::from_secs(20), "the proc listens", listens);
    let lxc = child_named(run.0.id(), "lxc-execute").expect("lxc-execute under vrun");
    // SAFETY: kill on lxc-execute's pid, a child of our child, found just above.
    unsafe { libc::kill(lxc, libc::SIGKILL) };
    run.sigkill();
    std::thread::sleep(Duration::from_millis(1500));
    let left = pids_of(&["sleep", &secs]);
    assert!(
        !left.is_empty() && listens(),
        "the container did not outlive vrun and lxc-execute: this test shows nothing"
    );
    let left_runs = || pids_of(&["sleep", &secs]).iter().any(|p| left.contains(p));
    // Pins vr_lxc::stale: the leftover is found by its layer and stopped first.
    let out = match then {
        "teardown" => env.run(&["teardown"], &yaml),
        _ => {
            let again = Run::start(&env, &yaml);
            vr_tests::until(Duration::from_secs(20), "the next run listens", || {
                !left_runs() && listens()
            });
            again.sigkill();
            env.run(&["teardown"], &yaml)
        }
    };
    ok(&out);
    if then == "teardown" {
        assert!(
            stderr(&out).contains("stopped its container, left running by an earlier vrun"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!left_runs(), "the leftover runs on");
    vr_tests::until(Duration::from_secs(10), "nothing is left", || {
        !listens()
            && std::panic::catch_unwind(|| nothing_left(&container(&app, "x", port), &env.root))
                .is_ok()
    });
}

#[test]
fn a_container_left_by_a_killed_vrun_is_stopped_by_the_next_run() {
    killed_with_lxc_execute(
        "vrun a_container_left_by_a_killed_vrun_is_stopped_by_the_next_run",
        "run",
    );
}

#[test]
fn teardown_stops_a_left_container_before_removing_its_folder() {
    killed_with_lxc_execute(
        "vrun teardown_stops_a_left_container_before_removing_its_folder",
        "teardown",
    );
}
