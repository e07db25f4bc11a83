//! `vrun setup` and `vrun teardown`.
//!
//! Setup is atomic. Everything that can fail (the image, the build, the user, the Procfile,
//! the volumes, the rendered files) is prepared first, the new build unpacked into a staging
//! folder in the proc's folder, while the proc's previous setup stays as it was. Only then is
//! it committed: the build swapped in with one rename, the layer's files and then the LXC
//! config rewritten; a failure in the commit puts back what it had changed. So a failed first
//! setup leaves nothing, and a failed re-setup leaves the previous setup runnable; the error
//! says which.
//!
//! The steps live in submodules: `layer` decides the layer's files (pure, over the [`Host`]
//! seam), `prepare` fetches and unpacks the image and the build and makes the plan, `commit`
//! puts it all in place or back.

mod commit;
mod layer;
mod prepare;

pub use layer::{layer_outdated, plan, Host, LayerFile, Plan, PlanInputs, RealHost};

use crate::container::{self, Proc};
use crate::lock::{self, Use};
use crate::{Exit, Failure};
use anyhow::{Context, Result};
use prepare::do_setup;
use std::path::Path;

/// Sets up the proc of `file` (idempotent).
pub fn setup(file: &Path) -> Result<Exit, Failure> {
    let proc = Proc::load(file)?;
    // Keys missing or settings that cannot be written: an error before anything is created
    // (locking makes the proc's folder).
    let keys = proc.cfg.setup_keys().map_err(anyhow::Error::from)?;
    let settings = vr_proc::settings_yaml(&proc.cfg.settings)
        .with_context(|| proc.cfg.file.display().to_string())?;
    let map = container::host_idmap()?;
    container::check_numeric_ids(&proc.cfg, &map)?;
    // VR_ROOT closed to other host users; only the containers' root may pass through it.
    vr_lxc::host::secure_root(&proc.layout.root, &map)
        .with_context(|| format!("VR_ROOT {}", proc.layout.root.display()))?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::Create)?;
    // Whether there is a previous setup to keep should this one fail (looked at holding the
    // lock: another setup may have just finished one).
    let first = !proc.paths.lxc_config.exists();
    let failed = |err: anyhow::Error, exit| {
        let kept = if first {
            let _ = std::fs::remove_dir_all(&proc.paths.dir);
            format!("{} was not set up and nothing of it was kept", proc.name)
        } else {
            format!("the previous setup of {} is unchanged", proc.name)
        };
        Failure::Failed(exit, anyhow::anyhow!("{err:#} ({kept})"))
    };
    let _users = lock::users(&proc.paths.dir, &proc.name, Use::Exclusive)
        .map_err(|err| Failure::Failed(Exit::Failed, err))?;
    // Never rewrite the layer under a container that still runs on it.
    container::stop_stale(&proc);
    // Holding both locks, no other vrun works in the folder: what is there of a setup,
    // uptest, shell or run that was killed is leftover.
    sweep_leftovers(&proc.paths.dir);
    // Ctrl-C or SIGTERM stops a download or unpack cleanly (no temp data left) and exits 128+N.
    let stop = vr_stop::Stop::install().context("cannot install signal handlers")?;
    match do_setup(&proc, keys, settings, map, &RealHost, stop) {
        Ok(()) => {
            eprintln!("vrun: {} is set up", proc.name);
            Ok(Exit::Ok)
        }
        Err(err) => Err(failed(err, stop.signal().map_or(Exit::Error, Exit::Signal))),
    }
}

/// The temp folders and files of vrun's own in a proc's folder: a setup's staging, the layer of
/// an uptest or shell, a run's lxcpath and start marker.
pub fn is_leftover(name: &str) -> bool {
    [".setup-", ".uptest-", ".shell-", ".lxc-", ".started-"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Removes what killed vruns left in the proc folder `dir` (see [`is_leftover`]); call it
/// holding the proc's lock and its users lock exclusively.
fn sweep_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !is_leftover(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let removed = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if removed.is_ok() {
            eprintln!(
                "vrun: removed {}, left by a vrun that was killed",
                path.display()
            );
        }
    }
}

/// Removes the proc's folder; nothing to remove is fine. Refused while an uptest or shell of
/// the proc runs.
pub fn teardown(file: &Path) -> Result<Exit, Failure> {
    let proc = Proc::load(file)?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::IfThere)?;
    let _users = lock::users(&proc.paths.dir, &proc.name, Use::Exclusive)
        .map_err(|err| Failure::Failed(Exit::Failed, err))?;
    // Never remove the folder of a container that still runs.
    container::stop_stale(&proc);
    match std::fs::remove_dir_all(&proc.paths.dir) {
        Ok(()) => eprintln!("vrun: removed {}", proc.paths.dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot remove {}", proc.paths.dir.display()))
                .into())
        }
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_vruns_own_temp_names_only() {
        for name in [
            ".setup-Ab12",
            ".uptest-x",
            ".shell-y",
            ".lxc-Zz",
            ".started-42",
        ] {
            assert!(is_leftover(name), "{name}");
        }
        for name in [
            "rootfs",
            "work",
            "proc.lxc",
            "uses",
            "hosts",
            ".users.lock",
            "seccomp",
        ] {
            assert!(!is_leftover(name), "{name}");
        }
    }
}
