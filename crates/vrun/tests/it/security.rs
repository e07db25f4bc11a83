//! Attacks from inside a proc's container (issue 9), one test each, through the real vrun and
//! LXC. A root app runs vr_tests' compiled probe (`/app/probe`, source in tests/src/probe.rs),
//! which prints one `<check>: OK|<ERRNO>` line per syscall tried. Each test says which
//! protection it pins; each fails against a vrun without that protection.

use super::*;
use vr_tests::stdout;

/// Replaces the build with the contents of a new app folder: `PROCFILE`, the probe at
/// `app/probe` (mode 0755) and whatever `fill` adds.
pub fn with_build(env: &mut Env, tag: &str, fill: impl FnOnce(&Path)) {
    let app = env.tmp.path().join(format!("app-{tag}"));
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("Procfile"), PROCFILE).unwrap();
    let probe = app.join("probe");
    fs::copy(vr_tests::probe_binary(), &probe).unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
    fill(&app);
    let build = env.tmp.path().join(format!("files/{tag}.tar.gz"));
    vr_tests::tar_gz(&app, &build).unwrap();
    env.build_md5 = vr_tests::md5_file(&build).unwrap();
    env.build = build;
}

/// A proc.yaml whose app runs as `user`/`group` (instead of app/app), with `cmd` and `extra`.
pub fn yaml_as(env: &Env, app: &str, port: u16, ids: &str, cmd: &str, extra: &str) -> PathBuf {
    let extra = format!(
        "proc_name: x\ncmd: {}\n{extra}",
        serde_json::to_string(cmd).unwrap()
    );
    let yaml = env.proc_yaml(app, port, &extra);
    let text = fs::read_to_string(&yaml)
        .unwrap()
        .replace("user: app\ngroup: app\n", ids);
    fs::write(&yaml, text).unwrap();
    yaml
}

/// proc.yaml ids: the app runs as root inside.
pub const AS_ROOT: &str = "user: root\ngroup: root\n";
/// proc.yaml ids: the image's `app` user (1000:1000).
pub const AS_APP: &str = "user: app\ngroup: app\n";

/// Sets up and runs a root proc running `cmd`; returns its output, and tears it down.
fn run_as_root(env: &Env, test: &str, cmd: &str, extra: &str) -> Output {
    let yaml = yaml_as(env, &app_name(test), free_port(), AS_ROOT, cmd, extra);
    ok(&env.run(&["setup"], &yaml));
    let out = env.run(&["run"], &yaml);
    ok(&env.run(&["teardown"], &yaml));
    out
}

#[test]
fn root_app_cannot_open_host_inodes_by_handle() {
    // Pins the seccomp profile (name_to_handle_at, open_by_handle_at) and the user namespace
    // without CAP_DAC_READ_SEARCH: the "shocker" handle of the host file system's root inode,
    // opened relative to the /etc/hosts bind or a volume, reaches no host file.
    if !vr_tests::e2e_ready("vrun root_app_cannot_open_host_inodes_by_handle") {
        return;
    }
    let mut env = env();
    with_build(&mut env, "handle", |_| {});
    let secret = format!("vr-host-marker-{}", std::process::id());
    let marker = env.tmp.path().join("host-marker");
    fs::write(&marker, &secret).unwrap();
    let vol = env.tmp.path().join("volume");
    fs::create_dir_all(&vol).unwrap();
    let cmd = format!("/app/probe handle {} /etc/hosts /data", marker.display());
    let extra = format!("volumes:\n  - [{}, /data]\n", vol.display());
    let out = run_as_root(&env, "handle", &cmd, &extra);
    let got = stdout(&out);
    let want = "name_to_handle_at /etc/hosts: EPERM\nopen_by_handle_at /etc/hosts: EPERM\n\
                name_to_handle_at /data: EPERM\nopen_by_handle_at /data: EPERM\n";
    assert!(
        got == want && !got.contains(&secret) && out.status.success(),
        "a root app reached host inodes by handle (want all EPERM, no marker):\n{got}\nstatus {:?}, stderr: {}",
        out.status,
        stderr(&out)
    );
}

#[test]
fn root_app_syscalls_that_reach_the_host_are_denied() {
    // Pins seccomp (keyctl, add_key, bpf, perf_event_open, unshare(CLONE_NEWUSER), syslog) and
    // the capability allow-list in a user namespace that does not own the host's network
    // namespace (no CAP_NET_RAW for AF_PACKET: no capture of host traffic; no CAP_MKNOD).
    if !vr_tests::e2e_ready("vrun root_app_syscalls_that_reach_the_host_are_denied") {
        return;
    }
    let mut env = env();
    with_build(&mut env, "sys", |_| {});
    let out = run_as_root(&env, "sys", "/app/probe syscalls", "");
    let got = stdout(&out);
    // The filter may answer EPERM or ENOSYS; the kernel itself would answer OK or something else.
    let filtered: &[&str] = &["EPERM", "ENOSYS"];
    let expect: &[(&str, &[&str])] = &[
        ("uid", &["0"]),
        ("keyctl", filtered),
        ("add_key", filtered),
        ("bpf", filtered),
        ("perf_event_open", filtered),
        ("unshare_user", filtered),
        ("af_packet", &["EPERM"]),
        ("mknod", &["EPERM"]),
        ("syslog", filtered),
        ("af_vsock", &["EAFNOSUPPORT"]),
    ];
    let lines: Vec<(&str, &str)> = got.lines().filter_map(|l| l.split_once(": ")).collect();
    let refused = lines.len() == expect.len()
        && lines
            .iter()
            .zip(expect)
            .all(|((name, value), (want, allowed))| name == want && allowed.contains(value));
    assert!(
        refused && out.status.success(),
        "a root app made a syscall that reaches the host (want uid 0, every other check EPERM/ENOSYS):\n{got}\nstatus {:?}, stderr: {}",
        out.status,
        stderr(&out)
    );
}

