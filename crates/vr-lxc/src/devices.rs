//! The minimal /dev of a container, made as real nodes in its writable layer (the config sets
//! `lxc.autodev = 0`, so this works the same on every LXC version).

use crate::sys::Sys;
use crate::{Error, Result};
use std::path::Path;

/// A character device node of the container's /dev.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceNode {
    /// Name under /dev.
    pub name: &'static str,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
}

/// null, zero, random, urandom and tty; /dev/pts is a devpts mount and /dev/ptmx a link into it.
pub const DEVICE_NODES: &[DeviceNode] = &[
    DeviceNode {
        name: "null",
        major: 1,
        minor: 3,
        mode: 0o666,
    },
    DeviceNode {
        name: "zero",
        major: 1,
        minor: 5,
        mode: 0o666,
    },
    DeviceNode {
        name: "random",
        major: 1,
        minor: 8,
        mode: 0o666,
    },
    DeviceNode {
        name: "urandom",
        major: 1,
        minor: 9,
        mode: 0o666,
    },
    DeviceNode {
        name: "tty",
        major: 5,
        minor: 0,
        mode: 0o666,
    },
];

/// Creates `<rootfs>/dev` with [`DEVICE_NODES`], `pts/`, `shm/` and the `ptmx -> pts/ptmx`
/// link. Entries that already exist are left alone, so running it again is harmless.
pub fn create_device_nodes(sys: &dyn Sys, rootfs: &Path) -> Result<()> {
    let dev = rootfs.join("dev");
    for dir in [dev.clone(), dev.join("pts"), dev.join("shm")] {
        sys.create_dir_all(&dir)
            .map_err(|e| Error::io("create", &dir, e))?;
    }
    for node in DEVICE_NODES {
        let path = dev.join(node.name);
        if !sys.exists(&path) {
            sys.mknod_char(&path, node.mode, node.major, node.minor)
                .map_err(|e| Error::io("create device node", &path, e))?;
        }
    }
    let ptmx = dev.join("ptmx");
    if !sys.exists(&ptmx) {
        sys.symlink(Path::new("pts/ptmx"), &ptmx)
            .map_err(|e| Error::io("create symlink", &ptmx, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    #[test]
    fn makes_the_nodes_once() {
        let sys = FakeSys::default();
        create_device_nodes(&sys, Path::new("/r")).unwrap();
        assert_eq!(
            sys.calls(),
            [
                "mkdir -p /r/dev",
                "mkdir -p /r/dev/pts",
                "mkdir -p /r/dev/shm",
                "mknod /r/dev/null c 1 3 mode 666",
                "mknod /r/dev/zero c 1 5 mode 666",
                "mknod /r/dev/random c 1 8 mode 666",
                "mknod /r/dev/urandom c 1 9 mode 666",
                "mknod /r/dev/tty c 5 0 mode 666",
                "ln -s pts/ptmx /r/dev/ptmx",
            ]
        );
        create_device_nodes(&sys, Path::new("/r")).unwrap();
        let again: Vec<String> = sys.calls().into_iter().skip(9).collect();
        assert_eq!(
            again,
            [
                "mkdir -p /r/dev",
                "mkdir -p /r/dev/pts",
                "mkdir -p /r/dev/shm"
            ]
        );
    }
}
