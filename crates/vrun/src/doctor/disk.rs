//! Room for images, builds and procs: `disk`.

use super::{sh_quote, Check, Inputs, Kind, Probe};

/// `disk` fails with less than this many bytes available where `VR_ROOT` is (1 GiB: an image
/// and a build unpacked, with room for a proc's writes).
pub const MIN_FREE_BYTES: u64 = 1 << 30;

/// `disk` fails with fewer inodes available than this where `VR_ROOT` is (an OS image holds
/// a few thousand files).
pub const MIN_FREE_INODES: u64 = 10_000;

fn size(bytes: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let b = bytes as f64;
    if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else {
        format!("{:.1} MiB", b / MIB)
    }
}

/// `disk`: at least [`MIN_FREE_BYTES`] and [`MIN_FREE_INODES`] available on the file system of
/// `VR_ROOT`, or of its nearest existing folder.
pub fn disk(probe: &dyn Probe, inputs: &Inputs) -> Check {
    const NAME: &str = "disk";
    let root = &inputs.vr_root;
    let Some(dir) = root
        .ancestors()
        .find(|d| probe.stat(d, true).is_ok_and(|m| m.kind == Kind::Dir))
    else {
        return Check::fail(
            NAME,
            format!("no folder of {} exists", root.display()),
            "set VR_ROOT to an absolute path",
        );
    };
    let place = if dir == root.as_path() {
        dir.display().to_string()
    } else {
        format!(
            "{} (VR_ROOT {} is not there yet)",
            dir.display(),
            root.display()
        )
    };
    let space = match probe.space(dir) {
        Ok(s) => s,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read the free space at {place}: {e}"),
                format!("df -h {}", sh_quote(dir)),
            )
        }
    };
    let mut detail = if space.total_inodes == 0 {
        format!(
            "{} free at {place} (no fixed inode count)",
            size(space.bytes)
        )
    } else {
        format!(
            "{} and {} inodes free at {place}",
            size(space.bytes),
            space.inodes
        )
    };
    let mut short = Vec::new();
    if space.bytes < MIN_FREE_BYTES {
        short.push(format!("{} needed", size(MIN_FREE_BYTES)));
    }
    if space.total_inodes > 0 && space.inodes < MIN_FREE_INODES {
        short.push(format!("{MIN_FREE_INODES} inodes needed"));
    }
    if short.is_empty() {
        return Check::pass(NAME, detail);
    }
    detail.push_str(&format!(": {}", short.join(", ")));
    Check::fail(
        NAME,
        detail,
        format!(
            "vrun gc (removes images and tarballs no proc uses), then see df -h {0} and df -i {0}; or set VR_ROOT on a larger file system",
            sh_quote(dir)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::probe::fake::healthy;
    use super::*;

    fn triple(c: Check) -> (bool, String, Option<String>) {
        (c.passed, c.detail, c.fix)
    }

    #[test]
    fn disk_thresholds() {
        let (p, inputs) = healthy();
        let c = disk(&p, &inputs);
        assert_eq!(
            triple(c),
            (
                true,
                "70.0 GiB and 15000000 inodes free at / (VR_ROOT /apps is not there yet)".into(),
                None
            )
        );
        p.set_stat("/apps", Kind::Dir, 0o710, 0, 100_000);
        p.set_space("/apps", MIN_FREE_BYTES - 1, MIN_FREE_INODES - 1, 100_000);
        let c = disk(&p, &inputs);
        assert_eq!(
            triple(c),
            (
                false,
                "1024.0 MiB and 9999 inodes free at /apps: 1.0 GiB needed, 10000 inodes needed".into(),
                Some("vrun gc (removes images and tarballs no proc uses), then see df -h /apps and df -i /apps; or set VR_ROOT on a larger file system".into())
            )
        );
        // Exactly the thresholds pass; no inode count (btrfs) is not a shortage.
        p.set_space("/apps", MIN_FREE_BYTES, MIN_FREE_INODES, 100_000);
        assert!(disk(&p, &inputs).passed);
        p.set_space("/apps", 5 << 30, 0, 0);
        assert_eq!(
            disk(&p, &inputs).detail,
            "5.0 GiB free at /apps (no fixed inode count)"
        );
    }
}
