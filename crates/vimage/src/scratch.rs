//! A build's temporary places: its scratch folder beside the cached base, and the device nodes
//! the container needs for the run.

use crate::error::{io_err, BuildError};
use std::fs;
use std::path::{Path, PathBuf};
use vr_lxc::RealSys;
use vr_proc::Layout;

/// A build's scratch folder beside the cached base (`images/<base>/.build-XXXX/` with `upper/`,
/// `work/`, `rootfs/` and the fetched script): removed, whatever happens, when dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub(crate) fn new(layout: &Layout, base_image_name: &str) -> Result<Scratch, BuildError> {
        let parent = layout.image_dir(base_image_name)?;
        let dir = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&parent)
            .map_err(io_err("create a folder in", &parent))?;
        for sub in ["upper", "work", "rootfs"] {
            let p = dir.path().join(sub);
            fs::create_dir(&p).map_err(io_err("create", &p))?;
        }
        Ok(Scratch { dir })
    }

    pub(crate) fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    pub(crate) fn remove(self) -> Result<(), BuildError> {
        let path = self.dir.path().to_path_buf();
        self.dir.close().map_err(io_err("remove", &path))
    }
}

/// The device nodes a container needs, made in the merged rootfs for the run and removed
/// afterwards when the base did not have them, so the image holds only what the script made.
pub(crate) struct DevScaffold {
    created: Vec<PathBuf>,
}

impl DevScaffold {
    pub(crate) fn make(rootfs: &Path) -> Result<DevScaffold, BuildError> {
        let dev = rootfs.join("dev");
        let mut candidates = vec![
            dev.clone(),
            dev.join("pts"),
            dev.join("shm"),
            dev.join("ptmx"),
        ];
        candidates.extend(vr_lxc::DEVICE_NODES.iter().map(|n| dev.join(n.name)));
        let missing: Vec<PathBuf> = candidates
            .into_iter()
            .filter(|p| fs::symlink_metadata(p).is_err())
            .collect();
        vr_lxc::create_device_nodes(&RealSys, rootfs)?;
        Ok(DevScaffold { created: missing })
    }

    pub(crate) fn remove(self) {
        // Files first, then folders (deepest first); a folder the script filled stays.
        let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) = self
            .created
            .into_iter()
            .partition(|p| fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false));
        for f in files {
            let _ = fs::remove_file(f);
        }
        let mut dirs = dirs;
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = fs::remove_dir(d);
        }
    }
}
