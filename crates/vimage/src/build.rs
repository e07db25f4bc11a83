//! The `build` and `shell` flows: base image cached once, a fresh overlay over it for every
//! build, the provisioning script (or a shell) as root in an LXC container on that overlay,
//! and the merged result packed into `<new_image_name>.tar.gz`.

use crate::error::io_err;
pub use crate::error::BuildError;
use crate::ns::{NsError, Overlay};
use crate::pack::{pack_with, PackError, Packed};
use crate::scratch::Scratch;
use crate::signals::Blocked;
use crate::tee::Tee;
use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use vr_fs::Beneath;
use vr_lxc::{ContainerConfig, Execute, Foreground, ForwardTo, IdMap, Outcome, RealSys, Rootfs};
use vr_proc::{ImageConfig, Layout};

/// The folder inside the rootfs that holds the provisioning script and its environment while
/// it runs (removed before packing, and never packed).
pub const WORK_IN_ROOTFS: &str = ".vimage";
/// How the container starts the script: `env` values may hold anything (newlines too), which
/// LXC's `lxc.environment` cannot carry, so they come from a sourced file of quoted exports.
const LAUNCH: &str = ". /.vimage/env.sh && exec /.vimage/provision";
/// The PATH a script gets unless `env` says otherwise.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a finished build wrote.
#[derive(Debug)]
pub struct Built {
    /// The tarball.
    pub packed: Packed,
    /// The log.
    pub log: PathBuf,
    /// `new_image_md5` when it was given and differs from the tarball's md5.
    pub md5_mismatch: Option<String>,
}

/// Progress messages for people (the binary prints them on stderr).
pub trait Report {
    /// One line of progress.
    fn step(&self, line: &str);
    /// The download progress to use for fetches.
    fn progress(&self) -> &dyn vr_fetch::Progress;
}

/// Makes sure the base image is downloaded (md5-checked) and unpacked once in the shared
/// images cache; returns the unpacked folder.
/// The signal that stopped (or came after) the fetch of the base, if any.
fn interrupted() -> Option<nix::sys::signal::Signal> {
    vr_fetch::interrupt::caught().and_then(|s| nix::sys::signal::Signal::try_from(s).ok())
}

/// Fetches the base image into the cache and unpacks it there once. When the binary has
/// called [`vr_fetch::interrupt::install`], Ctrl-C or SIGTERM stops the download or unpack and
/// removes its temp data.
/// The base is unpacked with its owners shifted into `map` (root of the image = the
/// containers' root), and `VR_ROOT` is closed to other host users first.
pub fn ensure_base(
    cfg: &ImageConfig,
    layout: &Layout,
    map: &IdMap,
    report: &dyn Report,
) -> Result<PathBuf, BuildError> {
    vr_lxc::host::secure_root(&layout.root, map)?;
    let tarball = layout.image_tarball(&cfg.base_image_name, &cfg.base_image_url)?;
    let contents = layout.image_contents(&cfg.base_image_name)?;
    let opts = vr_fetch::UnpackOptions {
        shift: Some(vr_fetch::IdShift {
            uid_base: map.host_uid,
            gid_base: map.host_gid,
            count: map.count,
        }),
        ..vr_fetch::UnpackOptions::default()
    };
    let done = vr_fetch::ensure_unpacked(
        &cfg.base_image_url,
        &tarball,
        &contents,
        cfg.base_image_md5.as_deref(),
        &opts,
        report.progress(),
    )
    .map_err(|source| BuildError::Fetch {
        what: format!("base_image_url {}", cfg.base_image_url),
        source,
    })?;
    if let vr_fetch::Unpacked::Ensured {
        fetched,
        unpacked,
        retired,
    } = done
    {
        let how = if fetched.downloaded {
            "fetched"
        } else {
            "verified cached"
        };
        report.step(&format!(
            "{how} base image {} (md5 {})",
            cfg.base_image_url, fetched.md5
        ));
        if unpacked {
            report.step(&format!("unpacked base image into {}", contents.display()));
        }
        if let Some(old) = retired {
            report.step(&format!(
                "the base image unpacked from another tarball stays at {} for builds still                  running on it; remove it once they are done",
                old.display()
            ));
        }
    }
    Ok(contents)
}

/// The container of a build or shell on the merged `rootfs`, in the user namespace `map`, with
/// vr's seccomp profile at `seccomp` but without `no_new_privs` (a provisioning script runs
/// package managers and their setuid helpers): PATH and HOME defaults and TERM passed through
/// (`env` comes on top from [`env_file`]).
fn container(cfg: &ImageConfig, rootfs: &Path, map: IdMap, seccomp: &Path) -> ContainerConfig {
    let mut c = ContainerConfig::new(
        vr_lxc::hostname_for(&cfg.new_image_name),
        Rootfs::Dir(rootfs.to_path_buf()),
        map,
    );
    c.seccomp = Some(seccomp.to_path_buf());
    c.no_new_privs = false;
    c.environment = vec![
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ];
    if let Some(term) = std::env::var("TERM")
        .ok()
        .filter(|t| !t.contains(['\n', '\r', '\0']))
    {
        c.environment.push(("TERM".to_string(), term));
    }
    c
}

