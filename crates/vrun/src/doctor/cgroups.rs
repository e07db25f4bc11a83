//! The host's cgroups: `cgroups` (the layout), `cgroup-memory`, `cgroup-pids`. Where a
//! controller lives is vr-lxc's decision ([`CgroupHost::detect_from`], the one setup uses);
//! this module only adds the mount points and the fixes.

use super::{Check, Probe};
use std::path::Path;
use vr_lxc::{CgroupHost, CgroupVersion};

/// One cgroup file system mount.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    path: String,
    v2: bool,
    /// The super options (v1: the controllers).
    options: Vec<String>,
}

/// What the cgroup checks read once.
#[derive(Debug, Clone)]
pub struct Cgroups {
    /// Where vr-lxc finds the controllers.
    pub host: CgroupHost,
    mounts: Vec<Mount>,
    proc_cgroups: String,
    /// Why /proc/self/mountinfo could not be read.
    error: Option<String>,
}

fn mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let path = left.split(' ').nth(4)?.to_string();
            let mut right = right.split(' ');
            let v2 = match right.next()? {
                "cgroup" => false,
                "cgroup2" => true,
                _ => return None,
            };
            let options = right
                .nth(1)
                .unwrap_or_default()
                .split(',')
                .map(str::to_string)
                .collect();
            Some(Mount { path, v2, options })
        })
        .collect()
}

impl Cgroups {
    /// Reads /proc/self/mountinfo and /proc/cgroups.
    pub fn read(probe: &dyn Probe) -> Cgroups {
        let sys = probe.sys();
        let mountinfo = sys.read_to_string(Path::new("/proc/self/mountinfo"));
        // Missing on kernels without cgroup v1.
        let proc_cgroups = sys
            .read_to_string(Path::new("/proc/cgroups"))
            .unwrap_or_default();
        let (text, error) = match mountinfo {
            Ok(t) => (t, None),
            Err(e) => (String::new(), Some(e.to_string())),
        };
        Cgroups {
            host: CgroupHost::detect_from(sys, &text, &proc_cgroups),
            mounts: mounts(&text),
            proc_cgroups,
            error,
        }
    }

    fn v1(&self) -> impl Iterator<Item = &Mount> {
        self.mounts.iter().filter(|m| !m.v2)
    }

    fn v2(&self) -> Option<&Mount> {
        self.mounts.iter().find(|m| m.v2)
    }

    /// Where `controller` is mounted, as vr-lxc found it.
    fn place(&self, controller: &str, version: Option<CgroupVersion>) -> Option<String> {
        match version? {
            CgroupVersion::V1 => self
                .v1()
                .find(|m| m.options.iter().any(|o| o == controller))
                .map(|m| format!("v1 at {}", m.path)),
            CgroupVersion::V2 => self.v2().map(|m| format!("v2 at {}", m.path)),
        }
    }

    /// What makes `controller` available.
    fn fix_for(&self, controller: &str) -> String {
        let enabled = self.proc_cgroups.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[0] == controller).then(|| f[3] == "1")
        });
        let boot = format!("boot with cgroup_enable={controller} and without cgroup_disable={controller} (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot)");
        match enabled {
            Some(false) => boot,
            _ if self.v1().next().is_some() => format!(
                "mkdir -p /sys/fs/cgroup/{controller} && mount -t cgroup -o {controller} cgroup /sys/fs/cgroup/{controller}"
            ),
            _ => boot,
        }
    }
}

