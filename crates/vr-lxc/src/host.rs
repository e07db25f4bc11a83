//! The host side of the user namespace: LXC sets up a container's mounts as the container's
//! root, an unprivileged host uid, so every folder on the way to a layer or a bind source must
//! be searchable by it; and vr's tree (`VR_ROOT`) must be closed to every other host user.

use crate::idmap::IdMap;
use crate::{Error, Result};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The mode of `VR_ROOT`: owner root, group the containers' root group; only host root may
/// list or read it, and only the containers' root (while LXC mounts their layers) may pass
/// through it. Other host users cannot reach anything below.
pub const ROOT_MODE: u32 = 0o710;

/// Whether a folder with `mode`, owner `owner_uid` and group `owner_gid` may be passed through
/// (searched) by a process with uid `uid` and gid `gid` (no supplementary groups).
pub fn searchable_by(mode: u32, owner_uid: u32, owner_gid: u32, uid: u32, gid: u32) -> bool {
    if owner_uid == uid {
        mode & 0o100 != 0
    } else if owner_gid == gid {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

/// Checks that every folder from `/` down to the parent of `path` can be passed through by the
/// containers' root (`map`'s host uid and gid). `path` need not exist.
pub fn check_reachable(path: &Path, map: &IdMap) -> Result<()> {
    let (uid, gid) = map.root();
    let mut ancestors: Vec<&Path> = path.ancestors().skip(1).collect();
    ancestors.reverse();
    for dir in ancestors {
        if dir.as_os_str().is_empty() {
            continue;
        }
        let meta = match fs::metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("stat", dir, e)),
        };
        if !searchable_by(meta.mode(), meta.uid(), meta.gid(), uid, gid) {
            return Err(Error::NotSearchable {
                path: dir.to_path_buf(),
                uid,
                gid,
            });
        }
    }
    Ok(())
}

/// Makes the existing folder `dir` below `VR_ROOT` a passage for the containers' root alone:
/// owner host root, group the containers' root group, mode [`ROOT_MODE`]. (0711 would do for
/// LXC, but a host user whose working directory sat below an older, open `VR_ROOT` could
/// still walk down to an image's setuid files.)
pub fn passage(dir: &Path, map: &IdMap) -> Result<()> {
    let meta = fs::symlink_metadata(dir).map_err(|e| Error::io("stat", dir, e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            "use as a folder",
            dir,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a folder"),
        ));
    }
    if meta.uid() != 0 || meta.gid() != map.host_gid {
        std::os::unix::fs::chown(dir, Some(0), Some(map.host_gid))
            .map_err(|e| Error::io("chown", dir, e))?;
    }
    if meta.mode() & 0o7777 != ROOT_MODE {
        fs::set_permissions(dir, fs::Permissions::from_mode(ROOT_MODE))
            .map_err(|e| Error::io("chmod", dir, e))?;
    }
    Ok(())
}

/// Makes `root` (`VR_ROOT`) a folder owned by host root and the containers' root group, mode
/// [`ROOT_MODE`], and checks that the containers' root can reach it.
pub fn secure_root(root: &Path, map: &IdMap) -> Result<()> {
    check_reachable(root, map)?;
    fs::create_dir_all(root).map_err(|e| Error::io("create", root, e))?;
    passage(root, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searchable_table() {
        let (u, g) = (100_000, 100_000);
        let cases = [
            // (mode, owner uid, owner gid, searchable)
            (0o755, 0, 0, true),
            (0o700, 0, 0, false),
            (0o711, 0, 0, true),
            (0o710, 0, g, true),
            (0o700, 0, g, false),
            (0o700, u, 0, true),
            (0o070, u, g, false), // the owner's bits decide for the owner
            (0o1777, 0, 0, true),
            (0o754, 0, 0, false),
        ];
        for (mode, ou, og, want) in cases {
            assert_eq!(
                searchable_by(mode, ou, og, u, g),
                want,
                "{mode:o} {ou}:{og}"
            );
        }
    }

    #[test]
    fn an_unsearchable_parent_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let closed = tmp.path().join("closed");
        fs::create_dir(&closed).unwrap();
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o700)).unwrap();
        let map = IdMap::DEFAULT;
        let err = check_reachable(&closed.join("vr/root"), &map).unwrap_err();
        let msg = err.to_string();
        // tempdir itself is 0700 too when we are not root-owned; either is named.
        assert!(
            msg.contains("is not searchable by the containers' root (host uid 100000, gid 100000)"),
            "{msg}"
        );
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_reachable(&closed.join("vr/root"), &map).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{} is not", closed.display())),
            "{err}"
        );
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o711)).unwrap();
        check_reachable(&closed.join("vr/root"), &map).unwrap();
    }
}
