//! LXC itself: `lxc` (on PATH?) and `lxc-version` (can it run a proc's container here?).

use super::{Check, Inputs, Kind, Probe};
use std::path::{Path, PathBuf};
use vr_lxc::{CgroupHost, ContainerConfig, Error, IdMap, Rootfs};

/// Where `lxc-execute` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// In a folder of PATH.
    OnPath(PathBuf),
    /// Installed in a usual folder that is not on PATH.
    OffPath(PathBuf),
    /// Nowhere.
    Missing,
}

impl Located {
    /// Where it is, on PATH or not.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Located::OnPath(p) | Located::OffPath(p) => Some(p),
            Located::Missing => None,
        }
    }
}

/// The folders a package puts LXC's programs in, looked at when PATH lacks them (vr-lxc's
/// order, which `lxc-version`'s not-on-PATH error follows, then /bin and /sbin).
const USUAL_DIRS: [&str; 6] = [
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/bin",
    "/sbin",
];

pub(super) const INSTALL: &str = "apt-get install lxc";

/// Finds `lxc-execute` on PATH, else in [`USUAL_DIRS`].
pub fn locate(probe: &dyn Probe, inputs: &Inputs) -> Located {
    let program = |dir: &Path| {
        let p = dir.join("lxc-execute");
        probe
            .stat(&p, true)
            .is_ok_and(|m| m.kind == Kind::File && m.mode & 0o111 != 0)
            .then_some(p)
    };
    let on_path = inputs
        .path
        .as_deref()
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(p) = on_path
        .iter()
        .filter(|d| d.is_absolute())
        .find_map(|d| program(d))
    {
        return Located::OnPath(p);
    }
    USUAL_DIRS
        .iter()
        .find_map(|d| program(Path::new(d)))
        .map_or(Located::Missing, Located::OffPath)
}

/// The command that puts `dir` on PATH (first, as vr-lxc's error says).
fn export_path(dir: &Path) -> String {
    format!("export PATH=\"{}:$PATH\"", dir.display())
}

fn dir_of(program: &Path) -> &Path {
    program.parent().unwrap_or(Path::new("/usr/bin"))
}

/// `lxc`: `lxc-execute` (which runs every container) is on PATH.
pub fn installed(found: &Located) -> Check {
    match found {
        Located::OnPath(p) => Check::pass("lxc", format!("{} on PATH", p.display())),
        Located::OffPath(p) => Check::fail(
            "lxc",
            format!(
                "LXC is installed but not on PATH: {} (vrun runs lxc-execute and lxc-start from PATH)",
                p.display()
            ),
            export_path(dir_of(p)),
        ),
        Located::Missing => Check::fail(
            "lxc",
            "LXC is not installed: no lxc-execute on PATH or in /usr/bin, /usr/sbin, /usr/local/bin, /usr/local/sbin, /bin, /sbin",
            INSTALL,
        ),
    }
}

/// `lxc-version`: the installed LXC (`lxc-start --version`) can run a proc's container on this
/// host: vr-lxc renders a proc's config for it and this host's cgroups (the oldest LXC that
/// works is 2.1, for `no_new_privs`; more on cgroup v2), as `vrun setup` would.
pub fn version(probe: &dyn Probe, found: &Located, cgroups: &CgroupHost) -> Check {
    const NAME: &str = "lxc-version";
    let v = match vr_lxc::detect_version(probe.sys()) {
        Ok(v) => v,
        Err(Error::NotOnPath { dir }) => {
            let err = Error::NotOnPath { dir: dir.clone() };
            return Check::fail(NAME, err.to_string(), export_path(&dir));
        }
        Err(err @ Error::NotInstalled) => {
            let fix = match found {
                Located::OffPath(p) => export_path(dir_of(p)),
                Located::OnPath(_) => "apt-get install --reinstall lxc".to_string(),
                Located::Missing => INSTALL.to_string(),
            };
            return Check::fail(NAME, err.to_string(), fix);
        }
        Err(err) => return Check::fail(NAME, err.to_string(), "apt-get install --reinstall lxc"),
    };
    match vr_lxc::render(&proc_like(cgroups), &v, cgroups) {
        Ok(_) => {
            let keys = if v.modern_keys() { "modern" } else { "legacy" };
            let mut detail =
                format!("LXC {v}: a proc's config renders for it on this host ({keys} keys)");
            if v.major != 5 {
                detail.push_str("; vr is tested on LXC 5.0 only");
            }
            Check::pass(NAME, detail)
        }
        Err(err @ Error::Unsupported { needed, .. }) => Check::fail(
            NAME,
            format!("LXC {v}: {err}"),
            format!("install LXC {needed} or newer (Debian 12 has 5.0.2: {INSTALL})"),
        ),
        Err(err) => Check::fail(
            NAME,
            format!("LXC {v}: {err}"),
            "see the other checks and docs/lxc.md",
        ),
    }
}

/// A proc's container as setup makes it, with a memory limit and a process limit where the
/// host has their controllers (their absence is the cgroup checks' to report).
fn proc_like(cgroups: &CgroupHost) -> ContainerConfig {
    let mut c = ContainerConfig::new(
        "vr-doctor",
        Rootfs::Overlay {
            lowers: vec![PathBuf::from("/apps/images/image/contents")],
            upper: PathBuf::from("/apps/procs/proc/rootfs"),
        },
        IdMap::DEFAULT,
    );
    c.seccomp = Some(PathBuf::from("/apps/procs/proc/seccomp"));
    c.no_new_privs = true;
    c.user = Some((1000, 1000));
    c.pids_max = cgroups.pids.map(|_| vr_lxc::DEFAULT_PIDS_MAX);
    c.mem_limit = cgroups.memory.map(|_| 64 << 20);
    c
}