/// `cgroups`: a cgroup file system is mounted; says which layout (v1, v2 or hybrid) and where
/// the devices controller is.
pub fn layout(cg: &Cgroups) -> Check {
    const NAME: &str = "cgroups";
    if let Some(e) = &cg.error {
        return Check::fail(
            NAME,
            format!("cannot read /proc/self/mountinfo: {e}"),
            "mount /proc (mount -t proc proc /proc)",
        );
    }
    let v1 = cg.v1().count();
    let mut detail = match (v1, cg.v2()) {
        (0, None) => {
            return Check::fail(
                NAME,
                "no cgroup file system is mounted",
                "mount -t cgroup2 cgroup2 /sys/fs/cgroup (systemd mounts it at boot)",
            )
        }
        (0, Some(v2)) => format!("v2 (unified) at {}", v2.path),
        (n, None) => format!("v1: {n} hierarchies"),
        (n, Some(v2)) => format!("hybrid: {n} v1 hierarchies and v2 at {}", v2.path),
    };
    detail.push_str(match cg.host.devices {
        Some(CgroupVersion::V1) => "; devices: v1",
        Some(CgroupVersion::V2) => "; devices: v2",
        None if cg.v2().is_some() => "; devices: LXC's eBPF filter on v2",
        None => "; devices: no controller (no device rules)",
    });
    Check::pass(NAME, detail)
}

/// `cgroup-memory`: `mem_limit` (and `memsw_limit`) need the memory controller.
pub fn memory(cg: &Cgroups) -> Check {
    const NAME: &str = "cgroup-memory";
    let Some(place) = cg.place("memory", cg.host.memory) else {
        return Check::fail(
            NAME,
            "no memory controller: mem_limit and memsw_limit cannot be applied",
            cg.fix_for("memory"),
        );
    };
    let key = match cg.host.memory {
        Some(CgroupVersion::V2) => "lxc.cgroup2.memory.max",
        _ => "lxc.cgroup.memory.limit_in_bytes",
    };
    let swap = if cg.host.swap_accounting {
        "swap accounting on (memsw_limit works)"
    } else {
        "no swap accounting: memsw_limit needs swapaccount=1 on the kernel command line"
    };
    Check::pass(NAME, format!("{place}: mem_limit is {key}; {swap}"))
}

