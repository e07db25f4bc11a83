//! Who vrun is and who its containers are: `root`, `user-namespaces`, `id-range`.

use super::{Check, Inputs, Probe};
use std::io;
use std::path::Path;
use vr_lxc::{CmdOutput, Error, IdMap, Sys, SUBGID, SUBUID};

/// `root`: vrun makes containers, mounts and chowns; it needs root.
pub fn root(inputs: &Inputs) -> Check {
    if inputs.euid == 0 {
        Check::pass("root", "running as root")
    } else {
        Check::fail(
            "root",
            format!(
                "running as uid {}: vrun sets up and starts containers as root",
                inputs.euid
            ),
            "run vrun as root (sudo vrun ...)",
        )
    }
}

const MAX_USERNS: &str = "/proc/sys/user/max_user_namespaces";
const USERNS_CLONE: &str = "/proc/sys/kernel/unprivileged_userns_clone";

/// `user-namespaces`: the kernel has them, and `user.max_user_namespaces` allows some.
/// `kernel.unprivileged_userns_clone` (Debian's switch) is reported, never failed: it holds back
/// users without CAP_SYS_ADMIN, and vrun (root) makes the containers' namespaces.
pub fn user_namespaces(probe: &dyn Probe) -> Check {
    const NAME: &str = "user-namespaces";
    let sys = probe.sys();
    if !sys.exists(Path::new("/proc/self/ns/user")) {
        return Check::fail(
            NAME,
            "this kernel has no user namespaces (no /proc/self/ns/user)",
            "boot a kernel built with CONFIG_USER_NS=y (every Debian kernel is)",
        );
    }
    let read = |p: &str| {
        sys.read_to_string(Path::new(p))
            .ok()
            .map(|t| t.trim().to_string())
    };
    let mut detail = String::from("the kernel has user namespaces");
    match read(MAX_USERNS) {
        Some(n) if n == "0" => {
            return Check::fail(
                NAME,
                "user.max_user_namespaces is 0: no user namespace can be made",
                "sysctl -w user.max_user_namespaces=15000 && echo user.max_user_namespaces=15000 > /etc/sysctl.d/90-vr-userns.conf",
            );
        }
        Some(n) => detail.push_str(&format!("; user.max_user_namespaces={n}")),
        None => {}
    }
    if let Some(v) = read(USERNS_CLONE) {
        detail.push_str(&format!("; kernel.unprivileged_userns_clone={v}"));
        if v == "0" {
            detail.push_str(" (limits only users without CAP_SYS_ADMIN, not vrun as root)");
        }
    }
    Check::pass(NAME, detail)
}

/// `id-range`: the containers' host ids (`VR_IDMAP`, root's lines in /etc/subuid and
/// /etc/subgid, or the default), checked as setup checks them; a missing delegation is fixed
/// by the exact lines to add (all of them: the check is run again as if each were added).
/// Returns the map too when it could be read, for the `VR_ROOT` checks.
pub fn id_range(probe: &dyn Probe, inputs: &Inputs) -> (Check, Option<IdMap>) {
    const NAME: &str = "id-range";
    let sys = probe.sys();
    let env = inputs.idmap_env.as_deref().filter(|v| !v.trim().is_empty());
    let map = match IdMap::detect(sys, env) {
        Ok(map) => map,
        Err(err) => {
            let fix = match err {
                Error::BadIdMap { .. } => {
                    "set VR_IDMAP to BASE:COUNT (VR_IDMAP=100000:65536) or unset it".to_string()
                }
                _ => format!(
                    "make root's first line in {SUBUID} and in {SUBGID} a range from 1 up, e.g. root:100000:65536"
                ),
            };
            return (Check::fail(NAME, err.to_string(), fix), None);
        }
    };
    let source = if env.is_some() {
        "VR_IDMAP"
    } else if map == IdMap::DEFAULT && !has_root_line(sys, SUBUID) {
        "the default: root has no lines in /etc/subuid and /etc/subgid"
    } else {
        "root's lines in /etc/subuid and /etc/subgid"
    };
    let last = map.count - 1;
    let detail = format!(
        "ids 0-{last} inside are host uids {}-{}, gids {}-{} ({source})",
        map.host_uid,
        map.host_uid + last,
        map.host_gid,
        map.host_gid + last
    );
    let mut added: Vec<(&'static str, String)> = Vec::new();
    let mut problems = Vec::new();
    loop {
        let patched = Patched {
            inner: sys,
            added: &added,
        };
        let Err(err) = map.check_delegated(&patched) else {
            break;
        };
        match &err {
            // Each file is added to at most once; then the next problem shows.
            Error::NotDelegated { file, line, .. } if added.iter().all(|(f, _)| f != file) => {
                problems.push(err.to_string());
                added.push((file, line.clone()));
            }
            Error::SharedRange { file, owner, .. } => {
                let fix = format!(
                    "remove or move {owner}'s line in {file} so that it does not overlap vr's range, or set VR_IDMAP to a range of its own"
                );
                return (
                    Check::fail(NAME, format!("{detail}: {err}"), fix),
                    Some(map),
                );
            }
            _ => {
                let fix = format!("fix {SUBUID} and {SUBGID} as said");
                return (
                    Check::fail(NAME, format!("{detail}: {err}"), fix),
                    Some(map),
                );
            }
        }
    }
    if added.is_empty() {
        return (Check::pass(NAME, detail), Some(map));
    }
    let fix: Vec<String> = added
        .iter()
        .map(|(file, line)| format!("echo {line} >> {file}"))
        .collect();
    let check = Check::fail(
        NAME,
        format!("{detail}: {}", problems.join("; ")),
        fix.join(" && "),
    );
    (check, Some(map))
}

fn has_root_line(sys: &dyn Sys, file: &str) -> bool {
    sys.read_to_string(Path::new(file))
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("root:") || l.starts_with("0:"))
}