/// The `env` of image.yaml as a POSIX sh file of `export KEY='value'` lines: values arrive
/// byte for byte, whatever they hold.
pub fn env_file(cfg: &ImageConfig) -> String {
    cfg.env
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", vr_proc::shell_quote(v)))
        .collect()
}

/// A container name unique on this host for this process.
fn container_name(cfg: &ImageConfig) -> String {
    vr_lxc::hostname_for(&format!(
        "vimage-{}-{}",
        cfg.new_image_name,
        std::process::id()
    ))
}

/// Runs `vimage build`: see the module docs. The tarball and log go to `out_dir`.
pub fn build(
    cfg: &ImageConfig,
    layout: &Layout,
    out_dir: &Path,
    report: &dyn Report,
) -> Result<Built, BuildError> {
    let map = IdMap::for_host(&RealSys)?;
    let base = ensure_base(cfg, layout, &map, report)?;
    // From here on temp data exists: signals wait for a step boundary (see crate::signals).
    let blocked = Blocked::new().map_err(|source| NsError {
        action: "block signals".into(),
        source,
    })?;
    // One that came after the base was in place but before the block.
    if let Some(signal) = interrupted() {
        return Err(BuildError::Interrupted(signal));
    }
    let scratch = Scratch::new(layout, &cfg.base_image_name, &base, &map)?;
    let result = build_in(cfg, &base, &scratch, &map, out_dir, report, &blocked);
    let cleanup = scratch.remove();
    // A signal that came during the last steps: the image is complete (or the error above
    // is reported); swallow it so it does not kill us before we say so.
    let _late = blocked.take_pending();
    let built = result?;
    cleanup?;
    Ok(built)
}

fn fetch_script(
    cfg: &ImageConfig,
    scratch: &Scratch,
    report: &dyn Report,
) -> Result<PathBuf, BuildError> {
    let dest = scratch.path("script");
    vr_fetch::ensure_with(&cfg.script_url, &dest, None, report.progress()).map_err(|source| {
        BuildError::Fetch {
            what: format!("script_url {}", cfg.script_url),
            source,
        }
    })?;
    Ok(dest)
}

fn build_in(
    cfg: &ImageConfig,
    base: &Path,
    scratch: &Scratch,
    map: &IdMap,
    out_dir: &Path,
    report: &dyn Report,
    blocked: &Blocked,
) -> Result<Built, BuildError> {
    let stop_if_signalled = || {
        blocked
            .take_pending()
            .map_or(Ok(()), |s| Err(BuildError::Interrupted(s)))
    };
    let script = fetch_script(cfg, scratch, report)?;
    stop_if_signalled()?;
    let log_path = out_dir.join(format!("{}.log", cfg.new_image_name));
    let out = out_dir.join(format!("{}.tar.gz", cfg.new_image_name));
    let overlay = Overlay::mount(
        &[base.to_path_buf()],
        &scratch.path("upper"),
        &scratch.path("work"),
        &scratch.path("rootfs"),
    )?;
    let rootfs = overlay.path().to_path_buf();
    // The base (and then the script) decides what is in the merged tree: every write there
    // goes through a handle that follows no link.
    let tree = Beneath::open(&rootfs)?;
    let work = Path::new(WORK_IN_ROOTFS);
    tree.ensure_dir(work, 0o700, Some(map.root()))?;
    let script_bytes = fs::read(&script).map_err(io_err("read", &script))?;
    tree.write_file(
        &work.join("provision"),
        &script_bytes,
        0o700,
        Some(map.root()),
    )?;
    tree.write_file(
        &work.join("env.sh"),
        env_file(cfg).as_bytes(),
        0o600,
        Some(map.root()),
    )?;
    let launch = vec!["/bin/sh".to_string(), "-c".to_string(), LAUNCH.to_string()];
    let outcome = run_container(cfg, scratch, &rootfs, map, Some(&log_path), launch, report);
    tree.remove_tree(work)?;
    let outcome = outcome?;
    if outcome != Outcome::Exited(0) {
        return Err(BuildError::ScriptFailed {
            script: cfg.script_url.clone(),
            outcome,
        });
    }
    stop_if_signalled()?;
    report.step(&format!("packing {}", out.display()));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let caught = Cell::new(None);
    let cancel = || {
        if caught.get().is_none() {
            caught.set(blocked.take_pending());
        }
        caught.get().is_some()
    };
    let exclude = [PathBuf::from(WORK_IN_ROOTFS)];
    let packed = match pack_with(&rootfs, &out, &exclude, threads, Some(*map), &cancel) {
        Err(PackError::Cancelled) => {
            let signal = caught.get().unwrap_or(nix::sys::signal::Signal::SIGTERM);
            return Err(BuildError::Interrupted(signal));
        }
        other => other?,
    };
    overlay.unmount()?;
    let md5_mismatch = cfg
        .new_image_md5
        .as_ref()
        .filter(|want| !want.eq_ignore_ascii_case(&packed.md5))
        .cloned();
    Ok(Built {
        packed,
        log: log_path,
        md5_mismatch,
    })
}