/// `cgroup-pids`: every proc gets a process limit (`pids_limit`, default 1024); setup refuses
/// without the pids controller.
pub fn pids(cg: &Cgroups) -> Check {
    const NAME: &str = "cgroup-pids";
    match cg.place("pids", cg.host.pids) {
        Some(place) => {
            let key = match cg.host.pids {
                Some(CgroupVersion::V2) => "lxc.cgroup2.pids.max",
                _ => "lxc.cgroup.pids.max",
            };
            Check::pass(NAME, format!("{place}: a proc's process limit is {key}"))
        }
        None => Check::fail(
            NAME,
            "no pids controller: setup refuses every proc (each gets a process limit)",
            cg.fix_for("pids"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe::fake::{healthy, FakeProbe, HYBRID_CGROUPS, HYBRID_MOUNTINFO};
    use super::*;

    const UNIFIED: &str =
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
    const UNIFIED_CGROUPS: &str =
        "#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t0\t90\t1\npids\t0\t90\t1\n";

    fn read(mountinfo: &str, proc_cgroups: &str, v2_controllers: Option<(&str, &str)>) -> Cgroups {
        let p = FakeProbe::default();
        p.sys.set_file("/proc/self/mountinfo", mountinfo);
        p.sys.set_file("/proc/cgroups", proc_cgroups);
        if let Some((path, text)) = v2_controllers {
            p.sys.set_file(path, text);
        }
        Cgroups::read(&p)
    }

    fn triple(c: Check) -> (bool, String, Option<String>) {
        (c.passed, c.detail, c.fix)
    }

    #[test]
    fn this_hosts_hybrid_layout() {
        let (p, _) = healthy();
        let cg = Cgroups::read(&p);
        assert_eq!(
            triple(layout(&cg)),
            (
                true,
                "hybrid: 4 v1 hierarchies and v2 at /sys/fs/cgroup/unified; devices: v1".into(),
                None
            )
        );
        assert_eq!(
            triple(memory(&cg)),
            (true, "v1 at /sys/fs/cgroup/memory: mem_limit is lxc.cgroup.memory.limit_in_bytes; swap accounting on (memsw_limit works)".into(), None)
        );
        assert_eq!(
            triple(pids(&cg)),
            (
                true,
                "v1 at /sys/fs/cgroup/pids: a proc's process limit is lxc.cgroup.pids.max".into(),
                None
            )
        );
    }

    #[test]
    fn unified_layout() {
        let cg = read(
            UNIFIED,
            UNIFIED_CGROUPS,
            Some(("/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n")),
        );
        assert_eq!(
            layout(&cg).detail,
            "v2 (unified) at /sys/fs/cgroup; devices: LXC's eBPF filter on v2"
        );
        assert_eq!(
            memory(&cg).detail,
            "v2 at /sys/fs/cgroup: mem_limit is lxc.cgroup2.memory.max; swap accounting on (memsw_limit works)"
        );
        assert_eq!(
            pids(&cg).detail,
            "v2 at /sys/fs/cgroup: a proc's process limit is lxc.cgroup2.pids.max"
        );
        // v2 without the controllers enabled in the kernel.
        let cg = read(
            UNIFIED,
            UNIFIED_CGROUPS,
            Some(("/sys/fs/cgroup/cgroup.controllers", "cpu io\n")),
        );
        assert!(!memory(&cg).passed);
        assert_eq!(
            memory(&cg).fix.as_deref(),
            Some("boot with cgroup_enable=memory and without cgroup_disable=memory (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot)")
        );
    }

    #[test]
    fn missing_controllers_and_their_fixes() {
        // v1 without a memory mount: mount it.
        let no_memory: String = HYBRID_MOUNTINFO
            .lines()
            .filter(|l| !l.contains("memory"))
            .map(|l| format!("{l}\n"))
            .collect();
        let cg = read(&no_memory, HYBRID_CGROUPS, None);
        assert_eq!(
            triple(memory(&cg)),
            (
                false,
                "no memory controller: mem_limit and memsw_limit cannot be applied".into(),
                Some("mkdir -p /sys/fs/cgroup/memory && mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory".into())
            )
        );
        assert!(pids(&cg).passed);
        // Disabled in the kernel: boot option.
        let disabled = HYBRID_CGROUPS.replace("memory\t4\t91\t1", "memory\t0\t1\t0");
        let cg = read(&no_memory, &disabled, None);
        assert!(memory(&cg)
            .fix
            .unwrap()
            .starts_with("boot with cgroup_enable=memory"));
        // No pids mount.
        let no_pids: String = HYBRID_MOUNTINFO
            .lines()
            .filter(|l| !l.contains("pids"))
            .map(|l| format!("{l}\n"))
            .collect();
        let cg = read(&no_pids, HYBRID_CGROUPS, None);
        assert_eq!(
            triple(pids(&cg)),
            (
                false,
                "no pids controller: setup refuses every proc (each gets a process limit)".into(),
                Some("mkdir -p /sys/fs/cgroup/pids && mount -t cgroup -o pids cgroup /sys/fs/cgroup/pids".into())
            )
        );
        // No swap accounting: passes, saying what memsw_limit needs.
        let cg = read(HYBRID_MOUNTINFO, HYBRID_CGROUPS, None);
        let c = memory(&cg);
        assert!(c.passed && c.detail.ends_with("no swap accounting: memsw_limit needs swapaccount=1 on the kernel command line"), "{c:?}");
    }

    #[test]
    fn no_cgroups_at_all() {
        let cg = read("22 1 0:5 / /proc rw - proc proc rw\n", "", None);
        assert_eq!(
            triple(layout(&cg)),
            (
                false,
                "no cgroup file system is mounted".into(),
                Some("mount -t cgroup2 cgroup2 /sys/fs/cgroup (systemd mounts it at boot)".into())
            )
        );
        assert!(!memory(&cg).passed && !pids(&cg).passed);
        let v1_only: String = HYBRID_MOUNTINFO
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            layout(&read(&v1_only, HYBRID_CGROUPS, None)).detail,
            "v1: 4 hierarchies; devices: v1"
        );
        let c = layout(&Cgroups::read(&FakeProbe::default()));
        assert!(
            !c.passed && c.detail.starts_with("cannot read /proc/self/mountinfo"),
            "{c:?}"
        );
    }
}
