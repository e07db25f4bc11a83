//! A build's temporary place: its scratch folder beside the cached base.

use crate::error::{io_err, BuildError};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use vr_proc::Layout;

/// A build's scratch folder beside the cached base (`images/<base>/.build-XXXX/` with `upper/`,
/// `work/`, `rootfs/` and the fetched script): removed, whatever happens, when dropped.
pub struct Scratch {
    /// Held shared while the build runs: a scratch folder no one holds is a killed build's.
    _held: vr_fs::DirLock,
    dir: tempfile::TempDir,
}

/// The name prefix of scratch folders.
const PREFIX: &str = ".build-";

/// Removes the scratch folders of builds that were killed (no one holds them), under
/// `parent`; returns what it removed. Call it holding `parent`'s `.build.lock`.
fn sweep(parent: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(parent) else {
        return removed;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry.file_name().to_string_lossy().starts_with(PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if !ours {
            continue;
        }
        if let Ok(Some(_free)) = vr_fs::DirLock::try_exclusive(&path) {
            if fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
        }
    }
    removed
}

impl Scratch {
    /// A new scratch folder for a build on the unpacked `base`: the fresh upper layer gets
    /// the owner and mode of the base's root folder (the merged root shows the upper's), and
    /// every folder on the way is searchable by the containers' root.
    pub(crate) fn new(
        layout: &Layout,
        base_image_name: &str,
        base: &Path,
        map: &vr_lxc::IdMap,
        report: &dyn crate::build::Report,
    ) -> Result<Scratch, BuildError> {
        let parent = layout.image_dir(base_image_name)?;
        // Folders on the way to the merged tree: passable by the containers' root alone
        // (LXC mounts the rootfs as that user).
        for dir in [layout.images_dir(), parent.clone()] {
            vr_lxc::host::passage(&dir, map)?;
        }
        // Sweeping and making a new scratch folder under one lock, so a sweep never takes a
        // folder that is about to be held.
        let lock_file = parent.join(".build.lock");
        let lock =
            vr_fetch::EntryLock::acquire(&lock_file).map_err(|source| BuildError::Fetch {
                what: format!("lock {}", lock_file.display()),
                source,
            })?;
        for old in sweep(&parent) {
            report.step(&format!(
                "removed {}, left by a build that was killed",
                old.display()
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir_in(&parent)
            .map_err(io_err("create a folder in", &parent))?;
        let held = vr_fs::DirLock::shared(dir.path()).map_err(io_err("lock", dir.path()))?;
        drop(lock);
        vr_lxc::host::passage(dir.path(), map)?;
        for sub in ["upper", "work", "rootfs"] {
            let p = dir.path().join(sub);
            fs::create_dir(&p).map_err(io_err("create", &p))?;
        }
        let root = fs::metadata(base).map_err(io_err("stat", base))?;
        let upper = dir.path().join("upper");
        std::os::unix::fs::chown(&upper, Some(root.uid()), Some(root.gid()))
            .map_err(io_err("chown", &upper))?;
        fs::set_permissions(&upper, fs::Permissions::from_mode(root.mode() & 0o7777))
            .map_err(io_err("chmod", &upper))?;
        Ok(Scratch { _held: held, dir })
    }

    /// The scratch folder itself.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    pub(crate) fn remove(self) -> Result<(), BuildError> {
        let path = self.dir.path().to_path_buf();
        self.dir.close().map_err(io_err("remove", &path))
    }
}
