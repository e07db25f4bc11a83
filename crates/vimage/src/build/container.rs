//! The container of a build or shell: its LXC config and environment, the commands it runs, the
//! work folder written into its tree, and running it.

use super::{Report, DEFAULT_PATH, WORK_IN_ROOTFS};
use crate::error::{io_err, BuildError};
use crate::scratch::Scratch;
use crate::tee::{Log, Tee};
use nix::sys::signal::Signal;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use vr_fs::Beneath;
use vr_lxc::{
    ContainerConfig, Ended, Execute, Foreground, ForwardTo, IdMap, Outcome, RealSys, Rootfs,
};
use vr_proc::ImageConfig;
use vr_stop::Stop;

/// The provisioning script as the container sees it.
const SCRIPT_IN: &str = "/.vimage/provision";

/// The container's command running the script after sourcing its environment: when the
/// script ends, so does everything else in the container. (`env` values may hold anything,
/// newlines too, which LXC's `lxc.environment` cannot carry, so they come from a sourced file
/// of quoted exports.) LXC's init waits for every process of the container, so a daemon the
/// script left behind (one an `apt-get install` started, a `setsid` loop ignoring SIGTERM)
/// would run on, writing into the tree, until [`vr_lxc::Leftovers`] ends the container
/// (SIGTERM once this command has been gone a while, SIGKILL a second later). SIGKILL to -1
/// reaches at once every process of the container's pid namespace but this shell and init
/// (spelt `kill -9 -1`: dash takes no `-s KILL -1`, busybox no `-9 -- -1`). The status is the
/// script's. No signal needs passing on: a build's container is only ever ended whole
/// ([`ForwardTo::EndContainer`]). A script that kills this shell from inside is left to
/// [`vr_lxc::Leftovers`].
pub(super) fn script_launch() -> Vec<String> {
    sh_c(format!(
        ". {WORK_IN}/env.sh && {{ {SCRIPT_IN}; s=$?; kill -9 -1 2>/dev/null; exit $s; }}"
    ))
}

/// The container's command for an interactive shell: the shell is the command itself, so it
/// gets the signals LXC's init passes on (SIGINT) as a shell on a terminal would. What it
/// leaves running is ended once it is gone, as for any container ([`vr_lxc::Leftovers`]).
pub(super) fn shell_launch(before: &str, sh: &str) -> Vec<String> {
    sh_c(format!(". {WORK_IN}/env.sh && {before}exec {sh}"))
}

/// The container's command running the shell code `line`.
fn sh_c(line: String) -> Vec<String> {
    vec!["/bin/sh".to_string(), "-c".to_string(), line]
}
/// [`WORK_IN_ROOTFS`] as the container sees it.
pub(super) const WORK_IN: &str = "/.vimage";

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
    // The reproducible-builds convention: tools in the script (dpkg, pip, gzip -n users)
    // clamp their own timestamps to it. Only a valid value reaches here (build_in checks it).
    if let Some(epoch) = std::env::var(crate::pack::SOURCE_DATE_EPOCH)
        .ok()
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    {
        c.environment
            .push((crate::pack::SOURCE_DATE_EPOCH.to_string(), epoch));
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

/// Writes [`WORK_IN_ROOTFS`] into the merged tree `rootfs` (which the base, and then the
/// script, decides: every write goes through a handle that follows no link): `env.sh`, and
/// the script as `provision` when given. Returns the handle.
pub(super) fn write_work(
    rootfs: &Path,
    cfg: &ImageConfig,
    map: &IdMap,
    script: Option<&[u8]>,
) -> Result<Beneath, BuildError> {
    let tree = Beneath::open(rootfs)?;
    let work = Path::new(WORK_IN_ROOTFS);
    tree.ensure_dir(work, 0o700, Some(map.root()))?;
    if let Some(script) = script {
        tree.write_file(&work.join("provision"), script, 0o700, Some(map.root()))?;
    }
    tree.write_file(
        &work.join("env.sh"),
        env_file(cfg).as_bytes(),
        0o600,
        Some(map.root()),
    )?;
    Ok(tree)
}

/// A container name unique on this host for this process.
fn container_name(cfg: &ImageConfig) -> String {
    vr_lxc::hostname_for(&format!(
        "vimage-{}-{}",
        cfg.new_image_name,
        std::process::id()
    ))
}

/// Runs the container on `rootfs` with `command`; with `log`, its output (stdout and stderr
/// together) streams to our stderr and into the log; without, stdio is inherited.
/// Signals go `to` the container; one that `stop` caught before the start (or in another
/// thread) is forwarded too.
#[allow(clippy::too_many_arguments)] // one private helper of the two flows
pub(super) fn run_container(
    cfg: &ImageConfig,
    scratch: &Scratch,
    rootfs: &Path,
    map: &IdMap,
    log: Option<&mut Log>,
    (what, command): (&str, Vec<String>),
    report: &dyn Report,
    to: ForwardTo,
    stop: Stop,
) -> Result<Ended, BuildError> {
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
    let tee = match log.as_deref() {
        Some(log) => {
            let pipe = |e| io_err("make a pipe for the log", &log.path())(e);
            let tee = Tee::new(log).map_err(pipe)?;
            let (out, err) = tee.child_stdio().map_err(pipe)?;
            cmd.stdin(Stdio::null()).stdout(out).stderr(err);
            Some(tee)
        }
        None => None,
    };
    report.step(&format!("{what} in a container on {}", cfg.base_image_name));
    stop.check()?;
    // From the spawn to the end of the wait this thread blocks the signals and forwards them
    // (see vr_lxc::Foreground).
    let fg = Foreground::spawn(cmd)?;
    // Started after the spawn so that the copying thread inherits the blocked signal mask: a
    // signal sent to vimage then finds no thread but the waiting one to take it.
    let copier = tee.map(|t| t.start());
    let caught = || stop.signal().and_then(|s| Signal::try_from(s).ok());
    let ended = fg.wait_ended(&RealSys, to, &caught);
    let copied = match (copier, log) {
        (Some(copier), Some(log)) => copier
            .finish(log)
            .map_err(|e| io_err("write the log", &log.path())(e)),
        _ => Ok(()),
    };
    let ended = ended?;
    copied?;
    // lxc-execute exits 1 both for a script's `exit 1` and when LXC cannot start at all.
    if let (Outcome::Exited(code), None) = (ended.outcome, ended.forwarded) {
        if code != 0 && vr_lxc::reports_start(&text) && !marker.started() {
            return Err(BuildError::NotStarted {
                base: cfg.base_image_name.clone(),
                code,
            });
        }
    }
    Ok(ended)
}

/// The interactive shell of the tree at `rootfs`: `/bin/bash`, or `/bin/sh` when it has none.
pub(super) fn shell_program(rootfs: &Path) -> Result<&'static str, BuildError> {
    let has_bash = Beneath::open(rootfs)?
        .entry_kind(Path::new("bin/bash"))?
        .is_some();
    Ok(if has_bash { "/bin/bash" } else { "/bin/sh" })
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
