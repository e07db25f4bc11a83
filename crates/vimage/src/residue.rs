//! What the container's own set-up leaves in a build's tree, taken out again before packing.
//!
//! LXC creates the mount points a container needs when the base lacks them (`create=file`
//! makes an empty mode-000 `/etc/hosts`, `create=dir` an empty `/proc`), and vimage adds its
//! work folder `/.vimage` for the script's run; the folders holding them get new mtimes. An
//! image must be what the base was plus what the script did, so after the script:
//!
//! - each mount target the base lacked is removed when it is still what LXC made (an empty
//!   file or an empty folder), and so are the folders above it that the base lacked and that
//!   are now empty;
//! - each folder on the way (and the root) whose names are again exactly the base's gets the
//!   base's mtime back.
//!
//! What the base had is never touched, and neither is anything the script put there (a
//! non-empty file or folder stays). Both trees are read through [`Beneath`]: the merged tree
//! was shaped by the script and the base by the image's author, and no link is followed.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use vr_fs::{Beneath, Kind};

/// The paths (relative to the rootfs) a container of this LXC `config` mounts on: every
/// `lxc.mount.entry` target (octal escapes undone), and `dev`, where `lxc.autodev` mounts its
/// tmpfs.
pub fn mount_targets(config: &str) -> Vec<PathBuf> {
    let mut targets = vec![PathBuf::from("dev")];
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "lxc.mount.entry" {
            continue;
        }
        if let Some(target) = value.split_whitespace().nth(1) {
            let target = unescape(target);
            let rel: PathBuf = Path::new(&target)
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect();
            if !rel.as_os_str().is_empty() && !targets.contains(&rel) {
                targets.push(rel);
            }
        }
    }
    targets
}

/// `\040`-style octal escapes of a mount entry field, undone.
fn unescape(field: &str) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let n = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |n, b| n * 8 + u32::from(b - b'0'));
            if let Ok(b) = u8::try_from(n) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    OsString::from_vec(out)
}

/// Takes the residue of the container's set-up out of `merged` (the build's tree after the
/// script) by comparing with `base` (the tree it started from): see the module docs. `targets`
/// are [`mount_targets`]; `work` is vimage's own folder (already removed). Returns the paths
/// it removed.
pub fn clear(
    merged: &Beneath,
    base: &Beneath,
    targets: &[PathBuf],
    work: &Path,
) -> vr_fs::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    // Folders whose listing may have changed: the root (the work folder came and went) and
    // the parents of every target.
    let mut touched: BTreeSet<PathBuf> = BTreeSet::new();
    // The mtimes of folders before this removed anything from them.
    let mut before: BTreeMap<PathBuf, (i64, i64)> = BTreeMap::new();
    let mut remove = |path: &Path, removed: &mut Vec<PathBuf>| -> vr_fs::Result<()> {
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let std::collections::btree_map::Entry::Vacant(slot) = before.entry(parent) {
            if let Some(m) = merged.metadata(slot.key())? {
                slot.insert(m.mtime);
            }
        }
        merged.remove_tree(path)?;
        removed.push(path.to_path_buf());
        Ok(())
    };
    touched.insert(PathBuf::new());
    if let Some(p) = work.parent() {
        touched.insert(p.to_path_buf());
    }
    for target in targets {
        let mut path = target.clone();
        // A link on the way (in either tree) is not LXC's doing: leave it all alone.
        while let Ok(None) = base.metadata(&path) {
            let Ok(now) = merged.metadata(&path) else {
                break;
            };
            let stub = match now {
                None => true, // gone already, or never made: look further up
                Some(m) if m.kind == Kind::File && m.size == 0 => {
                    remove(&path, &mut removed)?;
                    true
                }
                Some(m) if m.kind == Kind::Dir && merged.open_dir(&path)?.names()?.is_empty() => {
                    remove(&path, &mut removed)?;
                    true
                }
                Some(_) => false, // the script's: kept
            };
            let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if !stub {
                break;
            }
            touched.insert(parent.clone());
            if parent.as_os_str().is_empty() {
                break;
            }
            path = parent;
        }
        if let Some(parent) = target.parent() {
            touched.insert(parent.to_path_buf());
        }
    }
    // Deepest first, so that restoring a child's mtime comes before looking at its parent
    // (setting a folder's mtime does not change its parent's).
    for dir in touched.iter().rev() {
        let (Ok(Some(b)), Ok(Some(m))) = (base.metadata(dir), merged.metadata(dir)) else {
            continue;
        };
        if b.kind != Kind::Dir || m.kind != Kind::Dir {
            continue;
        }
        let same = base
            .open_dir_or_self(dir)
            .and_then(|b| same_names(&b, &merged.open_dir_or_self(dir)?));
        // The base's names again: the base's mtime. Else the one it had before this removed
        // anything (the script's change).
        let want = match (same, before.get(dir)) {
            (Ok(true), _) => b.mtime,
            (_, Some(t)) => *t,
            _ => continue,
        };
        if want != m.mtime {
            merged.set_mtime(dir, want)?;
        }
    }
    Ok(removed)
}

/// Whether two folders hold the same names.
fn same_names(a: &Beneath, b: &Beneath) -> vr_fs::Result<bool> {
    let set =
        |d: &Beneath| -> vr_fs::Result<BTreeSet<OsString>> { Ok(d.names()?.into_iter().collect()) };
    Ok(set(a)? == set(b)?)
}

