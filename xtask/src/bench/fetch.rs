//! `cargo xtask bench fetch`: vr-fetch against the tools it replaces, through its `vrfetch`
//! example (so each side is a process, timed and its peak RSS measured alike):
//!
//! - unpacking a tar.gz of >= 200 MB (files picked from the host's /usr/lib) vs `tar -xzf`, on a
//!   tmpfs and on disk (under the target dir), labelled so;
//! - the md5 of a cached 200 MB file vs `md5sum`, and its sha256 vs `sha256sum`;
//! - the peak memory of each (goal: under 50 MB).

use super::support::{self, is_tmpfs, unique, Scratch};
use super::Report;
use crate::util::{self, median_of};
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Uncompressed size aimed at for the unpack tarball (at least 200 MB is required).
const TREE_BUDGET: u64 = 256 << 20;
const TREE_MIN: u64 = 200_000_000;
/// Size of the file hashed.
const HASH_SIZE: u64 = 200_000_000;
const UNPACK_REPS: usize = 3;
const HASH_REPS: usize = 5;

pub fn bench(report: &mut Report) -> Result<()> {
    util::ensure_tools(&[("tar", "tar"), ("gzip", "gzip"), ("md5sum", "coreutils")])?;
    util::run(util::cargo().args([
        "build",
        "--release",
        "-p",
        "vr-fetch",
        "--example",
        "vrfetch",
    ]))?;
    let exe = util::target_dir().join("release/examples/vrfetch");

    let (tmpfs, tmpfs_label) = tmpfs()?;
    let disk = Scratch::new(util::target_dir().join("bench/fetch"))?;

    let (tarball, size) = make_tarball(&tmpfs.dir)?;
    let label_size = format!("{} MB", size / 1_000_000);
    for (place, label) in [(&tmpfs, tmpfs_label), (&disk, "disk, target/bench")] {
        let local = place.dir.join("usr-lib.tar.gz");
        if local != tarball {
            fs::copy(&tarball, &local)
                .with_context(|| format!("cannot copy to {}", local.display()))?;
        }
        let out = place.dir.join("out");
        let fresh = |out: &Path| -> Result<()> {
            if out.exists() {
                fs::remove_dir_all(out)
                    .with_context(|| format!("cannot remove {}", out.display()))?;
                // Flush the delete (and the discards it causes on this host) before the next
                // timed run, so that neither side pays for the other's cleanup.
                support::sync();
            }
            Ok(())
        };
        fresh(&out)?;
        let mut failed = None;
        let (tar_t, tar_rss) = median_of(UNPACK_REPS, || {
            if let Err(e) = fresh(&out).and_then(|()| Ok(fs::create_dir_all(&out)?)) {
                failed = Some(e);
            }
            let mut c = Command::new("tar");
            c.arg("-xzf").arg(&local).arg("-C").arg(&out);
            c
        })?;
        let (vr_t, vr_rss) = median_of(UNPACK_REPS, || {
            if let Err(e) = fresh(&out) {
                failed = Some(e);
            }
            let mut c = Command::new(&exe);
            c.arg("unpack").arg(&local).arg(&out);
            c
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        fresh(&out)?;
        let name = format!("unpack tar.gz {label_size} ({label})");
        report.time(&name, vr_t, "tar -xzf", tar_t, "<= 1.0");
        report.figure(
            &format!("peak RSS, {name}"),
            mib(vr_rss),
            format!("tar -xzf {}", mib(tar_rss)),
            None,
            "< 50 MB",
        );
        if local != tarball {
            fs::remove_file(&local).ok();
        }
    }

    let file = tmpfs.dir.join("hash-me.bin");
    write_pseudo_random(&file, HASH_SIZE)?;
    let (md5sum_t, md5sum_rss) = median_of(HASH_REPS, || {
        let mut c = Command::new("md5sum");
        c.arg(&file).stdout(Stdio::null());
        c
    })?;
    let (vr_t, vr_rss) = median_of(HASH_REPS, || {
        let mut c = Command::new(&exe);
        c.arg("md5").arg(&file).stdout(Stdio::null());
        c
    })?;
    let name = format!("md5 of a cached 200 MB file ({tmpfs_label})");
    report.time(&name, vr_t, "md5sum", md5sum_t, "<= 1.1");
    report.figure(
        &format!("peak RSS, {name}"),
        mib(vr_rss),
        format!("md5sum {}", mib(md5sum_rss)),
        None,
        "< 50 MB",
    );
    // sha256 (issue 13): vrfetch's `sha256` against coreutils' sha256sum on the same file.
    let (sha256sum_t, _) = median_of(HASH_REPS, || {
        let mut c = Command::new("sha256sum");
        c.arg(&file).stdout(Stdio::null());
        c
    })?;
    let (vr_t, _) = median_of(HASH_REPS, || {
        let mut c = Command::new(&exe);
        c.arg("sha256").arg(&file).stdout(Stdio::null());
        c
    })?;
    let name = format!("sha256 of a cached 200 MB file ({tmpfs_label})");
    report.time(&name, vr_t, "sha256sum", sha256sum_t, "<= 1.1");
    Ok(())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A folder on a tmpfs and its label: under /dev/shm when that is one, else a tmpfs mounted
/// for the bench.
fn tmpfs() -> Result<(Scratch, &'static str)> {
    let shm = Path::new("/dev/shm");
    if is_tmpfs(shm) {
        return Ok((Scratch::new(shm.join(unique("fetch")))?, "tmpfs, /dev/shm"));
    }
    let scratch = Scratch::tmpfs(util::target_dir().join("bench/fetch-tmpfs"), "2G")
        .context("no tmpfs at /dev/shm and cannot mount one (run as root)")?;
    Ok((scratch, "tmpfs"))
}

/// Packs about 256 MiB of /usr/lib (whole folders where they fit) into `dir/usr-lib.tar.gz`
/// with GNU tar; returns its path and the uncompressed size of what it holds.
fn make_tarball(dir: &Path) -> Result<(PathBuf, u64)> {
    let base = Path::new("/usr/lib");
    let mut picked = Vec::new();
    let size = pick(base, TREE_BUDGET, &mut picked)?;
    if size < TREE_MIN {
        bail!("/usr/lib holds only {size} bytes of files; the unpack bench needs {TREE_MIN}");
    }
    let list = dir.join("files.list");
    let mut w = BufWriter::new(fs::File::create(&list)?);
    for p in &picked {
        let rel = p.strip_prefix(base).unwrap_or(p);
        w.write_all(rel.as_os_str().as_bytes())?;
        w.write_all(b"\0")?;
    }
    w.flush()?;
    let tarball = dir.join("usr-lib.tar.gz");
    eprintln!(
        "bench fetch: packing {} MB from /usr/lib ({} paths) into {}",
        size / 1_000_000,
        picked.len(),
        tarball.display()
    );
    util::run(
        Command::new("tar")
            .args(["--numeric-owner", "--null", "-czf"])
            .arg(&tarball)
            .arg("-C")
            .arg(base)
            .arg("-T")
            .arg(&list),
    )?;
    fs::remove_file(&list).ok();
    Ok((tarball, size))
}

/// Adds children of `dir` (sorted by name) to `out` while they fit in `budget`, descending into
/// folders too big to take whole; returns the bytes of regular files added.
fn pick(dir: &Path, budget: u64, out: &mut Vec<PathBuf>) -> Result<u64> {
    let mut children: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    children.sort();
    let mut used = 0;
    for child in children {
        let Ok(meta) = fs::symlink_metadata(&child) else {
            continue;
        };
        let size = tree_size(&child);
        if used + size <= budget {
            out.push(child);
            used += size;
        } else if meta.is_dir() {
            used += pick(&child, budget - used, out)?;
        }
        if budget - used < budget / 100 {
            break;
        }
    }
    Ok(used)
}

/// Bytes of regular files under `path` (not following symlinks); unreadable parts count 0.
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| tree_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Writes `size` bytes of cheap pseudo-random data (xorshift) to `path`.
fn write_pseudo_random(path: &Path, size: u64) -> Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = size;
    let mut block = vec![0u8; 1 << 16];
    while left > 0 {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        w.write_all(&block[..n])?;
        left -= n as u64;
    }
    w.flush()?;
    Ok(())
}
