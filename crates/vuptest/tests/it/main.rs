//! Tests that run the real `vuptest` executable.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli;
mod compat;
mod escape;
mod run;
mod static_bin;
mod stream;

use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

/// Held while test threads write executables or fork. Without it, a fork in one thread can
/// inherit another thread's still-open write fd of a script about to be run, and the exec of
/// that script fails with ETXTBSY ("Text file busy").
static FORK_LOCK: Mutex<()> = Mutex::new(());

pub fn fork_lock() -> MutexGuard<'static, ()> {
    FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The vuptest built for these tests.
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vuptest"))
}

/// Writes `files` (name, contents, mode) into `dir`, creating it.
pub fn write_files(dir: &Path, files: &[(&str, &str, u32)]) {
    let _lock = fork_lock();
    fs::create_dir_all(dir).unwrap();
    for (name, body, mode) in files {
        let path = dir.join(name);
        fs::write(&path, body).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
    }
}

/// A temp folder holding the given uptests.
pub fn uptests(files: &[(&str, &str, u32)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), files);
    dir
}

/// Starts `cmd` with the fork lock held.
pub fn spawn(cmd: &mut Command) -> Child {
    let _lock = fork_lock();
    cmd.spawn().unwrap()
}

/// Runs vuptest with `args` and returns its output.
pub fn vuptest<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let child = spawn(
        Command::new(exe())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    child.wait_with_output().unwrap()
}

/// Runs vuptest on `dir` with host `localhost` and port `8080` plus `flags`; expects exit 0, an
/// empty stderr and one JSON line, and returns the parsed array.
pub fn results(dir: &Path, flags: &[&str]) -> Vec<Value> {
    let mut args: Vec<std::ffi::OsString> = flags.iter().map(|f| f.into()).collect();
    args.extend([
        dir.as_os_str().to_owned(),
        "localhost".into(),
        "8080".into(),
    ]);
    let out = vuptest(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
    json_line(&out.stdout)
}

/// Checks `stdout` is exactly one line of JSON holding an array, and returns it.
pub fn json_line(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    assert!(
        text.ends_with('\n'),
        "stdout must end with a newline: {text:?}"
    );
    assert_eq!(text.matches('\n').count(), 1, "stdout must be one line");
    match serde_json::from_str(text).unwrap() {
        Value::Array(items) => items,
        other => panic!("not an array: {other}"),
    }
}

/// True when process `pid` no longer runs (gone, or a zombie waiting for its reaper).
pub fn process_gone(pid: u32) -> bool {
    // SIGKILL is delivered asynchronously: on a loaded machine a killed process can take a
    // moment to die. Gone means gone within 2 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        if dead_now(pid) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn dead_now(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the ")" that ends the command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Reads pids written one per line by the uptests into `file`.
pub fn read_pids(file: &Path) -> Vec<u32> {
    fs::read_to_string(file)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}