#[test]
fn a_root_app_is_not_root_on_the_host() {
    // Pins the user namespace: uid 0 inside is the mapped, unprivileged host uid (lxc.idmap).
    if !vr_tests::e2e_ready("vrun a_root_app_is_not_root_on_the_host") {
        return;
    }
    let env = env();
    let secs = format!("7{}", std::process::id() % 100_000);
    let yaml = yaml_as(
        &env,
        &app_name("hostuid"),
        free_port(),
        AS_ROOT,
        &format!("exec sleep {secs}"),
        "",
    );
    ok(&env.run(&["setup"], &yaml));
    let mut run = env.start_run(&yaml, Stdio::null());
    let mut found = None;
    vr_tests::until(
        Duration::from_secs(20),
        "the proc's sleep shows on the host",
        || {
            found = descendant_with_args(run.id(), &["sleep", &secs]);
            found.is_some()
        },
    );
    let status = fs::read_to_string(format!("/proc/{}/status", found.unwrap())).unwrap();
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    wait_for(&mut run, Duration::from_secs(15));
    ok(&env.run(&["teardown"], &yaml));
    let ids = |key: &str| -> Vec<u32> {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line[key.len()..]
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let map = vr_lxc::IdMap::for_host(&vr_lxc::RealSys).unwrap();
    assert!(
        ids("Uid:") == [map.host_uid; 4] && ids("Gid:") == [map.host_gid; 4] && map.host_uid != 0,
        "a `user: root` app runs as these host ids (want {map:?}'s root, never 0):\n{status}"
    );
}

/// The pid of a process whose command line is `args` and whose ancestors include `ancestor`.
fn descendant_with_args(ancestor: u32, args: &[&str]) -> Option<u32> {
    let want: Vec<u8> = args
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let parent = |pid: u32| -> Option<u32> {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))?
            .trim()
            .parse()
            .ok()
    };
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        (fs::read(entry.path().join("cmdline")).ok()? == want).then_some(())?;
        let mut p = pid;
        for _ in 0..64 {
            p = parent(p)?;
            if p == ancestor {
                return Some(pid);
            }
        }
        None
    })
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit() {
    // Pins the pids cgroup limit (proc.yaml `pids_limit`): a proc forking without end gets at
    // most that many processes, and the host keeps its own.
    if !vr_tests::e2e_ready("vrun a_fork_bomb_stops_at_the_pids_limit") {
        return;
    }
    let env = env();
    let (app, port) = (app_name("bomb"), free_port());
    let secs = format!("9{}", std::process::id() % 100_000);
    // 200 long sleeps in the background, then count the container's processes with builtins
    // only (no fork is left once the limit is reached).
    let cmd = format!(
        "sh -c 'i=0; while [ $i -lt 200 ]; do sleep {secs} & i=$((i+1)); done' 2>/dev/null; \
         set -- /proc/[0-9]*; echo $#"
    );
    let yaml = yaml_as(&env, &app, port, AS_APP, &cmd, "pids_limit: 50\n");
    ok(&env.run(&["setup"], &yaml));
    let mut run = env.start_run(&yaml, Stdio::piped());
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(run.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // SAFETY: kill on our own child's pid (it may have ended already).
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    wait_for(&mut run, Duration::from_secs(20));
    let count: usize = line.trim().parse().unwrap_or(usize::MAX);
    assert!(
        (10..=50).contains(&count),
        "a fork bomb with pids_limit 50 had {line:?} processes in its container (want 10 to 50)"
    );
    vr_tests::until(
        Duration::from_secs(10),
        "the bomb's sleeps are gone",
        || descendant_with_args(1, &["sleep", &secs]).is_none(),
    );
    nothing_left(&container(&app, "x", port), &env.root);
    assert!(
        Command::new("true").status().unwrap().success(),
        "the host cannot fork"
    );
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn a_squatted_lxc_socket_name_does_not_stop_a_proc() {
    // Pins the random lxcpath per start: LXC names its command socket (an abstract unix
    // socket, in the host's network namespace that every proc shares) after the lxcpath and
    // the container name; with a fixed lxcpath, any proc or host user could bind that name
    // first and make `vrun run` fail (status 125, "Address already in use").
    if !vr_tests::e2e_ready("vrun a_squatted_lxc_socket_name_does_not_stop_a_proc") {
        return;
    }
    let env = env();
    let (app, port) = (app_name("squat"), free_port());
    let yaml = yaml_as(&env, &app, port, AS_APP, "echo started", "");
    ok(&env.run(&["setup"], &yaml));
    let name = container(&app, "x", port);
    // A host user (nobody) holds the names LXC uses without -P, for as long as the test runs.
    let squat = format!(
        "import socket, time\nss = []\nfor n in ['/var/lib/lxc/{name}/command', 'lxc/{name}/command']:\n    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n    s.bind('\\0' + n)\n    s.listen(1)\n    ss.append(s)\nprint('bound', flush=True)\ntime.sleep(60)\n"
    );
    let mut squatter = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "/usr/bin/python3",
            "-c",
            &squat,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(squatter.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "bound\n");
    let out = env.run(&["run"], &yaml);
    let _ = squatter.kill();
    let _ = squatter.wait();
    assert!(
        out.status.success() && stdout(&out) == "started\n",
        "a host user squatting LXC's socket names stopped the proc: {:?}\n{}",
        out.status,
        stderr(&out)
    );
    ok(&env.run(&["teardown"], &yaml));
}
