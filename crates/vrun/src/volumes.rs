//! A proc's volumes: host folders bound read-write into its container, checked so that no
//! container and no host user can redirect one (swap part of its path for a link) and none
//! reaches VR_ROOT.

use crate::container::Proc;
use anyhow::{bail, Context, Result};
use std::path::Path;
use vr_lxc::IdMap;

/// A volume must neither lie inside VR_ROOT nor contain it (`/`, `/srv` for `/srv/vr`): through
/// it the proc's root (the same host uid for every proc) would reach other procs' layers and
/// the shared images. Both paths are canonical (no links, no `..`).
pub fn volume_problem(host: &Path, vr_root: &Path) -> Option<&'static str> {
    if host.starts_with(vr_root) {
        Some("lies inside VR_ROOT")
    } else if vr_root.starts_with(host) {
        Some("contains VR_ROOT")
    } else {
        None
    }
}

/// Checks that the host folder `host` of a volume can be bound without anyone redirecting it
/// between this check and LXC's mount: every folder from `/` down is a real folder (no
/// symlink); every folder above the volume is root's and writable by nobody else (or sticky,
/// with the next folder root's), so no container and no host user can swap a part of the
/// path for a link (a proc with a volume on the parent folder could); the volume neither lies
/// inside `vr_root` (canonical) nor contains it; and the containers' root can reach it.
pub fn check_volume_source(host: &Path, vr_root: &Path, map: &IdMap) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut parts: Vec<&Path> = host.ancestors().collect();
    parts.reverse();
    let last = parts.len().saturating_sub(1);
    let stat = |p: &Path| {
        std::fs::symlink_metadata(p)
            .with_context(|| format!("the host folder {} is missing", p.display()))
    };
    for (i, part) in parts.iter().enumerate() {
        let meta = stat(part)?;
        if meta.file_type().is_symlink() {
            bail!(
                "{} is a symlink: a volume's host path must be made of real folders",
                part.display()
            );
        }
        if !meta.is_dir() {
            bail!("{} is not a folder", part.display());
        }
        if i == last {
            break;
        }
        if meta.uid() != 0 {
            bail!(
                "{} belongs to uid {}: every folder above a volume must be root's, or its owner could swap the volume for a link",
                part.display(),
                meta.uid()
            );
        }
        if meta.mode() & 0o022 != 0 {
            let next = parts[i + 1];
            if meta.mode() & 0o1000 == 0 {
                bail!(
                    "{} is writable by others (mode {:o}): every folder above a volume must be writable by root alone, or anyone could swap the volume for a link",
                    part.display(),
                    meta.mode() & 0o7777
                );
            }
            let next_owner = stat(next)?.uid();
            if next_owner != 0 {
                bail!(
                    "{} belongs to uid {next_owner} and lies in the sticky, world-writable {}: it must be root's, or its owner could swap it for a link",
                    next.display(),
                    part.display()
                );
            }
        }
    }
    if let Some(problem) = volume_problem(host, vr_root) {
        bail!(
            "the host folder {} {problem} ({}): the proc could reach other procs' files",
            host.display(),
            vr_root.display()
        );
    }
    vr_lxc::host::check_reachable(host, map)?;
    Ok(())
}

/// [`check_volume_source`] for every volume of the proc's current proc.yaml.
pub fn check_volumes(proc: &Proc, map: &IdMap) -> Result<()> {
    let vr_root = std::fs::canonicalize(&proc.layout.root)
        .with_context(|| format!("cannot resolve VR_ROOT {}", proc.layout.root.display()))?;
    for v in &proc.cfg.volumes {
        check_volume_source(&v.host, &vr_root, map)
            .with_context(|| format!("volume {} -> {}", v.host.display(), v.container.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_that_reach_vr_root_are_refused() {
        let root = Path::new("/srv/vr");
        let cases = [
            ("/srv/data", None),
            ("/srv/vr2", None),
            ("/data/srv/vr", None),
            ("/", Some("contains VR_ROOT")),
            ("/srv", Some("contains VR_ROOT")),
            ("/srv/vr", Some("lies inside VR_ROOT")),
            ("/srv/vr/procs/other/rootfs", Some("lies inside VR_ROOT")),
        ];
        for (host, want) in cases {
            assert_eq!(volume_problem(Path::new(host), root), want, "{host}");
        }
    }
}
