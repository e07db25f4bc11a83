//! The base image of `bench image`: the tests' busybox rootfs plus part of the host's
//! /usr/lib/x86_64-linux-gnu, packed with `tar -czf`.

use super::mb;
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bytes of /usr/lib/x86_64-linux-gnu (hardlinks counted once) copied into the base, on top
/// of busybox: at least this much, at most [`LIB_SLACK`] more (bigger entries are skipped).
const LIB_BYTES: u64 = 280_000_000;
const LIB_SLACK: u64 = 20_000_000;
const LIB_DIR: &str = "usr/lib/x86_64-linux-gnu";

/// Makes `dir/base.tar.gz` (with `tar -czf`) from a busybox rootfs plus the first entries of
/// the host's /usr/lib/x86_64-linux-gnu, by name, that add up to [`LIB_BYTES`] (skipping any
/// that would overshoot by more than [`LIB_SLACK`]); returns it and the tree's size in bytes.
/// The tree itself is removed.
pub fn make_base(dir: &Path) -> Result<(PathBuf, u64)> {
    let root = dir.join("base-tree");
    vr_tests::busybox_rootfs(&root)
        .with_context(|| format!("cannot make a busybox rootfs in {}", root.display()))?;
    let lib = root.join(LIB_DIR);
    fs::create_dir_all(&lib).with_context(|| format!("cannot create {}", lib.display()))?;

    let host = Path::new("/").join(LIB_DIR);
    let (picked, lib_bytes) = pick(&host)?;
    eprintln!(
        "bench image: copying {} entries of {} ({})",
        picked.len(),
        host.display(),
        mb(lib_bytes)
    );
    // Not util::run: the command line holds every entry.
    let status = Command::new("cp")
        .arg("-a")
        .arg("-t")
        .arg(&lib)
        .args(&picked)
        .status()
        .context("cannot start cp")?;
    if !status.success() {
        bail!(
            "cp -a of {} entries of {} failed: {status}",
            picked.len(),
            host.display()
        );
    }
    let tree_bytes = tree_size(&root, &mut HashSet::new())?;
    let base = dir.join("base.tar.gz");
    vr_tests::tar_gz(&root, &base).with_context(|| format!("cannot pack {}", root.display()))?;
    fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    Ok((base, tree_bytes))
}

/// The first entries of `host`, by name, that add up to [`LIB_BYTES`] (hardlinks counted once,
/// entries that would overshoot by more than [`LIB_SLACK`] skipped), and their bytes.
fn pick(host: &Path) -> Result<(Vec<PathBuf>, u64)> {
    let mut names: Vec<PathBuf> = fs::read_dir(host)
        .and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect())
        .with_context(|| format!("cannot list {}", host.display()))?;
    names.sort();
    let mut picked = Vec::new();
    let mut lib_bytes = 0;
    let mut seen = HashSet::new();
    for path in names {
        if lib_bytes >= LIB_BYTES {
            break;
        }
        let mut with = seen.clone();
        let bytes = tree_size(&path, &mut with)?;
        if lib_bytes + bytes <= LIB_BYTES + LIB_SLACK {
            lib_bytes += bytes;
            seen = with;
            picked.push(path);
        }
    }
    if lib_bytes < LIB_BYTES {
        bail!(
            "{} holds only {} (need {})",
            host.display(),
            mb(lib_bytes),
            mb(LIB_BYTES)
        );
    }
    Ok((picked, lib_bytes))
}

/// Bytes in the regular files under `path` (not following symlinks) not counted in `seen`
/// yet: a file with several hardlinks counts once, as tar stores it once.
fn tree_size(path: &Path, seen: &mut HashSet<(u64, u64)>) -> Result<u64> {
    let meta =
        fs::symlink_metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    if meta.is_file() {
        return Ok(if seen.insert((meta.dev(), meta.ino())) {
            meta.len()
        } else {
            0
        });
    }
    if !meta.is_dir() {
        return Ok(0);
    }
    let mut total = 0;
    for entry in fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", path.display()))?;
        total += tree_size(&entry.path(), seen)?;
    }
    Ok(total)
}
