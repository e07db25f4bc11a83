//! Kernel features a container uses: `overlayfs` (its root) and `seccomp` (vr's profile).

use super::lxc::{Located, INSTALL};
use super::{Check, Probe};
use std::path::Path;

/// The kernel that mounts an overlay inside a user namespace without a distribution patch.
const OVERLAY_IN_USERNS: (u32, u32) = (5, 11);

/// Major and minor of a kernel release (`6.1.0-18-amd64`).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut nums = release.split(|c: char| !c.is_ascii_digit());
    Some((nums.next()?.parse().ok()?, nums.next()?.parse().ok()?))
}

/// `overlayfs`: a proc's root is an overlay of the image and its own layer.
pub fn overlayfs(probe: &dyn Probe) -> Check {
    const NAME: &str = "overlayfs";
    let sys = probe.sys();
    let listed = match sys.read_to_string(Path::new("/proc/filesystems")) {
        Ok(text) => text
            .lines()
            .any(|l| l.split_whitespace().last() == Some("overlay")),
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read /proc/filesystems: {e}"),
                "mount /proc (mount -t proc proc /proc)",
            )
        }
    };
    if !listed {
        let module = sys
            .output("modinfo", &["overlay"])
            .is_ok_and(|out| out.success);
        return if module {
            Check::fail(
                NAME,
                "overlay is not in /proc/filesystems: its module is not loaded",
                "modprobe overlay && echo overlay >> /etc/modules",
            )
        } else {
            Check::fail(
                NAME,
                "this kernel has no overlay file system (not in /proc/filesystems, no module)",
                "boot a kernel built with CONFIG_OVERLAY_FS (every Debian kernel is)",
            )
        };
    }
    let mut detail = String::from("overlay is in /proc/filesystems");
    if let Ok(release) = sys.read_to_string(Path::new("/proc/sys/kernel/osrelease")) {
        let release = release.trim();
        if let Some(v) = kernel_version(release) {
            detail.push_str(&format!("; kernel {release}"));
            if v < OVERLAY_IN_USERNS {
                detail.push_str(
                    " is older than 5.11: it mounts an overlay in a user namespace only with a distribution patch (Ubuntu's)",
                );
            }
        }
    }
    Check::pass(NAME, detail)
}

/// The number of rules in vr's seccomp profile.
fn profile_rules() -> usize {
    vr_lxc::SECCOMP_PROFILE
        .lines()
        .skip(2) // version, policy
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('[') && !l.starts_with('#'))
        .count()
}

/// `seccomp`: the kernel filters system calls with the errno action (every rule of vr's profile
/// is `errno N`) and LXC is built with libseccomp (`ldd lxc-execute`), so LXC can load vr's
/// profile. The profile itself is loaded by LXC when a container starts, not here.
pub fn seccomp(probe: &dyn Probe, found: &Located) -> Check {
    const NAME: &str = "seccomp";
    const KERNEL_FIX: &str =
        "boot a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER (every Debian kernel is)";
    let sys = probe.sys();
    let status = sys
        .read_to_string(Path::new("/proc/self/status"))
        .unwrap_or_default();
    if !status.lines().any(|l| l.starts_with("Seccomp:")) {
        return Check::fail(
            NAME,
            "this kernel has no seccomp (no Seccomp: line in /proc/self/status)",
            KERNEL_FIX,
        );
    }
    let mut detail = String::from("the kernel filters system calls");
    if let Ok(actions) = sys.read_to_string(Path::new("/proc/sys/kernel/seccomp/actions_avail")) {
        if !actions.split_whitespace().any(|a| a == "errno") {
            return Check::fail(
                NAME,
                format!(
                    "the kernel's seccomp has no errno action (actions: {})",
                    actions.trim()
                ),
                KERNEL_FIX,
            );
        }
        detail.push_str(" (errno action)");
    }
    let Some(lxc) = found.path() else {
        return Check::fail(NAME, format!("{detail}; LXC is not installed"), INSTALL);
    };
    let lxc_text = lxc.display().to_string();
    match sys.output("ldd", &[&lxc_text]) {
        Ok(out) if out.success => {
            match out
                .stdout
                .split_whitespace()
                .find(|w| w.starts_with("libseccomp"))
            {
                Some(lib) => detail.push_str(&format!("; {lxc_text} links {lib}")),
                None => {
                    return Check::fail(
                        NAME,
                        format!("{detail}; LXC is built without seccomp ({lxc_text} does not link libseccomp): it would start containers without vr's profile"),
                        "install an LXC built with seccomp: apt-get install lxc libseccomp2",
                    )
                }
            }
        }
        // A static lxc-execute, or no ldd: say what was not checked.
        _ => detail.push_str(&format!(
            "; not checked whether LXC links libseccomp (ldd {lxc_text} did not tell)"
        )),
    }
    detail.push_str(&format!(
        "; vr's profile ({} rules) is loaded by LXC when a container starts",
        profile_rules()
    ));
    Check::pass(NAME, detail)
}

