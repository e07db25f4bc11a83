//! What a container is ([`ContainerConfig`]) and its rendering into an LXC config file in the
//! dialect of the installed LXC ([`render`]).

use crate::cgroup::{CgroupHost, CgroupVersion};
use crate::idmap::IdMap;
use crate::version::LxcVersion;
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

mod binds;
mod containment;
mod memory;
pub use binds::writable_binds;
pub use containment::{ALLOWED_DEVICES, DEFAULT_PIDS_MAX, KEPT_CAPS, SECCOMP_PROFILE};
use memory::memory_lines;

/// The root file system of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rootfs {
    /// An overlay mounted by LXC inside the container's mount namespace (gone with it):
    /// read-only `lowers` (topmost first) under the writable `upper`. LXC puts the overlay
    /// work dir beside `upper` (`<parent of upper>/work` on LXC 5, `olwork` on older ones).
    Overlay {
        /// Read-only layers, topmost first (at least one).
        lowers: Vec<PathBuf>,
        /// The writable layer.
        upper: PathBuf,
    },
    /// A plain folder used as the rootfs, read-write.
    Dir(PathBuf),
}

/// Whether a bind mount's target is a folder or a file (LXC creates it when missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// `create=dir`.
    Dir,
    /// `create=file`.
    File,
}

/// A host path bind-mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Host path (absolute).
    pub source: PathBuf,
    /// Path inside the container (`/data` or `data`; always rendered relative to the rootfs,
    /// because LXC ignores absolute targets with an overlay rootfs).
    pub target: PathBuf,
    /// Mounted read-only.
    pub read_only: bool,
    /// Folder or file.
    pub kind: BindKind,
}

/// Everything that makes one container; render it with [`render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    /// The container's hostname (see [`hostname_for`]).
    pub hostname: String,
    /// The root file system.
    pub rootfs: Rootfs,
    /// uid and gid of the container's init and command; `None` runs them as root.
    pub user: Option<(u32, u32)>,
    /// Bind `/etc/resolv.conf` and `/etc/hosts` of the host read-only (procs: yes).
    pub host_dns: bool,
    /// Extra bind mounts (volumes, tools).
    pub binds: Vec<BindMount>,
    /// Memory limit in bytes.
    pub mem_limit: Option<u64>,
    /// Memory + swap limit in bytes.
    pub memsw_limit: Option<u64>,
    /// Environment of the container's command (`lxc.environment`; LXC clears the rest).
    pub environment: Vec<(String, String)>,
    /// The user namespace: the host ids that ids inside map to.
    pub idmap: IdMap,
    /// The seccomp profile file (LXC's format; [`SECCOMP_PROFILE`] is vr's).
    pub seccomp: Option<PathBuf>,
    /// Set `no_new_privs`: no setuid bit or file capability raises privileges inside.
    pub no_new_privs: bool,
    /// The pids cgroup limit (processes and threads).
    pub pids_max: Option<u64>,
}

impl ContainerConfig {
    /// A container with `hostname` and `rootfs` in the user namespace `idmap`: root user,
    /// host DNS files, `no_new_privs`, [`DEFAULT_PIDS_MAX`], no seccomp profile yet.
    pub fn new(hostname: impl Into<String>, rootfs: Rootfs, idmap: IdMap) -> ContainerConfig {
        ContainerConfig {
            hostname: hostname.into(),
            rootfs,
            user: None,
            host_dns: true,
            binds: Vec::new(),
            mem_limit: None,
            memsw_limit: None,
            environment: Vec::new(),
            idmap,
            seccomp: None,
            no_new_privs: true,
            pids_max: Some(DEFAULT_PIDS_MAX),
        }
    }
}

/// The container's hostname: one DNS label made from its name, so that it resolves as a
/// whole (a `.` would make `app-1.10-...` the host `app-1` in the domain `10-...`). Letters
/// become lower case, anything but letters and digits becomes `-`, no `-` at either end; a
/// name longer than 63 characters keeps its first 54 and gets `-` and 8 hex digits of a hash
/// of the whole name, so that two long names stay apart.
pub fn hostname_for(name: &str) -> String {
    const MAX: usize = 63;
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let label = mapped.trim_matches('-');
    if label.is_empty() {
        return "vr".to_string();
    }
    if label.len() <= MAX {
        return label.to_string();
    }
    // FNV-1a: stable across versions and platforms, which std's hasher is not.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{}-{:08x}", label[..54].trim_end_matches('-'), hash as u32)
}

