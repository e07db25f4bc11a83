//! `vrun run`, `vrun uptest` and `vrun shell`: a container in the foreground.
//!
//! `vrun run` and what the verbs share (is the proc set up, its image tree held, a throwaway
//! folder in its folder) live here; the rest in submodules: `beside` runs a container beside
//! the proc, `bounded` keeps an uptest container within its [`Bounds`], and `uptest` and
//! `shell` are those verbs.

mod beside;
mod bounded;
mod shell;
mod uptest;

pub use bounded::Bounds;
pub use shell::{shell, shell_for};
pub use uptest::{uptest, uptest_script};

use crate::container::{self, Proc};
use crate::lock;
use crate::{oom, volumes, Exit, Failure};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use vr_lxc::{Execute, RealSys};

fn set_up(proc: &Proc) -> Result<()> {
    if !proc.paths.lxc_config.is_file() || !proc.paths.rootfs.is_dir() {
        bail!(
            "{} is not set up ({} is missing): run `vrun setup {}` first",
            proc.name,
            proc.paths.lxc_config.display(),
            proc.cfg.file.display()
        );
    }
    Ok(())
}

/// Runs the proc in the foreground and exits with its status, holding the proc.yaml lock.
pub fn run(file: &Path) -> Result<Exit, Failure> {
    let not_started = |e: anyhow::Error| Failure::Failed(Exit::NotStarted, e);
    let proc = Proc::load(file).map_err(not_started)?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::IfThere)?;
    set_up(&proc).map_err(not_started)?;
    container::stop_stale(&proc);
    let (config_text, tree) = follow_image(&proc).map_err(not_started)?;
    // Held while the proc runs: `vrun gc` never removes the image under it.
    let _tree = hold(&tree).map_err(not_started)?;
    // Never start a proc of an older vrun's setup: it would run without a user namespace.
    let map = proc.idmap_of_config(&config_text).map_err(not_started)?;
    // LXC names its command socket after the lxcpath: a fresh random one per start, so no
    // one (a proc, a host user) can take the name before it and stop the proc from starting.
    let lxcpath = scratch(&proc, "lxc").map_err(not_started)?;
    vr_lxc::host::passage(lxcpath.path(), &map).map_err(|e| not_started(e.into()))?;
    let execute = Execute {
        name: proc.name.clone(),
        config: proc.paths.lxc_config.clone(),
        lxcpath: Some(lxcpath.path().to_path_buf()),
        command: vec!["/bin/sh".into(), vr_proc::PROC_SH.into()],
    };
    // The volumes again, as they are now: since setup, an app with a volume on a parent
    // folder could have swapped one for a link to anywhere (VR_ROOT among them).
    check_binds(&proc, &config_text, &map).map_err(not_started)?;
    let marker = vr_lxc::StartMarker::new(
        proc.paths
            .dir
            .join(format!(".started-{}", std::process::id())),
    );
    let mut command = execute.command();
    marker.arm(&mut command);
    let mut kernel_log = oom::KernelLog::open_at_end();
    let outcome = vr_lxc::run_foreground(&RealSys, command).map_err(|e| not_started(e.into()))?;
    if let vr_lxc::Outcome::Exited(code) = outcome {
        if code != 0 && vr_lxc::reports_start(&config_text) && !marker.started() {
            return Err(not_started(anyhow::anyhow!(
                "the container of {} did not start (lxc-execute exited {code}; LXC's messages are above)",
                proc.name
            )));
        }
    }
    // Killed (137): by the OOM killer at its limit, or by someone's SIGKILL?
    if outcome.code() == 128 + libc::SIGKILL {
        let limit = proc
            .cfg
            .mem_limit
            .as_deref()
            .or(proc.cfg.memsw_limit.as_deref());
        if let (Some(log), Some(limit)) = (kernel_log.as_mut(), limit) {
            if log
                .new_records()
                .iter()
                .any(|r| oom::is_oom_kill_of(r, &proc.name))
            {
                eprintln!("vrun: {}", oom::message(&proc.name, limit));
            }
        }
    }
    Ok(Exit::Status(outcome.code()))
}

/// The proc's `proc.lxc`, pointed again at the image tree the proc was set up on when that
/// tree has moved aside since (another setup replaced `images/<image_name>/contents`): a proc
/// restarts on its own image, never silently on a new one.
fn follow_image(proc: &Proc) -> Result<(String, PathBuf)> {
    let text = proc.read_config()?;
    let tree = proc.image_tree()?;
    let image_dir = proc.layout.image_dir(proc.cfg.image_name()?)?;
    match crate::pins::with_image_layer(&text, &image_dir, &tree) {
        Some(moved) => {
            container::write_atomic(&proc.paths.lxc_config, &moved, 0o644)?;
            eprintln!(
                "vrun: {}: its image was replaced since setup; it runs on the one it was set up on, kept at {}",
                proc.name,
                tree.display()
            );
            Ok((moved, tree))
        }
        None => Ok((text, tree)),
    }
}

/// Holds the image tree `tree` shared (see [`crate::gc`]).
fn hold(tree: &Path) -> Result<vr_fs::DirLock> {
    vr_fs::DirLock::shared(tree).with_context(|| format!("cannot lock {}", tree.display()))
}

/// [`volumes::check_volume_source`] for every writable bind of a rendered config.
fn check_binds(proc: &Proc, config_text: &str, map: &vr_lxc::IdMap) -> Result<()> {
    let vr_root = std::fs::canonicalize(&proc.layout.root)
        .with_context(|| format!("cannot resolve VR_ROOT {}", proc.layout.root.display()))?;
    for host in vr_lxc::writable_binds(config_text) {
        volumes::check_volume_source(&host, &vr_root, map)
            .with_context(|| format!("volume {}", host.display()))?;
    }
    Ok(())
}

/// A throwaway folder inside the proc's folder (so teardown removes it even if we are
/// killed), holding the upper layer and config of a container beside the proc.
fn scratch(proc: &Proc, what: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!(".{what}-"))
        .tempdir_in(&proc.paths.dir)
        .with_context(|| {
            format!(
                "cannot create a temp folder in {}",
                proc.paths.dir.display()
            )
        })
}
