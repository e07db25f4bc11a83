//! Where the host's memory, devices and pids cgroup controllers live (v1 hierarchy or the unified v2
//! one), read from /proc/self/mountinfo and /proc/cgroups, so the config gets keys that bite.

use crate::sys::Sys;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// A cgroup hierarchy version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// A legacy per-controller hierarchy: `lxc.cgroup.*` keys.
    V1,
    /// The unified hierarchy: `lxc.cgroup2.*` keys.
    V2,
}

/// The host's cgroup controllers that containers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupHost {
    /// Where the memory controller is enabled, if anywhere.
    pub memory: Option<CgroupVersion>,
    /// True when memory+swap limits can be set (v1 `memory.memsw.*`, or v2 `memory.swap.max`).
    pub swap_accounting: bool,
    /// Where the devices controller is (on v2 LXC emulates it with eBPF).
    pub devices: Option<CgroupVersion>,
    /// Where the pids controller is (a proc's process limit).
    pub pids: Option<CgroupVersion>,
}

/// One cgroup file system mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    path: PathBuf,
    version: CgroupVersion,
    /// v1: the controllers in the super options (`rw,memory`).
    options: Vec<String>,
}

fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in mountinfo.lines() {
        // id parent major:minor root mountpoint options [optional..] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mountpoint) = left.split(' ').nth(4) else {
            continue;
        };
        let mut right = right.split(' ');
        let fstype = right.next().unwrap_or_default();
        let superopts = right.nth(1).unwrap_or_default();
        let version = match fstype {
            "cgroup" => CgroupVersion::V1,
            "cgroup2" => CgroupVersion::V2,
            _ => continue,
        };
        mounts.push(CgroupMount {
            path: PathBuf::from(unescape_octal(mountpoint)),
            version,
            options: superopts.split(',').map(str::to_string).collect(),
        });
    }
    mounts
}

/// Undoes the `\ooo` (octal) escapes of space, tab, newline and backslash that mountinfo and
/// fstab-style lines (`lxc.mount.entry`) use.
pub(crate) fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when /proc/cgroups lists `controller` as enabled and attached to a v1 hierarchy.
fn v1_enabled(proc_cgroups: &str, controller: &str) -> bool {
    proc_cgroups.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() >= 4 && f[0] == controller && f[1] != "0" && f[3] == "1"
    })
}

impl CgroupHost {
    /// Decides from the texts of /proc/self/mountinfo and /proc/cgroups, reading the v2
    /// `cgroup.controllers` and the swap accounting files through `sys`.
    pub fn detect_from(sys: &dyn Sys, mountinfo: &str, proc_cgroups: &str) -> CgroupHost {
        let mounts = cgroup_mounts(mountinfo);
        let v1_mount = |controller: &str| {
            mounts.iter().find(|m| {
                m.version == CgroupVersion::V1 && m.options.iter().any(|o| o == controller)
            })
        };
        let v2_controllers: Vec<String> = mounts
            .iter()
            .filter(|m| m.version == CgroupVersion::V2)
            .filter_map(|m| sys.read_to_string(&m.path.join("cgroup.controllers")).ok())
            .flat_map(|t| t.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        let find = |controller: &str| -> Option<(CgroupVersion, Option<&Path>)> {
            if v1_enabled(proc_cgroups, controller) {
                if let Some(m) = v1_mount(controller) {
                    return Some((CgroupVersion::V1, Some(m.path.as_path())));
                }
            }
            if v2_controllers.iter().any(|c| c == controller) {
                return Some((CgroupVersion::V2, None));
            }
            None
        };
        let memory = find("memory");
        let swap_accounting = match memory {
            Some((CgroupVersion::V1, Some(path))) => {
                sys.exists(&path.join("memory.memsw.limit_in_bytes"))
            }
            // cgroup v2 always accounts swap when the memory controller is on.
            Some((CgroupVersion::V2, _)) => true,
            _ => false,
        };
        CgroupHost {
            memory: memory.map(|m| m.0),
            swap_accounting,
            devices: find("devices").map(|d| d.0),
            pids: find("pids").map(|d| d.0),
        }
    }

    /// Reads this host's /proc/self/mountinfo and /proc/cgroups.
    pub fn detect(sys: &dyn Sys) -> Result<CgroupHost> {
        let read = |p: &str| {
            sys.read_to_string(Path::new(p))
                .map_err(|e| Error::io("read", p, e))
        };
        let mountinfo = read("/proc/self/mountinfo")?;
        // /proc/cgroups is missing on kernels without cgroup v1 support.
        let cgroups = read("/proc/cgroups").unwrap_or_default();
        Ok(CgroupHost::detect_from(sys, &mountinfo, &cgroups))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_CGROUPS: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled
memory\t4\t20\t1
devices\t5\t1\t1
pids\t6\t1\t1
";
    const UNIFIED: &str =
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
";
    const UNIFIED_CGROUPS: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled
memory\t0\t90\t1
devices\t0\t90\t1
pids\t0\t90\t1
";

    #[test]
    fn detects_each_layout() {
        struct Case {
            name: &'static str,
            mountinfo: &'static str,
            cgroups: &'static str,
            controllers: Option<(&'static str, &'static str)>,
            memsw_file: bool,
            want: CgroupHost,
        }
        let cases = [
            Case {
                name: "hybrid with empty v2 (this host)",
                mountinfo: HYBRID,
                cgroups: HYBRID_CGROUPS,
                controllers: Some(("/sys/fs/cgroup/unified/cgroup.controllers", "")),
                memsw_file: true,
                want: CgroupHost {
                    memory: Some(CgroupVersion::V1),
                    swap_accounting: true,
                    devices: Some(CgroupVersion::V1),
                    pids: Some(CgroupVersion::V1),
                },
            },
            Case {
                name: "v1 without swap accounting",
                mountinfo: HYBRID,
                cgroups: HYBRID_CGROUPS,
                controllers: None,
                memsw_file: false,
                want: CgroupHost {
                    memory: Some(CgroupVersion::V1),
                    swap_accounting: false,
                    devices: Some(CgroupVersion::V1),
                    pids: Some(CgroupVersion::V1),
                },
            },
            Case {
                name: "unified",
                mountinfo: UNIFIED,
                cgroups: UNIFIED_CGROUPS,
                controllers: Some((
                    "/sys/fs/cgroup/cgroup.controllers",
                    "cpuset cpu io memory hugetlb pids rdma misc\n",
                )),
                memsw_file: false,
                want: CgroupHost {
                    memory: Some(CgroupVersion::V2),
                    swap_accounting: true,
                    devices: None,
                    pids: Some(CgroupVersion::V2),
                },
            },
            Case {
                name: "none",
                mountinfo: "",
                cgroups: "",
                controllers: None,
                memsw_file: false,
                want: CgroupHost {
                    memory: None,
                    swap_accounting: false,
                    devices: None,
                    pids: None,
                },
            },
        ];
        for c in cases {
            let sys = FakeSys::default();
            if let Some((path, text)) = c.controllers {
                sys.set_file(path, text);
            }
            if c.memsw_file {
                sys.set_exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
            }
            let got = CgroupHost::detect_from(&sys, c.mountinfo, c.cgroups);
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_octal(r"/a\040b"), "/a b");
        assert_eq!(unescape_octal("/plain"), "/plain");
        assert_eq!(unescape_octal(r"/end\"), r"/end\");
    }
}