/// The config keys of one LXC dialect.
struct Keys {
    uts: &'static str,
    idmap: &'static str,
    seccomp: &'static str,
    rootfs: &'static str,
    net: &'static str,
    apparmor: &'static str,
    pty: &'static str,
    tty: &'static str,
}

const MODERN: Keys = Keys {
    uts: "lxc.uts.name",
    idmap: "lxc.idmap",
    seccomp: "lxc.seccomp.profile",
    rootfs: "lxc.rootfs.path",
    net: "lxc.net.0.type",
    apparmor: "lxc.apparmor.profile",
    pty: "lxc.pty.max",
    tty: "lxc.tty.max",
};

const LEGACY: Keys = Keys {
    uts: "lxc.utsname",
    idmap: "lxc.id_map",
    seccomp: "lxc.seccomp",
    rootfs: "lxc.rootfs",
    net: "lxc.network.type",
    apparmor: "lxc.aa_profile",
    pty: "lxc.pts",
    tty: "lxc.tty",
};

fn plain(what: &'static str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(Error::BadValue {
            what,
            value: value.to_string(),
            why: "contains a line break or NUL",
        });
    }
    Ok(())
}

/// A path for a `lxc.mount.entry` field: absolute, no line break, white space octal-escaped.
fn fstab_path(what: &'static str, path: &Path) -> Result<String> {
    let text = path_str(what, path)?;
    Ok(text
        .replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011"))
}

fn path_str<'a>(what: &'static str, path: &'a Path) -> Result<&'a str> {
    let bad = |why| Error::BadValue {
        what,
        value: path.display().to_string(),
        why,
    };
    let text = path.to_str().ok_or_else(|| bad("not UTF-8"))?;
    plain(what, text)?;
    Ok(text)
}

/// A mount target made relative to the rootfs; no `..`.
fn relative_target(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::BadValue {
                    what: "mount target",
                    value: path.display().to_string(),
                    why: "must not contain `..`",
                })
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(Error::BadValue {
            what: "mount target",
            value: path.display().to_string(),
            why: "is the container's root",
        });
    }
    Ok(out)
}

fn rootfs_value(rootfs: &Rootfs, v: &LxcVersion) -> Result<String> {
    let overlay_part = |p: &Path| -> Result<String> {
        let text = path_str("rootfs layer", p)?;
        if text.contains(':') || !p.is_absolute() {
            return Err(Error::BadValue {
                what: "rootfs layer",
                value: text.to_string(),
                why: "must be an absolute path without `:`",
            });
        }
        Ok(text.to_string())
    };
    match rootfs {
        Rootfs::Dir(dir) => Ok(path_str("rootfs", dir)?.to_string()),
        Rootfs::Overlay { lowers, upper } => {
            if lowers.is_empty() {
                return Err(Error::BadValue {
                    what: "rootfs",
                    value: upper.display().to_string(),
                    why: "an overlay needs at least one lower layer",
                });
            }
            let mut parts = vec![v.overlay_type().to_string()];
            for l in lowers {
                parts.push(overlay_part(l)?);
            }
            parts.push(overlay_part(upper)?);
            Ok(parts.join(":"))
        }
    }
}

fn unsupported(feature: &'static str, needed: &'static str, v: &LxcVersion) -> Error {
    Error::Unsupported {
        feature,
        needed,
        found: v.to_string(),
    }
}

