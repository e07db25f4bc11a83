//! The host reads `vrun doctor` makes: commands and text files (through vr-lxc's [`Sys`], so
//! vr-lxc's own detection runs on the same seam), file status, free space, the head of a file.
//! [`RealProbe`] reads the host; the tests' `FakeProbe` answers from tables.

use std::io::{self, Read};
use std::path::Path;
use vr_lxc::{RealSys, Sys};

/// What kind of file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A folder.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (only when not following links).
    Symlink,
    /// Anything else (device, socket, fifo).
    Other,
}

/// The status of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Its kind.
    pub kind: Kind,
    /// Permission bits, setuid/setgid/sticky included (`mode & 0o7777`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
}

/// Free space of a file system, as an unprivileged user sees it (`df`'s "Avail").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes available.
    pub bytes: u64,
    /// Inodes available.
    pub inodes: u64,
    /// Inodes in all; 0 when the file system has no fixed count (btrfs, ...).
    pub total_inodes: u64,
}

/// The host reads the checks need.
pub trait Probe {
    /// External commands and text files (vr-lxc's seam).
    fn sys(&self) -> &dyn Sys;
    /// The status of `path`, following a final symlink when `follow` is true.
    fn stat(&self, path: &Path, follow: bool) -> io::Result<Meta>;
    /// Free space of the file system holding `path`.
    fn space(&self, path: &Path) -> io::Result<Space>;
    /// The first `max` bytes (at most) of the file at `path`.
    fn read_head(&self, path: &Path, max: u64) -> io::Result<Vec<u8>>;
}

/// The real host.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealProbe {
    sys: RealSys,
}

impl Probe for RealProbe {
    fn sys(&self) -> &dyn Sys {
        &self.sys
    }