/// [`Beneath::open_dir`], or a handle on the root itself for the empty path.
trait OpenDirOrSelf {
    fn open_dir_or_self(&self, rel: &Path) -> vr_fs::Result<Beneath>;
}

impl OpenDirOrSelf for Beneath {
    fn open_dir_or_self(&self, rel: &Path) -> vr_fs::Result<Beneath> {
        if rel.as_os_str().is_empty() {
            Beneath::open(self.path())
        } else {
            self.open_dir(rel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, MetadataExt};

    #[test]
    fn targets_come_from_the_mount_entries() {
        let config = "lxc.autodev = 1\n\
                      lxc.mount.entry = proc proc proc ro,nodev,create=dir 0 0\n\
                      lxc.mount.entry = /etc/hosts etc/hosts none bind,ro,create=file 0 0\n\
                      lxc.mount.entry = /srv/a\\040b data\\040dir none bind,create=dir 0 0\n\
                      lxc.mount.entry = /x /../../y none bind 0 0\n\
                      lxc.rootfs.path = dir:/r\n";
        assert_eq!(
            mount_targets(config),
            ["dev", "proc", "etc/hosts", "data dir", "y"]
                .iter()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        );
    }

    fn mtime(p: &Path) -> i64 {
        fs::symlink_metadata(p).unwrap().mtime()
    }

    #[test]
    fn what_the_container_made_goes_and_what_the_base_had_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let (base, merged) = (tmp.path().join("base"), tmp.path().join("merged"));
        for t in [&base, &merged] {
            fs::create_dir_all(t.join("etc")).unwrap();
            fs::create_dir_all(t.join("dev")).unwrap();
            fs::write(t.join("etc/passwd"), "root\n").unwrap();
            fs::write(t.join("etc/resolv.conf"), "").unwrap();
        }
        // What LXC made in the merged tree: stubs the base lacked.
        fs::write(merged.join("etc/hosts"), "").unwrap();
        fs::create_dir_all(merged.join("sys/fs/cgroup")).unwrap();
        fs::create_dir(merged.join("proc")).unwrap();
        // The script's: a mount target with content, and a new file beside one.
        fs::create_dir(merged.join("data")).unwrap();
        fs::write(merged.join("data/kept"), "x").unwrap();
        let b = Beneath::open(&base).unwrap();
        let m = Beneath::open(&merged).unwrap();
        for (t, when) in [(&base, 1_000_000), (&merged, 2_000_000)] {
            let h = Beneath::open(t).unwrap();
            for d in ["", "etc", "dev"] {
                h.set_mtime(Path::new(d), (when, 0)).unwrap();
            }
        }
        let targets = mount_targets(
            "lxc.mount.entry = proc proc proc create=dir 0 0\n\
             lxc.mount.entry = /sys sys none rbind,create=dir 0 0\n\
             lxc.mount.entry = tmpfs sys/fs/cgroup tmpfs ro 0 0\n\
             lxc.mount.entry = /etc/hosts etc/hosts none bind,create=file 0 0\n\
             lxc.mount.entry = /etc/resolv.conf etc/resolv.conf none bind,create=file 0 0\n\
             lxc.mount.entry = /srv data none bind,create=dir 0 0\n",
        );
        let mut removed = clear(&m, &b, &targets, Path::new(".vimage")).unwrap();
        removed.sort();
        assert_eq!(
            removed,
            ["etc/hosts", "proc", "sys", "sys/fs", "sys/fs/cgroup"]
                .iter()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        );
        assert!(merged.join("etc/resolv.conf").is_file());
        assert_eq!(fs::read(merged.join("data/kept")).unwrap(), b"x");
        // etc holds the base's names again: the base's mtime. dev (a mount target the base
        // had: LXC mounts over it) and the root (which holds the script's `data` now) keep
        // theirs.
        assert_eq!(mtime(&merged.join("etc")), 1_000_000);
        assert_eq!(mtime(&merged.join("dev")), 2_000_000);
        assert_eq!(mtime(&merged), 2_000_000);
    }

    #[test]
    fn no_link_is_followed_out_of_either_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let (base, merged, host) = (
            tmp.path().join("base"),
            tmp.path().join("merged"),
            tmp.path().join("host"),
        );
        for d in [&base, &merged, &host] {
            fs::create_dir(d).unwrap();
        }
        fs::create_dir(host.join("hosts-dir")).unwrap();
        fs::write(host.join("empty"), "").unwrap();
        // The script made etc a link to a host folder holding an empty `hosts`.
        fs::write(host.join("hosts"), "").unwrap();
        symlink(&host, merged.join("etc")).unwrap();
        let targets = mount_targets("lxc.mount.entry = /etc/hosts etc/hosts none bind 0 0\n");
        let b = Beneath::open(&base).unwrap();
        let m = Beneath::open(&merged).unwrap();
        assert_eq!(
            clear(&m, &b, &targets, Path::new(".vimage")).unwrap(),
            Vec::<PathBuf>::new()
        );
        assert!(host.join("hosts").is_file());
        assert!(fs::symlink_metadata(merged.join("etc"))
            .unwrap()
            .is_symlink());
        assert!(host.join("empty").is_file());
    }
}
