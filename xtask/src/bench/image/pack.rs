//! Writing the tarball: vimage's packer (the `vpack` example) against the tools a person would
//! use on the same tree, in the same run, interleaved: `tar -cf - | pigz -6` for gzip and
//! `tar -cf - | zstd -3 -T<cores>` for zstd (every core each), and Python's tarfile 'w:gz'
//! (how the original vr.imager wrote images) once.
//!
//! vpack fsyncs its tarball before renaming it into place (a build must not publish an image
//! that a crash can truncate), so the pipelines' output is fsynced too (`sync FILE`, timed):
//! on a tmpfs that costs nothing, on disk it is the same work for both.

use super::{mb, size, Place, Tools};
use crate::bench::support;
use crate::bench::Report;
use crate::util::{self, measure, median};
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs of each writer per place but Python's tarfile (about 4x slower: once).
const PACK_REPS: usize = 3;
const PYTHON_TARFILE: &str = "import tarfile,sys; t=tarfile.open(sys.argv[2],'w:gz'); \
                              t.add(sys.argv[1], arcname='.'); t.close()";

/// The system tools the baselines need: (command, Debian package).
pub const TOOLS: &[(&str, &str)] = &[
    ("python3", "python3"),
    ("tar", "tar"),
    ("pigz", "pigz"),
    ("zstd", "zstd"),
    ("bash", "bash"),
];

/// Medians, sizes and peak RSS (KiB) of the tarball writers on one place.
pub struct Packed {
    /// `tar -cf - | pigz -6`.
    pub pigz: Duration,
    pub vpack_gz_bytes: u64,
    pub pigz_bytes: u64,
    pub vpack_zst_bytes: u64,
    pub zstd_bytes: u64,
    pub vpack_rss: u64,
    pub pigz_rss: u64,
    pub python_rss: u64,
}

/// `bash -c 'tar -cf - -C TREE . | COMPRESSOR > OUT && sync OUT'`, failing when either side
/// of the pipe fails.
fn tar_pipe(tree: &Path, compressor: &str, out: &Path) -> Command {
    let mut c = Command::new("bash");
    c.args([
        "-c",
        &format!("set -o pipefail; tar -cf - -C \"$1\" . | {compressor} > \"$2\" && sync \"$2\""),
        "bash",
    ])
    .arg(tree)
    .arg(out);
    c
}

/// Packs `tree` with every writer into new files of `place` (never deleting one before the
/// next write: on a `discard` disk that would slow it) and adds the time rows.
pub fn packing(place: &Place, tree: &Path, tools: &Tools, report: &mut Report) -> Result<Packed> {
    let out = place.dir.join("out");
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let zstd = format!("zstd -q -3 -T{cores}");
    let (mut vpack_gz, mut pigz, mut vpack_zst, mut zstd_t) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut vpack_rss, mut pigz_rss) = (0, 0);
    let mut python = None;
    for i in 0..PACK_REPS {
        eprintln!(
            "bench image ({}): packing {}/{PACK_REPS}",
            place.label,
            i + 1
        );
        // Every writer starts with no dirty data of another one waiting to be written back
        // (vpack fsyncs its output; the others leave it to the page cache).
        for (ext, times) in [("tar.gz", &mut vpack_gz), ("tar.zst", &mut vpack_zst)] {
            support::sync();
            let (t, rss) = measure(
                Command::new(&tools.vpack)
                    .arg(tree)
                    .arg(out.join(format!("vpack-{i}.{ext}")))
                    .stdout(Stdio::null()),
            )?;
            times.push(t);
            vpack_rss = vpack_rss.max(rss);
        }
        support::sync();
        // wait4 counts the pipeline's children too: the peak is the largest of them.
        let (t, rss) = measure(&mut tar_pipe(
            tree,
            "pigz -6",
            &out.join(format!("pigz-{i}.tar.gz")),
        ))?;
        pigz.push(t);
        pigz_rss = pigz_rss.max(rss);
        support::sync();
        let (t, _) = measure(&mut tar_pipe(
            tree,
            &zstd,
            &out.join(format!("zstd-{i}.tar.zst")),
        ))?;
        zstd_t.push(t);
        if python.is_none() {
            support::sync();
            python = Some(measure(
                Command::new("python3")
                    .args(["-c", PYTHON_TARFILE])
                    .arg(tree)
                    .arg(out.join("python.tar.gz")),
            )?);
        }
    }
    let (vpack_gz, pigz) = (median(&mut vpack_gz), median(&mut pigz));
    let (vpack_zst, zstd_t) = (median(&mut vpack_zst), median(&mut zstd_t));
    let (python, python_rss) = python.context("python tarfile did not run")?;
    report.time(
        &format!("gzip: vpack vs tar|pigz -6, time ({})", place.label),
        vpack_gz,
        "tar|pigz -6 +fsync",
        pigz,
        "<= 0.6",
    );
    report.time(
        &format!(
            "zstd: vpack vs tar|zstd -3 -T{cores}, time ({})",
            place.label
        ),
        vpack_zst,
        &format!("tar|zstd -T{cores} +fsync"),
        zstd_t,
        "<= 1.2",
    );
    report.time(
        &format!("gzip: vpack vs python tarfile, time ({})", place.label),
        vpack_gz,
        "python w:gz",
        python,
        "-",
    );
    Ok(Packed {
        pigz,
        vpack_gz_bytes: size(&out.join("vpack-0.tar.gz"))?,
        pigz_bytes: size(&out.join("pigz-0.tar.gz"))?,
        vpack_zst_bytes: size(&out.join("vpack-0.tar.zst"))?,
        zstd_bytes: size(&out.join("zstd-0.tar.zst"))?,
        vpack_rss,
        pigz_rss,
        python_rss,
    })
}

/// Rows for the tarball sizes (the same wherever written) and vpack's memory.
pub fn sizes_and_memory(report: &mut Report, p: &Packed, label: &str) {
    let ratio = |a: u64, b: u64| Some(a as f64 / b.max(1) as f64);
    report.figure(
        "gzip: vpack vs tar|pigz -6, size",
        mb(p.vpack_gz_bytes),
        format!("tar|pigz -6 {}", mb(p.pigz_bytes)),
        ratio(p.vpack_gz_bytes, p.pigz_bytes),
        "<= 1.01",
    );
    report.figure(
        "zstd: vpack vs tar|zstd -3, size",
        mb(p.vpack_zst_bytes),
        format!("tar|zstd -3 {}", mb(p.zstd_bytes)),
        ratio(p.vpack_zst_bytes, p.zstd_bytes),
        "<= 1.01",
    );
    for (name, base_rss) in [("tar|pigz", p.pigz_rss), ("python tarfile", p.python_rss)] {
        report.figure(
            &format!("vpack peak RSS vs {name} ({label})"),
            format!("{} MiB", p.vpack_rss / 1024),
            format!("{name} {} MiB", base_rss / 1024),
            ratio(p.vpack_rss, base_rss),
            "-",
        );
    }
}

/// The tools this part needs on PATH (installed when missing and root).
pub fn ensure_tools() -> Result<()> {
    util::ensure_tools(TOOLS)
}
