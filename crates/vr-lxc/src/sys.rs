//! The seam between vr-lxc's decisions and the system: external commands, device nodes,
//! files, signals. [`RealSys`] does them; [`FakeSys`] records them so the decisions are
//! unit-tested without root (also usable by the crates built on vr-lxc).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::Signal;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::Pid;

/// What a finished command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    /// Exit status 0.
    pub success: bool,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// System calls and external commands used by vr-lxc.
pub trait Sys {
    /// Runs `program args..` to completion and captures its output.
    fn output(&self, program: &str, args: &[&str]) -> io::Result<CmdOutput>;
    /// Reads a text file.
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    /// True when something (even a dangling symlink) exists at `path`.
    fn exists(&self, path: &Path) -> bool;
    /// Creates a folder and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates a character device node.
    fn mknod_char(&self, path: &Path, mode: u32, major: u64, minor: u64) -> io::Result<()>;
    /// Creates a symlink `link` pointing at `target`.
    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()>;
    /// Sends `signal` to `pid`.
    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()>;
    /// The child processes of `pid` (empty when unknown).
    fn children(&self, pid: i32) -> Vec<i32>;
}

/// The real system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSys;

impl Sys for RealSys {
    fn output(&self, program: &str, args: &[&str]) -> io::Result<CmdOutput> {
        let out = Command::new(program).args(args).output()?;
        Ok(CmdOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn exists(&self, path: &Path) -> bool {
        path.symlink_metadata().is_ok()
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn mknod_char(&self, path: &Path, mode: u32, major: u64, minor: u64) -> io::Result<()> {
        mknod(
            path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(mode),
            makedev(major, minor),
        )?;
        // mknod applies the umask; the nodes need their exact mode.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
    }

    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, link)
    }

    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()> {
        nix::sys::signal::kill(Pid::from_raw(pid), signal)?;
        Ok(())
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        // Needs CONFIG_PROC_CHILDREN (on in every distribution kernel); empty otherwise.
        let path = format!("/proc/{pid}/task/{pid}/children");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect()
    }
}

/// A recording fake: commands answer from a table, files from a map, and every change is
/// recorded as one line in [`FakeSys::calls`].
#[derive(Debug, Default)]
pub struct FakeSys {
    outputs: RefCell<BTreeMap<String, CmdOutput>>,
    files: RefCell<BTreeMap<PathBuf, String>>,
    existing: RefCell<BTreeSet<PathBuf>>,
    children: RefCell<BTreeMap<i32, Vec<i32>>>,
    calls: RefCell<Vec<String>>,
}

impl FakeSys {
    /// Makes `program` (whatever its args) succeed or fail with `stdout`.
    pub fn set_output(&self, program: &str, success: bool, stdout: &str) {
        self.outputs.borrow_mut().insert(
            program.to_string(),
            CmdOutput {
                success,
                stdout: stdout.to_string(),
                stderr: String::new(),
            },
        );
    }

    /// Adds a readable file (which also exists).
    pub fn set_file(&self, path: impl Into<PathBuf>, text: &str) {
        let path = path.into();
        self.existing.borrow_mut().insert(path.clone());
        self.files.borrow_mut().insert(path, text.to_string());
    }

    /// Makes `path` exist.
    pub fn set_exists(&self, path: impl Into<PathBuf>) {
        self.existing.borrow_mut().insert(path.into());
    }

    /// Sets the children of `pid`.
    pub fn set_children(&self, pid: i32, children: &[i32]) {
        self.children.borrow_mut().insert(pid, children.to_vec());
    }

    /// Every recorded call, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }
}

fn not_found(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, what.to_string())
}

impl Sys for FakeSys {
    fn output(&self, program: &str, args: &[&str]) -> io::Result<CmdOutput> {
        self.record(format!("run {program} {}", args.join(" ")));
        self.outputs
            .borrow()
            .get(program)
            .cloned()
            .ok_or_else(|| not_found(program))
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        self.files
            .borrow()
            .get(path)
            .cloned()
            .ok_or_else(|| not_found(&path.display().to_string()))
    }

    fn exists(&self, path: &Path) -> bool {
        self.existing.borrow().contains(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.record(format!("mkdir -p {}", path.display()));
        self.existing.borrow_mut().insert(path.to_path_buf());
        Ok(())
    }

    fn mknod_char(&self, path: &Path, mode: u32, major: u64, minor: u64) -> io::Result<()> {
        self.record(format!(
            "mknod {} c {major} {minor} mode {mode:o}",
            path.display()
        ));
        self.existing.borrow_mut().insert(path.to_path_buf());
        Ok(())
    }

    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
        self.record(format!("ln -s {} {}", target.display(), link.display()));
        self.existing.borrow_mut().insert(link.to_path_buf());
        Ok(())
    }

    fn kill(&self, pid: i32, signal: Signal) -> io::Result<()> {
        self.record(format!("kill {} {pid}", signal.as_str()));
        Ok(())
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        self.children
            .borrow()
            .get(&pid)
            .cloned()
            .unwrap_or_default()
    }
}
