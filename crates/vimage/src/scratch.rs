//! A build's temporary place: its scratch folder beside the cached base.

use crate::error::{io_err, BuildError};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use vr_proc::Layout;

/// A build's scratch folder beside the cached base (`images/<base>/.build-XXXX/` with `upper/`,
/// `work/`, `rootfs/` and the fetched script): removed, whatever happens, when dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
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
    ) -> Result<Scratch, BuildError> {
        let parent = layout.image_dir(base_image_name)?;
        // Folders on the way to the merged tree: passable by the containers' root alone
        // (LXC mounts the rootfs as that user).
        for dir in [layout.images_dir(), parent.clone()] {
            vr_lxc::host::passage(&dir, map)?;
        }
        let dir = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&parent)
            .map_err(io_err("create a folder in", &parent))?;
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
        Ok(Scratch { dir })
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