#[cfg(test)]
mod tests {
    use super::super::probe::fake::{healthy, FakeProbe};
    use super::*;
    use vr_lxc::CgroupVersion;

    #[test]
    fn lxc_on_path_off_path_or_missing() {
        let (p, mut inputs) = healthy();
        let found = locate(&p, &inputs);
        assert_eq!(found, Located::OnPath("/usr/bin/lxc-execute".into()));
        assert_eq!(
            installed(&found),
            Check::pass("lxc", "/usr/bin/lxc-execute on PATH")
        );
        // A relative PATH entry is not trusted; /usr/sbin is not on PATH.
        inputs.path = Some("bin:/usr/local/bin".into());
        p.set_stat("bin/lxc-execute", Kind::File, 0o755, 0, 0);
        p.remove("/usr/bin/lxc-execute");
        p.set_stat("/usr/sbin/lxc-execute", Kind::File, 0o755, 0, 0);
        let found = locate(&p, &inputs);
        assert_eq!(found, Located::OffPath("/usr/sbin/lxc-execute".into()));
        let c = installed(&found);
        assert!(!c.passed);
        assert_eq!(
            c.detail,
            "LXC is installed but not on PATH: /usr/sbin/lxc-execute (vrun runs lxc-execute and lxc-start from PATH)"
        );
        assert_eq!(c.fix.as_deref(), Some("export PATH=\"/usr/sbin:$PATH\""));
        // Not executable: not a program.
        p.set_stat("/usr/sbin/lxc-execute", Kind::File, 0o644, 0, 0);
        let found = locate(&p, &inputs);
        assert_eq!(found, Located::Missing);
        assert_eq!(
            installed(&found).fix.as_deref(),
            Some("apt-get install lxc")
        );
    }

    fn hybrid() -> CgroupHost {
        CgroupHost {
            memory: Some(CgroupVersion::V1),
            swap_accounting: true,
            devices: Some(CgroupVersion::V1),
            pids: Some(CgroupVersion::V1),
        }
    }

    #[test]
    fn versions() {
        let on_path = Located::OnPath("/usr/bin/lxc-execute".into());
        let unified = CgroupHost {
            memory: Some(CgroupVersion::V2),
            swap_accounting: true,
            devices: None,
            pids: Some(CgroupVersion::V2),
        };
        // (lxc-start prints, cgroups, passed, detail, fix)
        let cases = [
            ("5.0.2", hybrid(), true, "LXC 5.0.2: a proc's config renders for it on this host (modern keys)", None),
            ("4.0.12", unified.clone(), true, "LXC 4.0.12: a proc's config renders for it on this host (modern keys); vr is tested on LXC 5.0 only", None),
            ("2.0.1", hybrid(), false, "LXC 2.0.1: no_new_privs needs LXC 2.1 or newer, this host has LXC 2.0.1", Some("install LXC 2.1 or newer (Debian 12 has 5.0.2: apt-get install lxc)")),
            ("2.1.1", unified, false, "LXC 2.1.1: a process limit on cgroup v2 needs LXC 3.0 or newer, this host has LXC 2.1.1", Some("install LXC 3.0 or newer (Debian 12 has 5.0.2: apt-get install lxc)")),
            ("garbage", hybrid(), false, "cannot read the LXC version from `lxc-start` output \"garbage\"", Some("apt-get install --reinstall lxc")),
        ];
        for (text, cg, passed, detail, fix) in cases {
            let p = FakeProbe::default();
            p.sys.set_output("lxc-start", true, text);
            let c = version(&p, &on_path, &cg);
            assert_eq!(
                (c.passed, c.detail.as_str(), c.fix.as_deref()),
                (passed, detail, fix),
                "{text}"
            );
        }
        // Not runnable: the fix follows where lxc-execute is.
        let p = FakeProbe::default();
        for (found, fix) in [
            (Located::Missing, "apt-get install lxc"),
            (
                Located::OffPath("/usr/sbin/lxc-execute".into()),
                "export PATH=\"/usr/sbin:$PATH\"",
            ),
            (on_path, "apt-get install --reinstall lxc"),
        ] {
            let c = version(&p, &found, &hybrid());
            assert!(!c.passed);
            assert!(c.detail.starts_with("LXC is not installed"), "{c:?}");
            assert_eq!(c.fix.as_deref(), Some(fix));
        }
        // vr-lxc sees lxc-execute in a folder off PATH.
        let p = FakeProbe::default();
        p.sys.set_exists("/usr/sbin/lxc-execute");
        let c = version(
            &p,
            &Located::OffPath("/usr/sbin/lxc-execute".into()),
            &hybrid(),
        );
        assert_eq!(
            (c.detail.as_str(), c.fix.as_deref()),
            (
                "LXC is installed in /usr/sbin but that folder is not on PATH: add it (PATH=/usr/sbin:$PATH)",
                Some("export PATH=\"/usr/sbin:$PATH\"")
            )
        );
        // No cgroup controllers: the version still judged on its own.
        let p = FakeProbe::default();
        p.sys.set_output("lxc-start", true, "5.0.2");
        let none = CgroupHost {
            memory: None,
            swap_accounting: false,
            devices: None,
            pids: None,
        };
        assert!(version(&p, &Located::Missing, &none).passed);
    }
}
