//! Running processes in tests: outputs as text, waiting with a limit, feeding stdin, free ports,
//! and checking that a container left nothing behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Asserts `out` is a success (showing status, stdout and stderr when not) and returns stdout.
#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// stdout as text (invalid UTF-8 replaced).
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text (invalid UTF-8 replaced).
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits for `child` at most `limit`; then kills it and fails.
#[track_caller]
pub fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `done` every 20 ms until it holds; fails, naming `what`, after `limit`.
#[track_caller]
pub fn until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `dir` holds an entry whose name ends with `suffix` (false when `dir` is missing).
pub fn has_entry_ending(dir: &Path, suffix: &str) -> bool {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(suffix))
        })
        .unwrap_or(false)
}

/// Runs `cmd` with `input` on its stdin and collects its output (stdout and stderr piped).
pub fn with_stdin(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Makes `cmd` start with the directory `dir` open as descriptor `fd`, without close-on-exec:
/// what `flock DIR cmd` (fd 3) or a careless supervisor hands down.
pub fn with_inherited_dir(cmd: &mut Command, fd: i32, dir: &Path) {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: between fork and exec only open, dup2 and close run (async-signal-safe); the
    // path was made before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let opened = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            if opened < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if opened != fd {
                if libc::dup2(opened, fd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(opened);
            }
            Ok(())
        });
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it when this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The pids of the host's processes whose command line is exactly `args` (a zombie has none).
pub fn pids_of(args: &[&str]) -> Vec<String> {
    let want: Vec<u8> = args
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| fs::read(e.path().join("cmdline")).ok().as_deref() == Some(&want[..]))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Whether a process on the host runs with exactly the command line `args`.
pub fn running(args: &[&str]) -> bool {
    !pids_of(args).is_empty()
}

/// The names in `dir` (not recursive), sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Asserts nothing of the container `name` is left: no process mentions it in its command line,
/// nothing under `root` is mounted, no cgroup is named after it.
#[track_caller]
pub fn nothing_left(name: &str, root: &Path) {
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(raw) = fs::read(entry.path().join("cmdline")) {
            let args = String::from_utf8_lossy(&raw).replace('\0', " ");
            assert!(!args.contains(name), "still running: {args}");
        }
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(root.to_str().unwrap()),
        "still mounted:\n{mounts}"
    );
    for hierarchy in fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        for entry in fs::read_dir(hierarchy.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let n = entry.file_name().to_string_lossy().into_owned();
            assert!(!n.contains(name), "cgroup left: {}", entry.path().display());
        }
    }
}

/// The static vuptest: `$VR_UPTESTER`, else `$VR_STATIC_VUPTEST` (both set by
/// `cargo xtask test`), else where xtask builds it:
/// `<target>/static/x86_64-unknown-linux-gnu/debug/vuptest`.
pub fn static_vuptest() -> PathBuf {
    for var in ["VR_UPTESTER", "VR_STATIC_VUPTEST"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return v.into();
        }
    }
    // <target>/<profile>/deps/<test binary>
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    target.join("static/x86_64-unknown-linux-gnu/debug/vuptest")
}