/// Runs the container on `rootfs` with `command`; with `log`, its output (stdout and stderr
/// together) streams to our stderr and into the log file; without, stdio is inherited.
fn run_container(
    cfg: &ImageConfig,
    scratch: &Scratch,
    rootfs: &Path,
    map: &IdMap,
    log: Option<&Path>,
    command: Vec<String>,
    report: &dyn Report,
) -> Result<Outcome, BuildError> {
    let version = vr_lxc::detect_version(&RealSys)?;
    let cgroups = vr_lxc::CgroupHost::detect(&RealSys)?;
    let seccomp = scratch.path("seccomp");
    fs::write(&seccomp, vr_lxc::SECCOMP_PROFILE).map_err(io_err("write", &seccomp))?;
    let c = container(cfg, rootfs, *map, &seccomp);
    let text = vr_lxc::render(&c, &version, &cgroups)?;
    let config = scratch.path("container.lxc");
    fs::write(&config, &text).map_err(io_err("write", &config))?;
    let exec = Execute {
        name: container_name(cfg),
        config,
        // The scratch folder's random name makes LXC's command socket name unguessable.
        lxcpath: Some(scratch.dir().to_path_buf()),
        command: command.into_iter().map(Into::into).collect(),
    };
    let mut cmd = exec.command();
    let marker = vr_lxc::StartMarker::new(scratch.path("started"));
    marker.arm(&mut cmd);
    let tee = match log {
        Some(log) => {
            let tee = Tee::create(log).map_err(io_err("create the log", log))?;
            let (out, err) = tee.child_stdio().map_err(io_err("make a pipe for", log))?;
            cmd.stdin(Stdio::null()).stdout(out).stderr(err);
            Some(tee)
        }
        None => None,
    };
    report.step(&format!(
        "running {} in a container on {}",
        cfg.script_url, cfg.base_image_name
    ));
    let fg = Foreground::spawn(cmd)?;
    // Started after the spawn so that the copying thread inherits the blocked signal mask.
    let copier = tee.map(|t| t.start());
    // A stopped build must end the whole container, background jobs of the script included.
    let outcome = fg.wait_forwarding(&RealSys, ForwardTo::Container);
    let copied = copier.map(|c| c.finish());
    let outcome = outcome?;
    if let (Some(Err(source)), Some(log)) = (copied, log) {
        return Err(BuildError::Io {
            action: "write the log",
            path: log.to_path_buf(),
            source,
        });
    }
    // lxc-execute exits 1 both for a script's `exit 1` and when LXC cannot start at all.
    if let Outcome::Exited(code) = outcome {
        if code != 0 && vr_lxc::reports_start(&text) && !marker.started() {
            return Err(BuildError::NotStarted {
                base: cfg.base_image_name.clone(),
                code,
            });
        }
    }
    Ok(outcome)
}

/// Runs `vimage shell`: the build's container with an interactive shell; nothing is kept.
pub fn shell(
    cfg: &ImageConfig,
    layout: &Layout,
    report: &dyn Report,
) -> Result<Outcome, BuildError> {
    let map = IdMap::for_host(&RealSys)?;
    let base = ensure_base(cfg, layout, &map, report)?;
    let scratch = Scratch::new(layout, &cfg.base_image_name, &base, &map)?;
    let result = (|| {
        let overlay = Overlay::mount(
            std::slice::from_ref(&base),
            &scratch.path("upper"),
            &scratch.path("work"),
            &scratch.path("rootfs"),
        )?;
        let rootfs = overlay.path().to_path_buf();
        let has_bash = Beneath::open(&rootfs)?
            .entry_kind(Path::new("bin/bash"))?
            .is_some();
        let sh = if has_bash { "/bin/bash" } else { "/bin/sh" };
        let outcome = run_container(
            cfg,
            &scratch,
            &rootfs,
            &map,
            None,
            vec![sh.to_string()],
            report,
        );
        overlay.unmount()?;
        outcome
    })();
    let cleanup = scratch.remove();
    let outcome = result?;
    cleanup?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_quotes_every_value() {
        let yaml =
            "base_image_url: b.tar.gz\nbase_image_name: b\nnew_image_name: n\nscript_url: s.sh\n\
                    env:\n  A: \"it's $(id)\"\n  B: \"two\\nlines\"\n";
        let cfg = ImageConfig::parse(Path::new("image.yaml"), yaml).unwrap();
        assert_eq!(
            env_file(&cfg),
            "export A='it'\\''s $(id)'\nexport B='two\nlines'\n"
        );
    }
}
