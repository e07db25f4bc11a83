//! `cargo xtask bench image`: what `vimage build` costs on a base of at least 200 MB (busybox
//! plus part of the host's /usr/lib/x86_64-linux-gnu) with a one-line script.
//!
//! - Start to the script's first line with the base cached, against a bare `lxc-execute` of a
//!   minimal config on the same unpacked base running `echo`: both timed from spawn until their
//!   first line of output appears; medians of [`LATENCY_REPS`] builds in a row and of
//!   [`BARE_REPS`] lxc-executes after an untimed one.
//! - The whole build (its cost is packing) against `tar -czf` of the same tree.
//! - Writing the tarball with vimage's packer (the `vpack` example) against `tar -czf` and
//!   Python's `tarfile` 'w:gz' (how the original vr.imager wrote it); sizes; vpack's peak RSS.
//!
//! Timed figures are measured with every file on a tmpfs and again on the root disk (ext4 with
//! `discard`), and labelled so. Everything made is removed afterwards, on error too (a tmpfs is
//! unmounted). Needs root and LXC.

use super::Report;
use crate::util::{self, measure, output, run};
use anyhow::{bail, Context, Result};
use std::collections::{HashSet, VecDeque};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The line the provisioning script prints first.
const MARKER: &str = "vimage-bench-first-line";
/// Bytes of /usr/lib/x86_64-linux-gnu (hardlinks counted once) copied into the base, on top
/// of busybox: at least this much, at most [`LIB_SLACK`] more (bigger entries are skipped).
const LIB_BYTES: u64 = 200_000_000;
const LIB_SLACK: u64 = 20_000_000;
const LIB_DIR: &str = "usr/lib/x86_64-linux-gnu";
/// Timed runs of `vimage build` per place (each packs the whole base).
const LATENCY_REPS: usize = 5;
/// Timed runs of the bare lxc-execute per place (a few ms each).
const BARE_REPS: usize = 11;
/// Runs of vpack and `tar -czf` per place; Python's tarfile (about 4x slower) runs once.
const PACK_REPS: usize = 3;
const PYTHON_TARFILE: &str = "import tarfile,sys; t=tarfile.open(sys.argv[2],'w:gz'); \
                              t.add(sys.argv[1], arcname='.'); t.close()";

/// A folder removed with everything in it on drop; with `tmpfs`, a tmpfs is mounted on it
/// first and unmounted on drop.
struct Scratch {
    dir: PathBuf,
    mounted: bool,
}

impl Scratch {
    fn new(dir: PathBuf, tmpfs: bool) -> Result<Scratch> {
        if dir.exists() {
            bail!("{} exists already: remove it first", dir.display());
        }
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut scratch = Scratch {
            dir,
            mounted: false,
        };
        if tmpfs {
            run(Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=4g", "tmpfs"])
                .arg(&scratch.dir))?;
            scratch.mounted = true;
        }
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
            eprintln!(
                "bench image: cannot unmount the tmpfs on {}",
                self.dir.display()
            );
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("bench image: cannot remove {}: {e}", self.dir.display());
        }
    }
}

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
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!("bench image needs root (LXC containers and a tmpfs mount)");
    }
    let tools = build_tools()?;
    // Other work on the machine takes cores from vpack first (it uses them all): say so.
    if let Ok(load) = fs::read_to_string("/proc/loadavg") {
        eprintln!("bench image: load average before: {}", load.trim());
    }
    let pid = std::process::id();
    let tmpfs = Scratch::new(
        std::env::temp_dir().join(format!("vr-bench-image-{pid}")),
        true,
    )?;
    // The target dir, not /tmp, which is a tmpfs on some systems.
    let disk = Scratch::new(
        util::target_dir().join(format!("vr-bench-image-{pid}")),
        false,
    )?;
    if is_tmpfs(&disk.dir)? {
        eprintln!(
            "bench image: warning: {} is on a tmpfs; the figures labelled `disk` are not",
            disk.dir.display()
        );
    }
    let (base, tree_bytes) = make_base(&tmpfs.dir)?;
    let base_bytes = size(&base)?;
    report.figure(
        "base: busybox + /usr/lib subset, uncompressed",
        mb(tree_bytes),
        format!("tar -czf {}", mb(base_bytes)),
        None,
        ">= 200 MB",
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
        let packed = packing(&place, &built.contents, &tools, report)?;
        report.time(
            &format!("vimage build, whole, trivial script ({})", place.label),
            built.whole,
            "tar -czf",
            packed.tar,
            "-",
        );
        first.get_or_insert((built.out_bytes, packed));
    }
    if let Some((out_bytes, packed)) = first {
        sizes_and_memory(report, out_bytes, base_bytes, &packed);
    }
    Ok(())
}

