//! The build's private mount namespace and its overlay.
//!
//! `vimage` moves itself into a mount namespace of its own (mounts there are invisible to the
//! host and vanish when the process ends, however it ends), and mounts the overlay of a fresh
//! upper layer on the cached base image there. The container then gets that merged folder as a
//! plain rootfs, and the packer reads the same merged view afterwards.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::path::{Path, PathBuf};

/// A system call of the namespace set-up failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action}")]
pub struct NsError {
    /// What was being done, with the paths involved.
    pub action: String,
    /// The cause.
    #[source]
    pub source: nix::Error,
}

/// Moves this process into a new mount namespace whose mounts do not propagate to the host.
/// Call it from the main thread before other threads start.
pub fn private_mount_namespace() -> Result<(), NsError> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|source| NsError {
        action: "create a private mount namespace (vimage must run as root)".into(),
        source,
    })?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|source| NsError {
        action: "make / a private mount in the new namespace".into(),
        source,
    })
}

/// The overlay options for `lowers` (topmost first) under `upper` with `work`.
pub fn overlay_options(lowers: &[PathBuf], upper: &Path, work: &Path) -> String {
    let lower: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    )
}

/// An overlay mounted at `target`, unmounted (lazily, so a stray open file cannot keep it) on
/// drop.
pub struct Overlay {
    target: PathBuf,
    mounted: bool,
}

impl Overlay {
    /// Mounts `lowers` (topmost first) under `upper` at `target`, `work` as the work dir.
    pub fn mount(
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<Overlay, NsError> {
        let options = overlay_options(lowers, upper, work);
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .map_err(|source| NsError {
            action: format!("mount an overlay at {} ({options})", target.display()),
            source,
        })?;
        Ok(Overlay {
            target: target.to_path_buf(),
            mounted: true,
        })
    }

    /// The merged folder.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Unmounts it now, reporting a failure.
    pub fn unmount(mut self) -> Result<(), NsError> {
        self.mounted = false;
        umount2(&self.target, MntFlags::MNT_DETACH).map_err(|source| NsError {
            action: format!("unmount {}", self.target.display()),
            source,
        })
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if self.mounted {
            let _ = umount2(&self.target, MntFlags::MNT_DETACH);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_list_lowers_topmost_first() {
        let o = overlay_options(
            &[PathBuf::from("/a/proc"), PathBuf::from("/a/image")],
            Path::new("/t/upper"),
            Path::new("/t/work"),
        );
        assert_eq!(
            o,
            "lowerdir=/a/proc:/a/image,upperdir=/t/upper,workdir=/t/work"
        );
    }
}
