//! `cargo xtask bench fetch`: vr-fetch against the tools it replaces, through its `vrfetch`
//! example (so each side is a process, timed and its peak RSS measured alike):
//!
//! - unpacking `bench image`'s base (busybox and about 280 MB of the host's libraries) the way
//!   `vrun setup` unpacks an image, as `.tar.zst` and `.tar.gz`, vs GNU `tar -xf` of the same
//!   tar uncompressed (see [`shifted`]);
//! - unpacking the base's tar.gz (one gzip member) vs `tar -xzf`;
//! - the md5 of a cached 200 MB file vs `md5sum`, and its sha256 vs `sha256sum`;
//! - the peak memory of each (goal: under 50 MB).
//!
//! Unpacks are timed on a tmpfs and on disk (the root file system, under the target dir), and
//! labelled so.

mod shifted;

use super::support::{self, is_tmpfs, unique, Scratch};
use super::Report;
use crate::util::{self, median_of};
use anyhow::{Context, Result};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Size of the file hashed.
const HASH_SIZE: u64 = 200_000_000;
const UNPACK_REPS: usize = 3;
const HASH_REPS: usize = 5;

pub fn bench(report: &mut Report) -> Result<()> {
    util::ensure_tools(&[
        ("tar", "tar"),
        ("gzip", "gzip"),
        ("zstd", "zstd"),
        ("md5sum", "coreutils"),
        ("busybox", "busybox-static"),
    ])?;
    util::run(util::cargo().args([
        "build",
        "--release",
        "-p",
        "vr-fetch",
        "--example",
        "vrfetch",
    ]))?;
    util::run(util::cargo().args(["build", "--release", "-p", "vimage", "--example", "vpack"]))?;
    let release = util::target_dir().join("release/examples");
    let exe = release.join("vrfetch");
    if let Ok(load) = fs::read_to_string("/proc/loadavg") {
        eprintln!("bench fetch: load average before: {}", load.trim());
    }

    let (tmpfs, tmpfs_label) = tmpfs()?;
    let disk = Scratch::new(util::target_dir().join("bench/fetch"))?;
    let disk_label = "disk, target/bench";
    let images = shifted::make_images(&tmpfs.dir, &release.join("vpack"))?;
    // First, before anything is deleted on the disk.
    for (dir, label, tmpfs) in [
        (&tmpfs.dir, tmpfs_label, true),
        (&disk.dir, disk_label, false),
    ] {
        let place = shifted::Place { dir, label, tmpfs };
        shifted::rows(report, &exe, &images, &place)?;
    }

    let tarball = images.base.clone();
    let label_size = format!("{} MB", images.tree_bytes / 1_000_000);
    for (place, label) in [(&tmpfs, tmpfs_label), (&disk, disk_label)] {
        let local = place.dir.join("base.tar.gz");
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