/// Builds the release binaries and the `vpack` example.
fn build_tools() -> Result<Tools> {
    util::ensure_tools(util::RUNTIME_TOOLS)?;
    util::ensure_tools(&[("python3", "python3"), ("tar", "tar")])?;
    util::build_bins(true)?;
    run(Command::new(env!("CARGO")).current_dir(util::root()).args([
        "build",
        "--release",
        "-p",
        "vimage",
        "--example",
        "vpack",
    ]))?;
    let release = util::target_dir().join("release");
    Ok(Tools {
        vimage: release.join("vimage"),
        vpack: release.join("examples/vpack"),
    })
}

/// Rows for the tarball sizes (the same wherever written) and vpack's memory (on the tmpfs).
fn sizes_and_memory(report: &mut Report, out_bytes: u64, base_bytes: u64, p: &Packed) {
    report.figure(
        "tarball size: vpack vs tar -czf, same tree",
        mb(p.vpack_bytes),
        format!("tar -czf {}", mb(p.tar_bytes)),
        Some(p.vpack_bytes as f64 / p.tar_bytes.max(1) as f64),
        "0.98-1.02",
    );
    report.figure(
        "tarball size: vimage build output vs the base",
        mb(out_bytes),
        format!("tar -czf {}", mb(base_bytes)),
        Some(out_bytes as f64 / base_bytes.max(1) as f64),
        "0.98-1.02",
    );
    for (name, base_rss) in [("tar+gzip", p.tar_rss), ("python tarfile", p.python_rss)] {
        report.figure(
            &format!("vpack peak RSS vs {name} (tmpfs)"),
            format!("{} MiB", p.vpack_rss / 1024),
            format!("{name} {} MiB", base_rss / 1024),
            Some(p.vpack_rss as f64 / base_rss.max(1) as f64),
            "-",
        );
    }
}

