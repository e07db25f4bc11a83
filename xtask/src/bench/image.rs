//! `cargo xtask bench image`: what `vimage build` costs on a base of about 280 MB (busybox
//! plus part of the host's /usr/lib/x86_64-linux-gnu) with a one-line script.
//!
//! - Start to the script's first line with the base cached, against a bare `lxc-execute` of a
//!   minimal config on the same unpacked base running `echo`: both timed from spawn until their
//!   first line of output appears; medians of [`LATENCY_REPS`] builds in a row and of
//!   [`BARE_REPS`] lxc-executes after an untimed one.
//! - The whole build (its cost is packing) against `tar -cf - | pigz -6` of the same tree.
//! - Writing the tarball with vimage's packer (the `vpack` example), gzip against
//!   `tar -cf - | pigz -6` and zstd against `tar -cf - | zstd -3 -T<cores>`, time and size, and
//!   against Python's `tarfile` 'w:gz' (how the original vr.imager wrote it); vpack's peak RSS
//!   (see [`pack`]).
//!
//! Timed figures are measured with every file on a tmpfs and again on the root disk (ext4 with
//! `discard`), and labelled so. Everything made is removed afterwards, on error too (a tmpfs is
//! unmounted). Needs root and LXC.

mod marker;
mod pack;
// `bench fetch` unpacks the same base.
pub(super) mod tree;

use super::support::{is_tmpfs, unique, Scratch};
use super::Report;
use crate::util::{self, median, run};
use anyhow::{bail, Context, Result};
use marker::{time_to_marker, Watch};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The line the provisioning script prints first.
const MARKER: &str = "vimage-bench-first-line";
/// Timed runs of `vimage build` per place (each packs the whole base).
const LATENCY_REPS: usize = 5;
/// Timed runs of the bare lxc-execute per place (a few ms each).
const BARE_REPS: usize = 11;

/// Where a set of timed figures was taken.
struct Place<'a> {
    label: &'static str,
    dir: &'a Path,
}

/// The tools under test.
struct Tools {
    vimage: PathBuf,
    vpack: PathBuf,
}

pub fn bench(report: &mut Report) -> Result<()> {
    if !util::is_root() {
        bail!("bench image needs root (LXC containers and a tmpfs mount)");
    }
    let tools = build_tools()?;
    // Other work on the machine takes cores from vpack first (it uses them all): say so.
    if let Ok(load) = fs::read_to_string("/proc/loadavg") {
        eprintln!("bench image: load average before: {}", load.trim());
    }
    let tmpfs = Scratch::tmpfs(std::env::temp_dir().join(unique("image")), "4g")?;
    // The target dir, not /tmp, which is a tmpfs on some systems.
    let disk = Scratch::new(util::target_dir().join(unique("image")))?;
    if is_tmpfs(&disk.dir) {
        eprintln!(
            "bench image: warning: {} is on a tmpfs; the figures labelled `disk` are not",
            disk.dir.display()
        );
    }
    let (base, tree_bytes) = tree::make_base(&tmpfs.dir)?;
    let base_bytes = size(&base)?;
    report.figure(
        "base: busybox + /usr/lib subset, uncompressed",
        mb(tree_bytes),
        format!("tar -czf {}", mb(base_bytes)),
        None,
        ">= 280 MB",
    );
    let places = [
        Place {
            label: "tmpfs",
            dir: &tmpfs.dir,
        },
        Place {
            label: "disk",
            dir: &disk.dir,
        },
    ];
    let mut first = None;
    for place in places {
        let built = latency(&place, &base, &tools, report)?;
        let packed = pack::packing(&place, &built.contents, &tools, report)?;
        report.time(
            &format!("vimage build, whole, trivial script ({})", place.label),
            built.whole,
            "tar|pigz -6 +fsync",
            packed.pigz,
            "-",
        );
        first.get_or_insert((built.out_bytes, packed, place.label));
    }
    if let Some((out_bytes, packed, label)) = first {
        pack::sizes_and_memory(report, &packed, label);
        report.figure(
            "tarball size: vimage build output vs the base",
            mb(out_bytes),
            format!("tar -czf {}", mb(base_bytes)),
            Some(out_bytes as f64 / base_bytes.max(1) as f64),
            "0.97-1.02",
        );
    }
    Ok(())
}

