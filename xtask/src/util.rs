//! Helpers shared by the tasks: running commands, installing system packages, paths.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The workspace root (parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// The target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Runs `cmd`, echoing it to stderr, and fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", show(cmd)))?;
    if !status.success() {
        bail!("`{}` failed: {status}", show(cmd));
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout, failing unless it exits 0.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {}", show(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed: {}\n{}",
            show(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A command line for people.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// True when `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// True when we run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Makes sure each `(tool, debian package)` pair is installed: missing packages are installed
/// with apt-get (saying which) when we are root on a Debian-like system; otherwise stops with a
/// message naming what to install.
pub fn ensure_tools(pairs: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = pairs
        .iter()
        .filter(|(tool, _)| !have(tool) && !Path::new(tool).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || !have("apt-get") {
        bail!(
            "missing system packages: {} (install them as root: apt-get install {})",
            missing.join(" "),
            missing.join(" ")
        );
    }
    eprintln!(
        "xtask: installing missing system packages: {}",
        missing.join(" ")
    );
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        // With recommends: lxc is tested here with them (apparmor, lxcfs, uidmap, ...).
        .args(["install", "-y", "-qq"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

/// Gives root the host ids 100000-165535 in /etc/subuid and /etc/subgid when it has no range
/// there yet: vr's containers map their ids 0-65535 to root's range, and LXC's newuidmap
/// refuses a range root was not given. Says what it added.
pub fn ensure_subids() -> Result<()> {
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let has_root = text
            .lines()
            .any(|l| l.starts_with("root:") || l.starts_with("0:"));
        if has_root {
            continue;
        }
        if !is_root() {
            bail!("root has no range in {file}: add the line `root:100000:65536` to it as root");
        }
        let mut new = text;
        if !new.is_empty() && !new.ends_with('\n') {
            new.push('\n');
        }
        new.push_str("root:100000:65536\n");
        std::fs::write(file, new).with_context(|| format!("cannot write {file}"))?;
        eprintln!(
            "xtask: gave root the host ids 100000-165535 in {file} (for vr's user namespaces)"
        );
    }
    Ok(())
}

/// The packages every flow needs at run time: LXC and busybox for the test images, debootstrap
/// for the Debian base of the apt test, gcc and static glibc for the security probe, dash and
/// PyYAML for the script and settings tests, supervisor for the supervisord test, man-db and
/// dpkg-deb for the package tests, zstd for the `.tar.zst` tests, setcap/getcap, setfacl and
/// setfattr/getfattr for the xattr tests.
pub const RUNTIME_TOOLS: &[(&str, &str)] = &[
    ("lxc-execute", "lxc"),
    ("busybox", "busybox-static"),
    ("debootstrap", "debootstrap"),
    ("gcc", "gcc"),
    ("/usr/lib/x86_64-linux-gnu/libc.a", "libc6-dev"),
    ("dash", "dash"),
    ("jq", "jq"),
    ("supervisord", "supervisor"),
    ("man", "man-db"),
    ("dpkg-deb", "dpkg"),
    ("zstd", "zstd"),
    ("setcap", "libcap2-bin"),
    ("setfacl", "acl"),
    ("setfattr", "attr"),
    (
        "/usr/lib/python3/dist-packages/yaml/__init__.py",
        "python3-yaml",
    ),
];

/// The target triple of this machine's toolchain.
pub const HOST_TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// `cargo` (the one running xtask) in the workspace root.
pub fn cargo() -> Command {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.current_dir(root());
    cargo
}

/// Builds every workspace binary (`release` or debug) and a static `vuptest`, and returns the
/// static vuptest's path. The static build uses its own target dir so its RUSTFLAGS do not
/// invalidate the normal build.
pub fn build_bins(release: bool) -> Result<PathBuf> {
    let mut cargo = cargo();
    cargo.args(["build", "--workspace", "--bins"]);
    if release {
        cargo.arg("--release");
    }
    run(&mut cargo)?;
    build_static_vuptest(release)
}

/// Builds `vuptest` as a statically linked executable (glibc, crt-static) and returns its path.
pub fn build_static_vuptest(release: bool) -> Result<PathBuf> {
    let static_dir = target_dir().join("static");
    let mut cargo = cargo();
    cargo
        .args(["build", "-p", "vuptest", "--target", HOST_TRIPLE])
        .env("CARGO_TARGET_DIR", &static_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    if release {
        cargo.arg("--release");
    }
    run(&mut cargo)?;
    let profile = if release { "release" } else { "debug" };
    Ok(static_dir.join(HOST_TRIPLE).join(profile).join("vuptest"))
}

/// Times one run of `cmd` (stdout/stderr discarded unless inherited by the caller) and returns
/// wall time and peak resident memory in KiB.
pub fn measure(cmd: &mut Command) -> Result<(Duration, u64)> {
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", show(cmd)))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; status and usage point to live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if rc < 0 {
        bail!(
            "wait4 on {} failed: {}",
            show(cmd),
            std::io::Error::last_os_error()
        );
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("`{}` failed (wait status {status})", show(cmd));
    }
    Ok((wall, usage.ru_maxrss as u64))
}

/// Median of `reps` runs of the command made by `make`; returns (median wall, max peak RSS KiB).
pub fn median_of(reps: usize, mut make: impl FnMut() -> Command) -> Result<(Duration, u64)> {
    let mut times = Vec::with_capacity(reps);
    let mut rss = 0;
    for _ in 0..reps {
        let (t, r) = measure(&mut make())?;
        times.push(t);
        rss = rss.max(r);
    }
    Ok((median(&mut times), rss))
}

/// The median wall time of each command of `makers`, run `reps` times in turn (A B C A B C
/// ...), so that drift of the machine (another process, the page cache, CPU clocks) spreads
/// over all of them instead of favouring the one measured first.
pub fn medians_interleaved(
    reps: usize,
    makers: &mut [&mut dyn FnMut() -> Command],
) -> Result<Vec<Duration>> {
    let mut times = vec![Vec::with_capacity(reps); makers.len()];
    for _ in 0..reps {
        for (make, t) in makers.iter_mut().zip(times.iter_mut()) {
            t.push(measure(&mut make())?.0);
        }
    }
    Ok(times.iter_mut().map(|t| median(t)).collect())
}

/// The median of `times` (the upper one of an even count; zero when empty); sorts them.
pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}