/// `inner` as if `added` lines were appended to their files.
struct Patched<'a> {
    inner: &'a dyn Sys,
    added: &'a [(&'static str, String)],
}

impl Sys for Patched<'_> {
    fn output(&self, program: &str, args: &[&str]) -> io::Result<CmdOutput> {
        self.inner.output(program, args)
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let extra: Vec<&str> = self
            .added
            .iter()
            .filter(|(file, _)| Path::new(file) == path)
            .map(|(_, line)| line.as_str())
            .collect();
        match self.inner.read_to_string(path) {
            Ok(text) if extra.is_empty() => Ok(text),
            Ok(text) => Ok(format!("{text}\n{}\n", extra.join("\n"))),
            Err(_) if !extra.is_empty() => Ok(format!("{}\n", extra.join("\n"))),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }

    fn mknod_char(&self, path: &Path, mode: u32, major: u64, minor: u64) -> io::Result<()> {
        self.inner.mknod_char(path, mode, major, minor)
    }

    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
        self.inner.symlink(target, link)
    }

    fn kill(&self, pid: i32, signal: nix::sys::signal::Signal) -> io::Result<()> {
        self.inner.kill(pid, signal)
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        self.inner.children(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe::fake::{healthy, FakeProbe};
    use super::*;

    #[test]
    fn root_or_not() {
        let (_, mut inputs) = healthy();
        assert!(root(&inputs).passed);
        inputs.euid = 1000;
        let c = root(&inputs);
        assert!(!c.passed);
        assert_eq!(
            c.detail,
            "running as uid 1000: vrun sets up and starts containers as root"
        );
        assert_eq!(c.fix.as_deref(), Some("run vrun as root (sudo vrun ...)"));
    }

    #[test]
    fn user_namespaces_table() {
        type Setup = fn(&FakeProbe);
        // (case, setup, passed, wanted in the detail when passed, in the fix when failed)
        let cases: [(&str, Setup, bool, &str); 4] = [
            (
                "healthy",
                |_| {},
                true,
                "the kernel has user namespaces; user.max_user_namespaces=96365",
            ),
            (
                "debian switch off",
                |p| p.sys.set_file(USERNS_CLONE, "0\n"),
                true,
                "; kernel.unprivileged_userns_clone=0 (limits only users without CAP_SYS_ADMIN, not vrun as root)",
            ),
            (
                "max 0",
                |p| p.sys.set_file(MAX_USERNS, "0\n"),
                false,
                "sysctl -w user.max_user_namespaces=15000 && echo user.max_user_namespaces=15000 > /etc/sysctl.d/90-vr-userns.conf",
            ),
            (
                "debian switch on",
                |p| p.sys.set_file(USERNS_CLONE, "1\n"),
                true,
                "user.max_user_namespaces=96365; kernel.unprivileged_userns_clone=1",
            ),
        ];
        for (name, setup, passed, want) in cases {
            let (p, _) = healthy();
            setup(&p);
            let c = user_namespaces(&p);
            assert_eq!(c.passed, passed, "{name}: {c:?}");
            let text = if passed {
                &c.detail
            } else {
                c.fix.as_ref().unwrap()
            };
            assert!(text.ends_with(want), "{name}: {c:?}");
        }
        // A kernel without them (nothing exists on an empty fake).
        let c = user_namespaces(&FakeProbe::default());
        assert_eq!(
            (c.passed, c.detail.as_str(), c.fix.as_deref()),
            (
                false,
                "this kernel has no user namespaces (no /proc/self/ns/user)",
                Some("boot a kernel built with CONFIG_USER_NS=y (every Debian kernel is)")
            )
        );
    }

    #[test]
    fn id_range_sources() {
        let (p, mut inputs) = healthy();
        let (c, map) = id_range(&p, &inputs);
        assert!(c.passed, "{c:?}");
        assert_eq!(map, Some(IdMap::DEFAULT));
        assert_eq!(
            c.detail,
            "ids 0-65535 inside are host uids 100000-165535, gids 100000-165535 (root's lines in /etc/subuid and /etc/subgid)"
        );
        inputs.idmap_env = Some("200000:300000:1000".into());
        p.sys.set_file(SUBUID, "root:200000:1000\n");
        p.sys.set_file(SUBGID, "root:300000:1000\n");
        let (c, _) = id_range(&p, &inputs);
        assert_eq!(
            (c.passed, c.detail.as_str()),
            (
                true,
                "ids 0-999 inside are host uids 200000-200999, gids 300000-300999 (VR_IDMAP)"
            )
        );
        // Without newuidmap, nothing in the files and no VR_IDMAP: the default, fine.
        let empty = FakeProbe::default();
        inputs.idmap_env = Some(" ".into());
        let (c, _) = id_range(&empty, &inputs);
        assert!(c.passed, "{c:?}");
        assert!(
            c.detail
                .ends_with("(the default: root has no lines in /etc/subuid and /etc/subgid)"),
            "{c:?}"
        );
    }

    #[test]
    fn id_range_fixes_name_every_line_to_add() {
        let (p, inputs) = healthy();
        p.sys.set_file(SUBUID, "");
        p.sys.set_file(SUBGID, "");
        let (c, map) = id_range(&p, &inputs);
        assert!(!c.passed);
        assert_eq!(map, Some(IdMap::DEFAULT));
        assert_eq!(
            c.fix.as_deref(),
            Some("echo root:100000:65536 >> /etc/subuid && echo root:100000:65536 >> /etc/subgid")
        );
        assert!(
            c.detail
                .contains("host uids 100000-165535 are not delegated to root in /etc/subuid")
                && c.detail
                    .contains("host gids 100000-165535 are not delegated to root in /etc/subgid"),
            "{c:?}"
        );
        // Only gids missing: only their line.
        p.sys.set_file(SUBUID, "root:100000:65536\n");
        let (c, _) = id_range(&p, &inputs);
        assert_eq!(
            c.fix.as_deref(),
            Some("echo root:100000:65536 >> /etc/subgid")
        );
    }

    #[test]
    fn id_range_refusals() {
        let (p, mut inputs) = healthy();
        p.sys
            .set_file(SUBUID, "root:100000:65536\nalice:100000:65536\n");
        let (c, _) = id_range(&p, &inputs);
        assert!(!c.passed);
        assert_eq!(
            c.fix.as_deref(),
            Some("remove or move alice's line in /etc/subuid so that it does not overlap vr's range, or set VR_IDMAP to a range of its own")
        );
        inputs.idmap_env = Some("0:65536".into());
        let (c, map) = id_range(&p, &inputs);
        assert_eq!(map, None);
        assert!(
            c.detail
                .starts_with("VR_IDMAP=\"0:65536\" is not a host id range"),
            "{c:?}"
        );
        assert_eq!(
            c.fix.as_deref(),
            Some("set VR_IDMAP to BASE:COUNT (VR_IDMAP=100000:65536) or unset it")
        );
        inputs.idmap_env = None;
        p.sys.set_file(SUBUID, "root:0:65536\n");
        let (c, map) = id_range(&p, &inputs);
        assert_eq!(map, None);
        assert!(
            c.detail
                .starts_with("root's ranges in /etc/subuid and /etc/subgid"),
            "{c:?}"
        );
        assert_eq!(
            c.fix.as_deref(),
            Some("make root's first line in /etc/subuid and in /etc/subgid a range from 1 up, e.g. root:100000:65536")
        );
    }
}