#[cfg(test)]
mod tests {
    use super::super::lxc::locate;
    use super::super::probe::fake::healthy;
    use super::*;

    #[test]
    fn overlay_loaded_loadable_or_absent() {
        let (p, _) = healthy();
        let c = overlayfs(&p);
        assert_eq!(
            c,
            Check::pass(
                "overlayfs",
                "overlay is in /proc/filesystems; kernel 6.1.0-18-amd64"
            )
        );
        p.sys
            .set_file("/proc/sys/kernel/osrelease", "5.4.0-150-generic\n");
        let c = overlayfs(&p);
        assert!(c.passed);
        assert!(c.detail.ends_with("kernel 5.4.0-150-generic is older than 5.11: it mounts an overlay in a user namespace only with a distribution patch (Ubuntu's)"), "{c:?}");
        p.sys
            .set_file("/proc/filesystems", "nodev\tsysfs\n\text4\n");
        let c = overlayfs(&p);
        assert_eq!(
            c.fix.as_deref(),
            Some("boot a kernel built with CONFIG_OVERLAY_FS (every Debian kernel is)")
        );
        p.sys
            .set_output("modinfo", true, "filename: /lib/modules/overlay.ko\n");
        let c = overlayfs(&p);
        assert_eq!(
            c.detail,
            "overlay is not in /proc/filesystems: its module is not loaded"
        );
        assert_eq!(
            c.fix.as_deref(),
            Some("modprobe overlay && echo overlay >> /etc/modules")
        );
    }

    #[test]
    fn seccomp_kernel_and_lxc() {
        let (p, inputs) = healthy();
        let found = locate(&p, &inputs);
        let c = seccomp(&p, &found);
        assert!(c.passed, "{c:?}");
        assert_eq!(
            c.detail,
            format!("the kernel filters system calls (errno action); /usr/bin/lxc-execute links libseccomp.so.2; vr's profile ({} rules) is loaded by LXC when a container starts", profile_rules())
        );
        assert!(profile_rules() > 40, "{}", profile_rules());
        // LXC without libseccomp.
        p.sys
            .set_output("ldd", true, "\tliblxc.so.1 => /lib/liblxc.so.1\n");
        let c = seccomp(&p, &found);
        assert!(!c.passed);
        assert_eq!(
            c.fix.as_deref(),
            Some("install an LXC built with seccomp: apt-get install lxc libseccomp2")
        );
        // ldd cannot tell: passes, saying so.
        p.sys.set_output("ldd", false, "");
        let c = seccomp(&p, &found);
        assert!(
            c.passed
                && c.detail
                    .contains("not checked whether LXC links libseccomp"),
            "{c:?}"
        );
        // No LXC.
        let c = seccomp(&p, &Located::Missing);
        assert_eq!(c.fix.as_deref(), Some("apt-get install lxc"));
        // A kernel without errno, then without seccomp.
        p.sys.set_file(
            "/proc/sys/kernel/seccomp/actions_avail",
            "kill_process allow\n",
        );
        let c = seccomp(&p, &found);
        assert_eq!(
            c.detail,
            "the kernel's seccomp has no errno action (actions: kill_process allow)"
        );
        p.sys.set_file("/proc/self/status", "Name:\tvrun\n");
        let c = seccomp(&p, &found);
        assert_eq!(
            (c.detail.as_str(), c.fix.as_deref()),
            (
                "this kernel has no seccomp (no Seccomp: line in /proc/self/status)",
                Some("boot a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER (every Debian kernel is)")
            )
        );
    }
}