    fn stat(&self, path: &Path, follow: bool) -> io::Result<Meta> {
        use std::os::unix::fs::MetadataExt;
        let meta = if follow {
            std::fs::metadata(path)?
        } else {
            std::fs::symlink_metadata(path)?
        };
        let t = meta.file_type();
        let kind = if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else if t.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        };
        Ok(Meta {
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        })
    }

    fn space(&self, path: &Path) -> io::Result<Space> {
        let s = nix::sys::statvfs::statvfs(path)?;
        // fsblkcnt_t and fsfilcnt_t are u32 on some targets.
        #[allow(clippy::useless_conversion)]
        let space = Space {
            bytes: u64::from(s.blocks_available()).saturating_mul(s.fragment_size()),
            inodes: u64::from(s.files_available()),
            total_inodes: u64::from(s.files()),
        };
        Ok(space)
    }

    fn read_head(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(max)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A host that answers from tables, and a healthy one to break in tests.

    use super::*;
    use crate::doctor::Inputs;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use vr_lxc::FakeSys;

    /// Answers from tables; a path it does not know is NotFound.
    #[derive(Default)]
    pub struct FakeProbe {
        pub sys: FakeSys,
        stats: RefCell<BTreeMap<PathBuf, Meta>>,
        spaces: RefCell<BTreeMap<PathBuf, Space>>,
        heads: RefCell<BTreeMap<PathBuf, Vec<u8>>>,
    }

    fn not_found(path: &Path) -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, path.display().to_string())
    }

    impl FakeProbe {
        /// Sets the status of `path`.
        pub fn set_stat(&self, path: &str, kind: Kind, mode: u32, uid: u32, gid: u32) {
            self.stats.borrow_mut().insert(
                PathBuf::from(path),
                Meta {
                    kind,
                    mode,
                    uid,
                    gid,
                },
            );
        }

        /// Removes `path`.
        pub fn remove(&self, path: &str) {
            self.stats.borrow_mut().remove(Path::new(path));
        }

        /// Sets the free space of the file system at `path` (only that exact path answers).
        pub fn set_space(&self, path: &str, bytes: u64, inodes: u64, total_inodes: u64) {
            self.spaces.borrow_mut().insert(
                PathBuf::from(path),
                Space {
                    bytes,
                    inodes,
                    total_inodes,
                },
            );
        }

        /// Sets the bytes of a file (its status too: a 0755 root file).
        pub fn set_bytes(&self, path: &str, bytes: Vec<u8>) {
            self.set_stat(path, Kind::File, 0o755, 0, 0);
            self.heads.borrow_mut().insert(PathBuf::from(path), bytes);
        }
    }

    impl Probe for FakeProbe {
        fn sys(&self) -> &dyn Sys {
            &self.sys
        }

        fn stat(&self, path: &Path, _follow: bool) -> io::Result<Meta> {
            self.stats
                .borrow()
                .get(path)
                .copied()
                .ok_or_else(|| not_found(path))
        }

        fn space(&self, path: &Path) -> io::Result<Space> {
            self.spaces
                .borrow()
                .get(path)
                .copied()
                .ok_or_else(|| not_found(path))
        }

        fn read_head(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
            let heads = self.heads.borrow();
            let bytes = heads.get(path).ok_or_else(|| not_found(path))?;
            let n = usize::try_from(max).unwrap_or(usize::MAX).min(bytes.len());
            Ok(bytes[..n].to_vec())
        }
    }

    /// A 64-bit little-endian ELF file with program headers of `types` (3: an interpreter).
    pub fn elf64(types: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56 * types.len()];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&u16::try_from(types.len()).unwrap_or(0).to_le_bytes());
        for (i, t) in types.iter().enumerate() {
            let o = 64 + 56 * i;
            b[o..o + 4].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    pub const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    pub const HYBRID_CGROUPS: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled
cpu\t1\t2\t1
memory\t4\t91\t1
devices\t5\t2\t1
pids\t8\t2\t1
";

    /// This test machine as a fake (Debian 12, LXC 5.0.2, hybrid cgroups, root's range
    /// delegated, VR_ROOT=/apps absent, a static vuptest beside vrun), and its inputs.
    pub fn healthy() -> (FakeProbe, Inputs) {
        let p = FakeProbe::default();
        for dir in ["/", "/usr", "/usr/bin", "/usr/local", "/usr/local/bin"] {
            p.set_stat(dir, Kind::Dir, 0o755, 0, 0);
        }
        p.set_stat("/usr/bin/lxc-execute", Kind::File, 0o755, 0, 0);
        p.sys.set_output("lxc-start", true, "5.0.2\n");
        p.sys.set_output(
            "ldd",
            true,
            "\tliblxc.so.1 => /lib/x86_64-linux-gnu/liblxc.so.1 (0x00007f)\n\
             \tlibseccomp.so.2 => /lib/x86_64-linux-gnu/libseccomp.so.2 (0x00007f)\n",
        );
        p.sys.set_file("/proc/self/mountinfo", HYBRID_MOUNTINFO);
        p.sys.set_file("/proc/cgroups", HYBRID_CGROUPS);
        p.sys
            .set_file("/sys/fs/cgroup/unified/cgroup.controllers", "");
        p.sys
            .set_exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
        p.sys
            .set_file("/proc/filesystems", "nodev\tsysfs\nnodev\toverlay\n");
        p.sys
            .set_file("/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n");
        p.sys.set_file(
            "/proc/self/status",
            "Name:\tvrun\nNoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n",
        );
        p.sys.set_file(
            "/proc/sys/kernel/seccomp/actions_avail",
            "kill_process kill_thread trap errno user_notif trace log allow\n",
        );
        p.sys.set_exists("/proc/self/ns/user");
        p.sys
            .set_file("/proc/sys/user/max_user_namespaces", "96365\n");
        p.sys.set_file(vr_lxc::SUBUID, "root:100000:65536\n");
        p.sys.set_file(vr_lxc::SUBGID, "root:100000:65536\n");
        p.sys.set_exists("/usr/bin/newuidmap");
        p.sys.set_exists("/usr/bin/newgidmap");
        p.set_space("/", 70 << 30, 15_000_000, 16_000_000);
        p.set_bytes("/usr/local/bin/vuptest", elf64(&[6, 1, 1]));
        let inputs = Inputs {
            euid: 0,
            vr_root: PathBuf::from("/apps"),
            path: Some("/usr/local/bin:/usr/bin:/bin".into()),
            idmap_env: None,
            exe: Some(PathBuf::from("/usr/local/bin/vrun")),
            uptester_env: None,
        };
        (p, inputs)
    }
}