/// Builds the release binaries and the `vpack` example.
fn build_tools() -> Result<Tools> {
    util::ensure_tools(util::RUNTIME_TOOLS)?;
    util::ensure_subids()?;
    pack::ensure_tools()?;
    util::build_bins(true)?;
    run(util::cargo().args(["build", "--release", "-p", "vimage", "--example", "vpack"]))?;
    let release = util::target_dir().join("release");
    Ok(Tools {
        vimage: release.join("vimage"),
        vpack: release.join("examples/vpack"),
    })
}

/// What the `vimage build` runs left behind.
struct Built {
    /// The unpacked, cached base.
    contents: PathBuf,
    /// Median wall time of a whole build.
    whole: Duration,
    /// Size of the build's tarball.
    out_bytes: u64,
}

/// Caches the base with one `vimage build`, then times builds and a bare lxc-execute on the
/// cached base until each prints its first line.
fn latency(place: &Place, base: &Path, tools: &Tools, report: &mut Report) -> Result<Built> {
    let vr_root = place.dir.join("vr");
    let work = place.dir.join("work");
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let script = work.join("provision.sh");
    fs::write(&script, format!("#!/bin/sh\necho {MARKER}\n"))
        .with_context(|| format!("cannot write {}", script.display()))?;
    let yaml = work.join("image.yaml");
    fs::write(
        &yaml,
        format!(
            "base_image_url: {}\nbase_image_name: bench-base\nnew_image_name: bench-out\n\
             script_url: {}\n",
            base.display(),
            script.display()
        ),
    )
    .with_context(|| format!("cannot write {}", yaml.display()))?;
    let vimage = || {
        let mut c = Command::new(&tools.vimage);
        c.arg("build")
            .arg(&yaml)
            .current_dir(&work)
            .env("VR_ROOT", &vr_root)
            .env_remove("TERM");
        c
    };
    eprintln!("bench image ({}): caching the base", place.label);
    time_to_marker(vimage(), Watch::Stderr)?;

    let contents = vr_root.join("images/bench-base/contents");
    let config = work.join("minimal.lxc");
    fs::write(
        &config,
        format!(
            "lxc.uts.name = bench\nlxc.rootfs.path = dir:{}\nlxc.net.0.type = none\n\
             lxc.apparmor.profile = unconfined\n",
            contents.display()
        ),
    )
    .with_context(|| format!("cannot write {}", config.display()))?;
    let lxc = || {
        let mut c = Command::new("lxc-execute");
        c.arg("-n")
            .arg(format!("vr-bench-image-{}", std::process::id()))
            .arg("-f")
            .arg(&config)
            .args(["--", "echo", MARKER]);
        c
    };
    let (mut ours, mut whole) = (Vec::new(), Vec::new());
    for i in 0..LATENCY_REPS {
        eprintln!(
            "bench image ({}): vimage build {}/{LATENCY_REPS}",
            place.label,
            i + 1
        );
        let (first, total) = time_to_marker(vimage(), Watch::Stderr)?;
        ours.push(first);
        whole.push(total);
    }
    // Right after another container's teardown one lxc-execute takes about three times as
    // long: the baseline gets an untimed run first (each vimage build follows the last).
    time_to_marker(lxc(), Watch::Stdout)?;
    let mut bare = (0..BARE_REPS)
        .map(|_| time_to_marker(lxc(), Watch::Stdout).map(|(first, _)| first))
        .collect::<Result<Vec<_>>>()?;
    report.time(
        &format!("vimage build: start to script's 1st line ({})", place.label),
        median(&mut ours),
        "lxc-execute echo",
        median(&mut bare),
        "<= 100 ms",
    );
    Ok(Built {
        contents,
        whole: median(&mut whole),
        out_bytes: size(&work.join("bench-out.tar.gz"))?,
    })
}

/// Bytes of the file at `path`.
fn size(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len())
}

/// Bytes as decimal megabytes with one decimal.
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
