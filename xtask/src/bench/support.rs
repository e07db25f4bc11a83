//! What the benches share: scratch folders on a tmpfs or on disk that are removed afterwards
//! (on error too), and flushing dirty pages before a timed run.

use crate::util;
use anyhow::{Context, Result};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `statfs` f_type of a tmpfs.
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// A scratch folder, removed with everything in it on drop; a tmpfs mounted on it here is
/// unmounted first. Problems on drop are said on stderr (drop cannot fail).
pub struct Scratch {
    pub dir: PathBuf,
    mounted: bool,
}

impl Scratch {
    /// A fresh, empty folder at `dir`: whatever an earlier run left there is removed first.
    pub fn new(dir: PathBuf) -> Result<Scratch> {
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Scratch {
            dir,
            mounted: false,
        })
    }

    /// A fresh folder at `dir` with a tmpfs of `size` (as `mount -o size=` takes it, `4g`)
    /// mounted on it. Needs root.
    pub fn tmpfs(dir: PathBuf, size: &str) -> Result<Scratch> {
        let mut scratch = Scratch::new(dir)?;
        util::run(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(&scratch.dir),
        )?;
        scratch.mounted = true;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.mounted
            && !Command::new("umount")
                .arg(&self.dir)
                .status()
                .is_ok_and(|s| s.success())
        {
            eprintln!("bench: cannot unmount the tmpfs on {}", self.dir.display());
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("bench: cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// `vr-bench-<bench>-<pid>`: a folder name that no other run of the bench uses.
pub fn unique(bench: &str) -> String {
    format!("vr-bench-{bench}-{}", std::process::id())
}

/// True when `path` is on a tmpfs (false when it cannot be told).
pub fn is_tmpfs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: an all-zero statfs is a valid value for statfs to overwrite.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a NUL-terminated path and st a live, writable statfs.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == TMPFS_MAGIC
}

/// Writes every dirty page back (and, on a `discard` disk, lets the deletes' discards pass), so
/// that the next timed run does not pay for the work of another.
pub fn sync() {
    // SAFETY: sync has no preconditions and cannot fail.
    unsafe { libc::sync() };
}