/// Renders `cfg` as an LXC config for LXC `v` on a host with `cgroups`.
pub fn render(cfg: &ContainerConfig, v: &LxcVersion, cgroups: &CgroupHost) -> Result<String> {
    let k = if v.modern_keys() { &MODERN } else { &LEGACY };
    let mut out = String::new();
    let mut line = |key: &str, value: &str| {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{key} = {value}");
    };
    plain("hostname", &cfg.hostname)?;
    if cfg.hostname.is_empty() || cfg.hostname.len() > 64 {
        return Err(Error::BadValue {
            what: "hostname",
            value: cfg.hostname.clone(),
            why: "must be 1 to 64 bytes",
        });
    }
    line(k.uts, &cfg.hostname);
    line(k.rootfs, &rootfs_value(&cfg.rootfs, v)?);
    line(k.net, "none");
    line(k.apparmor, "unconfined");
    for map in cfg.idmap.lines() {
        line(k.idmap, &map);
    }
    // LXC mounts a tmpfs on /dev and binds the host's null, zero, full, random, urandom and
    // tty into it (a user namespace cannot use device nodes on disk), and devpts on /dev/pts.
    line("lxc.autodev", "1");
    line(k.pty, "64");
    line(k.tty, "0");
    line("lxc.cap.keep", &KEPT_CAPS.join(" "));
    if cfg.no_new_privs {
        if *v < LxcVersion::new(2, 1, 0) {
            return Err(unsupported("no_new_privs", "2.1", v));
        }
        line("lxc.no_new_privs", "1");
    }
    if let Some(profile) = &cfg.seccomp {
        if !profile.is_absolute() {
            return Err(Error::BadValue {
                what: "seccomp profile",
                value: profile.display().to_string(),
                why: "must be an absolute path",
            });
        }
        line(k.seccomp, path_str("seccomp profile", profile)?);
    }

    match cgroups.devices {
        Some(CgroupVersion::V1) => {
            line("lxc.cgroup.devices.deny", "a");
            for d in ALLOWED_DEVICES {
                line("lxc.cgroup.devices.allow", d);
            }
        }
        Some(CgroupVersion::V2) => {
            if *v < LxcVersion::new(4, 0, 0) {
                return Err(unsupported("the devices cgroup on cgroup v2", "4.0", v));
            }
            line("lxc.cgroup2.devices.deny", "a");
            for d in ALLOWED_DEVICES {
                line("lxc.cgroup2.devices.allow", d);
            }
        }
        None => {}
    }
    if let Some(max) = cfg.pids_max {
        match cgroups.pids {
            Some(CgroupVersion::V1) => line("lxc.cgroup.pids.max", &max.to_string()),
            Some(CgroupVersion::V2) => {
                if *v < LxcVersion::new(3, 0, 0) {
                    return Err(unsupported("a process limit on cgroup v2", "3.0", v));
                }
                line("lxc.cgroup2.pids.max", &max.to_string())
            }
            None => return Err(Error::NoPidsCgroup),
        }
    }
    memory_lines(cfg, v, cgroups, &mut line)?;

    if let Some((uid, gid)) = cfg.user {
        if cfg.idmap.to_host((uid, gid)).is_none() {
            return Err(Error::BadValue {
                what: "user",
                value: format!("{uid}:{gid}"),
                why: "is outside the container's id map",
            });
        }
        if v.modern_keys() {
            line("lxc.init.uid", &uid.to_string());
            line("lxc.init.gid", &gid.to_string());
        } else if *v >= LxcVersion::new(2, 0, 0) {
            line("lxc.init_uid", &uid.to_string());
            line("lxc.init_gid", &gid.to_string());
        } else {
            return Err(unsupported("running the command as a user", "2.0", v));
        }
    }
    if crate::started::has_start_hook(v) {
        line(
            crate::started::START_HOST_KEY,
            crate::started::START_HOST_HOOK,
        );
    }
    for (key, value) in &cfg.environment {
        plain("environment variable", key)?;
        plain("environment variable", value)?;
        line("lxc.environment", &format!("{key}={value}"));
    }

    line(
        "lxc.mount.entry",
        "proc proc proc ro,nodev,noexec,nosuid,create=dir 0 0",
    );
    // sysfs cannot be mounted in a user namespace that shares the host's network namespace:
    // the host's /sys, bound read-only (recursively: its locked submounts must come along),
    // with an empty tmpfs over the host's cgroup tree.
    line("lxc.mount.entry", "/sys sys none rbind,ro,create=dir 0 0");
    line(
        "lxc.mount.entry",
        "tmpfs sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0",
    );
    line(
        "lxc.mount.entry",
        "tmpfs dev/shm tmpfs nosuid,nodev,mode=1777,create=dir 0 0",
    );
    let mut binds = Vec::new();
    if cfg.host_dns {
        for f in ["/etc/resolv.conf", "/etc/hosts"] {
            binds.push(BindMount {
                source: f.into(),
                target: f.into(),
                read_only: true,
                kind: BindKind::File,
            });
        }
    }
    binds.extend(cfg.binds.iter().cloned());
    for b in &binds {
        if !b.source.is_absolute() {
            return Err(Error::BadValue {
                what: "bind mount source",
                value: b.source.display().to_string(),
                why: "must be an absolute path",
            });
        }
        let src = fstab_path("bind mount source", &b.source)?;
        let tgt = fstab_path("mount target", &relative_target(&b.target)?)?;
        let ro = if b.read_only { ",ro" } else { "" };
        let create = match b.kind {
            BindKind::Dir => "dir",
            BindKind::File => "file",
        };
        line(
            "lxc.mount.entry",
            &format!("{src} {tgt} none bind{ro},create={create} 0 0"),
        );
    }
    Ok(out)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "config/containment_tests.rs"]
mod containment_tests;
