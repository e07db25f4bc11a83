//! Unpacking an OS image the way `vrun setup` does (vr-fetch's `unpack` with the containers'
//! id shift) against GNU `tar -xf` of the same tar uncompressed: what decompressing, vr's
//! checks and the shift cost over bare file creation.
//!
//! The image is `bench image`'s base (busybox and about 280 MB of the host's
//! /usr/lib/x86_64-linux-gnu), as vimage writes images (its packer, the `vpack` example:
//! `.tar.gz` of 1 MiB gzip members, `.tar.zst` of one zstd frame) and as `tar -czf` writes a
//! base (one gzip member). The `.tar` of the baseline is the zstd image decompressed: the very
//! bytes the others hold.
//!
//! Each run writes into a folder of its own after a `sync`, the runs of the tools interleaved.
//! On the disk the folders are removed only after the last run: on the root file system,
//! mounted with `discard`, a delete makes the writes that follow slow for a while, and ext4
//! passes over the inodes it freed for a minute or more. On the tmpfs the previous run's folder
//! is removed right before each run instead: its pages are then used again, where fresh ones
//! cost this VM's host a fault each (several hundred ms per run, at random).

use super::super::support::sync;
use super::super::{fmt_dur, Report};
use crate::util::{self, measure, median};
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Runs of each tool per place.
const REPS: usize = 5;
/// vrun's default id map.
const SHIFT: &str = "shift=100000:65536";

/// The image in each form, on the tmpfs.
pub struct Images {
    /// Uncompressed: what `tar -xf` reads.
    pub tar: PathBuf,
    /// vimage's gzip: 1 MiB members.
    pub gz: PathBuf,
    /// vimage's zstd.
    pub zst: PathBuf,
    /// `tar -czf`: one member (how a base from elsewhere often comes).
    pub base: PathBuf,
    /// Bytes of files in it.
    pub tree_bytes: u64,
}

/// Makes the image in every form in `dir` (a tmpfs): the base with `bench image`'s recipe,
/// unpacked and packed again by `vpack`.
pub fn make_images(dir: &Path, vpack: &Path) -> Result<Images> {
    let (base, tree_bytes) = super::super::image::tree::make_base(dir)?;
    let tree = dir.join("image-tree");
    fs::create_dir(&tree).with_context(|| format!("cannot create {}", tree.display()))?;
    util::run(
        Command::new("tar")
            .args(["--numeric-owner", "-xpzf"])
            .arg(&base)
            .arg("-C")
            .arg(&tree),
    )?;
    let (gz, zst, tar) = (
        dir.join("image.tar.gz"),
        dir.join("image.tar.zst"),
        dir.join("image.tar"),
    );
    for out in [&gz, &zst] {
        util::run(
            Command::new(vpack)
                .arg(&tree)
                .arg(out)
                .stdout(std::process::Stdio::null()),
        )?;
    }
    fs::remove_dir_all(&tree).with_context(|| format!("cannot remove {}", tree.display()))?;
    let plain =
        fs::File::create(&tar).with_context(|| format!("cannot create {}", tar.display()))?;
    util::run(Command::new("zstd").args(["-dcq"]).arg(&zst).stdout(plain))?;
    Ok(Images {
        tar,
        gz,
        zst,
        base,
        tree_bytes,
    })
}

/// Where the rows are measured.
pub struct Place<'a> {
    pub dir: &'a Path,
    pub label: &'a str,
    /// A tmpfs: each run's folder is removed before the next run.
    pub tmpfs: bool,
}

/// The rows of one place, where the tarballs are copied first.
pub fn rows(report: &mut Report, vrfetch: &Path, im: &Images, place: &Place) -> Result<()> {
    let runs = place.dir.join("shifted-runs");
    fs::create_dir_all(&runs).with_context(|| format!("cannot create {}", runs.display()))?;
    let result = rows_in(report, vrfetch, im, &runs, place);
    let removed =
        fs::remove_dir_all(&runs).with_context(|| format!("cannot remove {}", runs.display()));
    result.and(removed)
}

fn rows_in(
    report: &mut Report,
    vrfetch: &Path,
    im: &Images,
    runs: &Path,
    place: &Place,
) -> Result<()> {
    let label = place.label;
    let copy = |from: &Path| -> Result<PathBuf> {
        let to = runs.join(from.file_name().unwrap_or_default());
        fs::copy(from, &to).with_context(|| format!("cannot copy to {}", to.display()))?;
        Ok(to)
    };
    let tar = copy(&im.tar)?;
    // (row name, tarball, goal)
    let ours = [
        ("tar.zst (vimage)", copy(&im.zst)?, "<= 1.15"),
        ("tar.gz (vimage, 1 MiB members)", copy(&im.gz)?, "<= 1.3"),
        ("tar.gz (tar -czf, one member)", copy(&im.base)?, "<= 1.3"),
    ];
    let mut n = 0;
    let mut fresh = || -> Result<PathBuf> {
        n += 1;
        let last = runs.join(format!("out-{}", n - 1));
        if place.tmpfs && last.exists() {
            fs::remove_dir_all(&last)
                .with_context(|| format!("cannot remove {}", last.display()))?;
        }
        // Flushes the runs before: none pays for another's writeback.
        sync();
        Ok(runs.join(format!("out-{n}")))
    };
    let mut tar_times = Vec::new();
    let mut times = vec![Vec::new(); ours.len()];
    let mut rss = vec![0; ours.len()];
    for _ in 0..REPS {
        let out = fresh()?;
        fs::create_dir(&out).with_context(|| format!("cannot create {}", out.display()))?;
        let (t, _) = measure(Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&out))?;
        tar_times.push(t);
        for (i, (_, tarball, _)) in ours.iter().enumerate() {
            let (t, r) = measure(
                Command::new(vrfetch)
                    .arg("unpack")
                    .arg(tarball)
                    .arg(fresh()?)
                    .arg(SHIFT),
            )?;
            times[i].push(t);
            rss[i] = rss[i].max(r);
        }
    }
    let tar_t = median(&mut tar_times);
    let size = format!("{} MB", im.tree_bytes / 1_000_000);
    for (i, (what, _, goal)) in ours.iter().enumerate() {
        let name = format!("unpack {what} {size}, shifted ({label})");
        report.time(&name, median(&mut times[i]), "tar -xf .tar", tar_t, goal);
        report.figure(
            &format!("peak RSS, unpack {what} ({label})"),
            format!("{:.1} MiB", rss[i] as f64 / 1024.0),
            String::new(),
            None,
            "< 50 MB",
        );
    }
    // What one core needs to decompress the zstd image, with nothing written: a floor under
    // vr's figure that no file creation can lower.
    let (zstd_t, _) = measure(
        Command::new("zstd")
            .args(["-dcq"])
            .arg(&ours[0].1)
            .stdout(std::process::Stdio::null()),
    )?;
    report.figure(
        &format!("  floor: zstd -dc alone, {size} ({label})"),
        fmt_dur(zstd_t),
        format!("tar -xf .tar {}", fmt_dur(tar_t)),
        Some(ratio(zstd_t, tar_t)),
        "-",
    );
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}