/// Makes `dir/base.tar.gz` (with `tar -czf`) from a busybox rootfs plus the first entries of
/// the host's /usr/lib/x86_64-linux-gnu, by name, that add up to [`LIB_BYTES`] (skipping any
/// that would overshoot by more than [`LIB_SLACK`]); returns it and the tree's size in bytes.
/// The tree itself is removed.
fn make_base(dir: &Path) -> Result<(PathBuf, u64)> {
    let root = dir.join("base-tree");
    for sub in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", LIB_DIR] {
        let d = root.join(sub);
        fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let busybox = output(Command::new("sh").args(["-c", "command -v busybox"]))?;
    let busybox = busybox.trim();
    fs::copy(busybox, root.join("bin/busybox"))
        .with_context(|| format!("cannot copy {busybox}"))?;
    for applet in output(Command::new(busybox).arg("--list"))?.lines() {
        if !applet.is_empty() && applet != "busybox" {
            symlink("busybox", root.join("bin").join(applet))
                .with_context(|| format!("cannot link applet {applet}"))?;
        }
    }
    let etc = [
        ("passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ("group", "root:x:0:\n"),
        ("hosts", ""),
        ("resolv.conf", ""),
    ];
    for (name, text) in etc {
        let path = root.join("etc").join(name);
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))
        .context("cannot chmod the base's tmp")?;

    let host = Path::new("/").join(LIB_DIR);
    let mut names: Vec<PathBuf> = fs::read_dir(&host)
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
        .arg(root.join(LIB_DIR))
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
    run(Command::new("tar")
        .args(["--numeric-owner", "-czf"])
        .arg(&base)
        .arg("-C")
        .arg(&root)
        .arg("."))?;
    fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    Ok((base, tree_bytes))
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

/// Medians, sizes and peak RSS (KiB) of the tarball writers.
struct Packed {
    tar: Duration,
    vpack_bytes: u64,
    tar_bytes: u64,
    vpack_rss: u64,
    tar_rss: u64,
    python_rss: u64,
}

/// Packs `tree` with vpack, `tar -czf` and Python's tarfile, interleaved, into new files of
/// `place` (never deleting one before the next write: on a `discard` disk that would slow it).
fn packing(place: &Place, tree: &Path, tools: &Tools, report: &mut Report) -> Result<Packed> {
    let out = place.dir.join("out");
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let (mut vpack, mut tar) = (Vec::new(), Vec::new());
    let (mut vpack_rss, mut tar_rss) = (0, 0);
    let mut python = None;
    for i in 0..PACK_REPS {
        eprintln!(
            "bench image ({}): packing {}/{PACK_REPS}",
            place.label,
            i + 1
        );
        // Every writer starts with no dirty data of another one waiting to be written back
        // (vpack fsyncs its output; tar and Python leave it to the page cache).
        write_back()?;
        let (t, rss) = measure(
            Command::new(&tools.vpack)
                .arg(tree)
                .arg(out.join(format!("vpack-{i}.tar.gz")))
                .stdout(Stdio::null()),
        )?;
        vpack.push(t);
        vpack_rss = vpack_rss.max(rss);
        write_back()?;
        // wait4 counts tar's gzip child too: the peak is the larger of the two.
        let (t, rss) = measure(
            Command::new("tar")
                .arg("-czf")
                .arg(out.join(format!("tar-{i}.tar.gz")))
                .arg("-C")
                .arg(tree)
                .arg("."),
        )?;
        tar.push(t);
        tar_rss = tar_rss.max(rss);
        if python.is_none() {
            write_back()?;
            python = Some(measure(
                Command::new("python3")
                    .args(["-c", PYTHON_TARFILE])
                    .arg(tree)
                    .arg(out.join("python.tar.gz")),
            )?);
        }
    }
    let (vpack, tar) = (median(&mut vpack), median(&mut tar));
    let (python, python_rss) = python.context("python tarfile did not run")?;
    report.time(
        &format!("write tarball: vpack vs tar -czf ({})", place.label),
        vpack,
        "tar -czf",
        tar,
        "<= 0.6",
    );
    report.time(
        &format!("write tarball: vpack vs python tarfile ({})", place.label),
        vpack,
        "python w:gz",
        python,
        "-",
    );
    Ok(Packed {
        tar,
        vpack_bytes: size(&out.join("vpack-0.tar.gz"))?,
        tar_bytes: size(&out.join("tar-0.tar.gz"))?,
        vpack_rss,
        tar_rss,
        python_rss,
    })
}

/// Which output of a command carries the marker.
#[derive(Clone, Copy)]
enum Watch {
    Stdout,
    Stderr,
}

/// Runs `cmd` with the watched output piped (the other discarded) and returns the time from
/// spawn until a line containing [`MARKER`] arrived and until the command ended. Fails unless
/// it exits 0 after printing the marker, showing the last lines it printed.
fn time_to_marker(mut cmd: Command, watch: Watch) -> Result<(Duration, Duration)> {
    cmd.stdin(Stdio::null());
    match watch {
        Watch::Stdout => cmd.stdout(Stdio::piped()).stderr(Stdio::null()),
        Watch::Stderr => cmd.stdout(Stdio::null()).stderr(Stdio::piped()),
    };
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", util::show(&cmd)))?;
    let pipe: Option<Box<dyn Read>> = match watch {
        Watch::Stdout => child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
        Watch::Stderr => child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
    };
    let mut first = None;
    let mut tail = VecDeque::new();
    let read = pipe.map(|pipe| -> std::io::Result<()> {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line)? > 0 {
            let text = String::from_utf8_lossy(&line).into_owned();
            if first.is_none() && text.contains(MARKER) {
                first = Some(start.elapsed());
            }
            tail.push_back(text);
            if tail.len() > 20 {
                tail.pop_front();
            }
            line.clear();
        }
        Ok(())
    });
    if !matches!(read, Some(Ok(()))) {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for {}", util::show(&cmd)))?;
    let total = start.elapsed();
    let tail: String = tail.into_iter().collect();
    match read {
        Some(Ok(())) => {}
        Some(Err(e)) => bail!("cannot read the output of {}: {e}", util::show(&cmd)),
        None => bail!("no pipe to {}", util::show(&cmd)),
    }
    if !status.success() {
        bail!("`{}` failed: {status}\n{tail}", util::show(&cmd));
    }
    let first =
        first.with_context(|| format!("`{}` never printed {MARKER}\n{tail}", util::show(&cmd)))?;
    Ok((first, total))
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

fn size(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len())
}

/// Writes every dirty page back (`sync`), so the next timed run does not pay for another's.
fn write_back() -> Result<()> {
    let status = Command::new("sync").status().context("cannot start sync")?;
    if !status.success() {
        bail!("sync failed: {status}");
    }
    Ok(())
}

fn is_tmpfs(path: &Path) -> Result<bool> {
    Ok(output(Command::new("stat").args(["-f", "-c", "%T"]).arg(path))?.trim() == "tmpfs")
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Bytes as decimal megabytes with one decimal.
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
