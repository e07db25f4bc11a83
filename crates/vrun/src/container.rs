//! A proc as vrun sees it (its proc.yaml, name and host paths) and the containers made for it:
//! the proc's own, and the ones beside it (uptest, shell) with a throwaway upper layer.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use vr_lxc::{BindKind, BindMount, CgroupHost, ContainerConfig, IdMap, RealSys, Rootfs};
use vr_proc::{Layout, ProcConfig, ProcPaths};

/// The proc's copy of vr's seccomp profile, beside its `proc.lxc`.
pub const SECCOMP_FILE: &str = "seccomp";

/// The proc's `/etc/hosts` (bound read-only over the image's), beside its `proc.lxc`.
pub const HOSTS_FILE: &str = "hosts";

/// The largest host `/etc/hosts` copied into a proc's.
const MAX_HOSTS_BYTES: u64 = 1 << 20;

/// The `/etc/hosts` of a container named `hostname`: the host's entries, then the container's
/// own name on 127.0.1.1 (as Debian does for a host without a fixed address), so that
/// `getent hosts $(hostname)` and `gethostbyname(gethostname())` work inside it.
pub fn hosts_file(host_hosts: &str, hostname: &str) -> String {
    let mut text = String::from(
        "# Written by vrun setup: the host's /etc/hosts, then this container's name.\n",
    );
    text.push_str(host_hosts);
    if !host_hosts.is_empty() && !host_hosts.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("127.0.1.1\t{hostname}\n"));
    text
}

/// Writes the proc's [`HOSTS_FILE`] from the host's `/etc/hosts` (none: only its own name).
pub fn write_hosts(proc: &Proc) -> Result<()> {
    use std::io::Read;
    let mut host = String::new();
    if let Ok(file) = std::fs::File::open("/etc/hosts") {
        let _ = file.take(MAX_HOSTS_BYTES).read_to_string(&mut host);
    }
    let text = hosts_file(&host, &vr_lxc::hostname_for(&proc.name));
    write_atomic(&proc.paths.dir.join(HOSTS_FILE), &text, 0o644)
}

/// A loaded proc.yaml with its container name and paths.
pub struct Proc {
    /// The parsed proc.yaml.
    pub cfg: ProcConfig,
    /// `app_name-version-config_name-release_hash-proc_name-port`.
    pub name: String,
    /// The host layout (`VR_ROOT`).
    pub layout: Layout,
    /// This proc's folders.
    pub paths: ProcPaths,
}

impl Proc {
    /// Loads `file` and computes the name and paths.
    pub fn load(file: &Path) -> Result<Proc> {
        let cfg = ProcConfig::load(file)?;
        for warning in &cfg.warnings {
            eprintln!("vrun: warning: {warning}");
        }
        let name = cfg.container_name()?;
        let layout = Layout::from_env(std::env::var_os("VR_ROOT"));
        let paths = layout.proc_paths(&name)?;
        Ok(Proc {
            cfg,
            name,
            layout,
            paths,
        })
    }

    /// The unpacked image (`images/<image_name>/contents`).
    pub fn image_contents(&self) -> Result<PathBuf> {
        Ok(self.layout.image_contents(self.cfg.image_name()?)?)
    }

    /// The image tree the proc was set up on (see [`crate::pins`]): `contents`, or the tree
    /// kept aside when `contents` was replaced since; an error saying to set it up again when
    /// it is gone.
    pub fn image_tree(&self) -> Result<PathBuf> {
        let image_dir = self.layout.image_dir(self.cfg.image_name()?)?;
        crate::pins::pinned_tree(&self.paths.dir, &image_dir, &self.name, &self.cfg.file)
    }

    /// The proc's layer (`rootfs/`) as a handle that never follows a link the app planted.
    pub fn layer(&self) -> Result<vr_fs::Beneath> {
        Ok(vr_fs::Beneath::open(&self.paths.rootfs)?)
    }

    /// The id map the proc was set up with (from its `proc.lxc`): its files on disk carry
    /// ids shifted by it. A proc set up by an older vrun (no user namespace) has none: an error
    /// saying to set it up again.
    pub fn set_up_idmap(&self) -> Result<IdMap> {
        self.idmap_of_config(&self.read_config()?)
    }

    /// The proc's `proc.lxc`.
    pub fn read_config(&self) -> Result<String> {
        let path = &self.paths.lxc_config;
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }

    /// [`Proc::set_up_idmap`] of the text of `proc.lxc`, already read.
    pub fn idmap_of_config(&self, text: &str) -> Result<IdMap> {
        let path = &self.paths.lxc_config;
        match IdMap::of_config(text) {
            Some(map) => {
                // The image may have been unpacked again for another map since (VR_IDMAP
                // changed and another proc was set up): its owners would not match.
                let contents = self.image_tree()?;
                if !unpacked_for(&contents, &map) {
                    bail!(
                        "the image of {} ({}) is not unpacked for the id map it was set up with: run `vrun setup {}` again",
                        self.name,
                        contents.display(),
                        self.cfg.file.display()
                    );
                }
                Ok(map)
            }
            None => bail!(
                "{} was set up by an older vrun, without a user namespace ({} has no lxc.idmap): run `vrun setup {}` again",
                self.name,
                path.display(),
                self.cfg.file.display()
            ),
        }
    }
}

/// Stops a container of this proc that outlived the vrun that started it (it and its
/// lxc-execute killed at once), saying so; call it holding the proc's lock.
pub fn stop_stale(proc: &Proc) {
    let killed = vr_lxc::stale::stop_stale(
        &vr_lxc::stale::Host::default(),
        &proc.name,
        &proc.paths.rootfs,
        std::time::Duration::from_secs(5),
    );
    if !killed.is_empty() {
        let pids: Vec<String> = killed.iter().map(i32::to_string).collect();
        eprintln!(
            "vrun: {}: stopped its container, left running by an earlier vrun (pids {})",
            proc.name,
            pids.join(" ")
        );
    }
}

/// Whether the image tree `tree` was unpacked for containers of `map`: for `contents`, its
/// stamp says so; a tree kept aside has no stamp of its own, and its top folder (the
/// tarball's root) must belong to the map's root.
pub fn unpacked_for(tree: &Path, map: &IdMap) -> bool {
    use std::os::unix::fs::MetadataExt;
    if tree.file_name() == Some(std::ffi::OsStr::new(crate::pins::CONTENTS)) {
        return vr_fetch::unpacked_shift(tree) == Some(image_shift(map));
    }
    std::fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir() && m.uid() == map.host_uid)
}

/// How an image is unpacked for containers of `map`: owners shifted by its bases.
pub fn image_shift(map: &IdMap) -> vr_fetch::IdShift {
    vr_fetch::IdShift {
        uid_base: map.host_uid,
        gid_base: map.host_gid,
        count: map.count,
    }
}

/// The host's id map for new containers (`VR_IDMAP`, root's /etc/subuid and /etc/subgid, or
/// the default), checked to be delegated to root where LXC's newuidmap needs it.
pub fn host_idmap() -> Result<IdMap> {
    Ok(IdMap::for_host(&RealSys)?)
}

/// A numeric `user` or `group` outside the mapped ids (4294967295 among them, LXC's "do not
/// switch" value) is an error naming the key, before anything is created.
pub fn check_numeric_ids(cfg: &ProcConfig, map: &IdMap) -> Result<()> {
    for (key, value) in [("user", &cfg.user), ("group", &cfg.group)] {
        let Some(text) = value.as_deref() else {
            continue;
        };
        if let Ok(id) = text.trim().parse::<u64>() {
            check_id(cfg, key, text, id, map)?;
        }
    }
    Ok(())
}

fn check_id(cfg: &ProcConfig, key: &str, value: &str, id: u64, map: &IdMap) -> Result<()> {
    if id >= u64::from(map.count) {
        bail!(
            "{key} {value:?} of {}: id {id} is outside the ids mapped into containers (0-{})",
            cfg.file.display(),
            map.count - 1
        );
    }
    Ok(())
}

/// The uid and gid the app runs as: `user` (required) and `group` (default: the user's primary
/// group) resolved in the image's /etc/passwd and /etc/group (read without following any
/// symlink in the image), both inside `map`.
pub fn resolve_user(cfg: &ProcConfig, contents: &Path, map: &IdMap) -> Result<(u32, u32)> {
    let image = vr_fs::Beneath::open(contents)?;
    let read = |rel: &str| -> Result<String> {
        let bytes = image
            .read_file(Path::new(rel), vr_proc::MAX_CONFIG_BYTES)
            .with_context(|| format!("cannot read the image's /{rel}"))?
            .with_context(|| {
                format!(
                    "the image has no /{rel} ({} is missing)",
                    contents.join(rel).display()
                )
            })?;
        String::from_utf8(bytes).with_context(|| format!("the image's /{rel} is not UTF-8 text"))
    };
    let user = cfg.user()?;
    let passwd = read("etc/passwd")?;
    let ids = vr_proc::lookup_user_ids(&passwd, user)
        .with_context(|| format!("user {user:?} of {}", cfg.file.display()))?;
    check_id(cfg, "user", user, u64::from(ids.uid), map)?;
    let gid = match cfg.group.as_deref().filter(|g| !g.is_empty()) {
        Some(group) => {
            let groups = read("etc/group")?;
            let gid = vr_proc::lookup_group(&groups, group)
                .with_context(|| format!("group {group:?} of {}", cfg.file.display()))?;
            check_id(cfg, "group", group, u64::from(gid), map)?;
            gid
        }
        None => {
            let gid = ids.gid.unwrap_or(ids.uid);
            check_id(cfg, "user", user, u64::from(gid), map)?;
            gid
        }
    };
    Ok((ids.uid, gid))
}

/// The proc's container: the image under the proc's layer, as the app's user, with its
/// volumes and limits, in the user namespace `map`, with vr's seccomp profile and
/// `no_new_privs`.
pub fn proc_container(
    proc: &Proc,
    user: (u32, u32),
    contents: &Path,
    map: IdMap,
) -> Result<ContainerConfig> {
    let mut c = ContainerConfig::new(
        vr_lxc::hostname_for(&proc.name),
        Rootfs::Overlay {
            lowers: vec![contents.to_path_buf()],
            upper: proc.paths.rootfs.clone(),
        },
        map,
    );
    c.seccomp = Some(proc.paths.dir.join(SECCOMP_FILE));
    c.no_new_privs = true;
    c.pids_max = Some(proc.cfg.pids_limit_or_default());
    c.user = Some(user);
    for v in &proc.cfg.volumes {
        c.binds.push(BindMount {
            source: v.host.clone(),
            target: v.container.clone(),
            read_only: false,
            kind: BindKind::Dir,
        });
    }
    // Setup writes it; a proc set up by an older vrun has none and keeps the image's.
    let hosts = proc.paths.dir.join(HOSTS_FILE);
    if hosts.is_file() {
        c.binds.push(BindMount {
            source: hosts,
            target: PathBuf::from("/etc/hosts"),
            read_only: true,
            kind: BindKind::File,
        });
    }
    c.mem_limit = proc.cfg.mem_limit_bytes();
    c.memsw_limit = proc.cfg.memsw_limit_bytes();
    Ok(c)
}

/// A container identical to the proc's, but whose writable layer is `upper` (a throwaway
/// folder) over the proc's layer and the image, so it can run beside the proc without
/// mounting the proc's layer a second time as an upper; plus read-only `tools` binds.
pub fn beside_container(
    proc: &Proc,
    user: (u32, u32),
    contents: &Path,
    map: IdMap,
    upper: &Path,
    tools: &[(PathBuf, &str)],
    environment: Vec<(String, String)>,
) -> Result<ContainerConfig> {
    let mut c = proc_container(proc, user, contents, map)?;
    c.rootfs = Rootfs::Overlay {
        lowers: vec![proc.paths.rootfs.clone(), contents.to_path_buf()],
        upper: upper.to_path_buf(),
    };
    for (source, target) in tools {
        c.binds.push(BindMount {
            source: source.clone(),
            target: PathBuf::from(target),
            read_only: true,
            kind: BindKind::File,
        });
    }
    c.environment = environment;
    Ok(c)
}

/// Renders `c` for the installed LXC and this host's cgroups.
pub fn render_for_host(c: &ContainerConfig) -> Result<String> {
    let version = vr_lxc::detect_version(&RealSys)?;
    let cgroups = CgroupHost::detect(&RealSys)?;
    Ok(vr_lxc::render(c, &version, &cgroups)?)
}

/// Writes `text` to `path` (in a folder only host root writes, never a container's layer)
/// through a temp file and a rename.
pub fn write_atomic(path: &Path, text: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_from(yaml: &str) -> Proc {
        let cfg = ProcConfig::parse(Path::new("/p.yaml"), yaml).unwrap();
        let name = cfg.container_name().unwrap();
        let layout = Layout::new("/apps");
        let paths = layout.proc_paths(&name).unwrap();
        Proc {
            cfg,
            name,
            layout,
            paths,
        }
    }

    const YAML: &str =
        "app_name: a\nversion: v1\nconfig_name: c\nrelease_hash: h\nproc_name: web\nport: 5000\n\
        user: app\nimage_name: img\nvolumes: [[/srv/data, /data]]\nmem_limit: 64M\n";

    #[test]
    fn the_proc_container() {
        let p = proc_from(YAML);
        let c = proc_container(
            &p,
            (1000, 1000),
            Path::new("/apps/images/img/contents"),
            IdMap::DEFAULT,
        )
        .unwrap();
        assert_eq!(
            c.rootfs,
            Rootfs::Overlay {
                lowers: vec!["/apps/images/img/contents".into()],
                upper: "/apps/procs/a-v1-c-h-web-5000/rootfs".into(),
            }
        );
        assert_eq!(c.user, Some((1000, 1000)));
        assert_eq!(c.idmap, IdMap::DEFAULT);
        assert_eq!(
            c.seccomp.as_deref(),
            Some(Path::new("/apps/procs/a-v1-c-h-web-5000/seccomp"))
        );
        assert!(c.no_new_privs);
        assert_eq!(c.pids_max, Some(vr_proc::DEFAULT_PIDS_LIMIT));
        assert_eq!(c.hostname, "a-v1-c-h-web-5000");
        assert_eq!(c.mem_limit, Some(64 << 20));
        assert_eq!(c.binds.len(), 1);
        assert_eq!(c.binds[0].target, PathBuf::from("/data"));
        assert!(!c.binds[0].read_only);
    }

    #[test]
    fn the_hosts_file_ends_with_the_containers_name() {
        assert_eq!(
            hosts_file("127.0.0.1\tlocalhost\n::1 localhost", "a-v1-web-5000"),
            "# Written by vrun setup: the host's /etc/hosts, then this container's name.\n\
             127.0.0.1\tlocalhost\n::1 localhost\n127.0.1.1\ta-v1-web-5000\n"
        );
        assert!(hosts_file("", "x").ends_with("# Written by vrun setup: the host's /etc/hosts, then this container's name.\n127.0.1.1\tx\n"));
    }

    #[test]
    fn ids_outside_the_map_are_refused_naming_the_key() {
        let yaml = |extra: &str| format!("{YAML}{extra}");
        let cases = [
            ("", None),
            ("group: \"65535\"\n", None),
            ("group: \"4294967295\"\n", Some("group \"4294967295\" of /p.yaml: id 4294967295 is outside the ids mapped into containers (0-65535)")),
            ("group: \"65536\"\n", Some("group \"65536\" of /p.yaml: id 65536 is outside the ids mapped into containers (0-65535)")),
            ("group: \"99999999999\"\n", Some("group \"99999999999\" of /p.yaml: id 99999999999 is outside the ids mapped into containers (0-65535)")),
        ];
        for (extra, want) in cases {
            let p = proc_from(&yaml(extra));
            let got = check_numeric_ids(&p.cfg, &IdMap::DEFAULT)
                .err()
                .map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "{extra}");
        }
        let p = proc_from(&YAML.replace("user: app", "user: \"4294967295\""));
        assert_eq!(
            check_numeric_ids(&p.cfg, &IdMap::DEFAULT).unwrap_err().to_string(),
            "user \"4294967295\" of /p.yaml: id 4294967295 is outside the ids mapped into containers (0-65535)"
        );
    }

    #[test]
    fn the_container_beside_never_writes_into_the_proc_layer() {
        let p = proc_from(YAML);
        let c = beside_container(
            &p,
            (1000, 1000),
            Path::new("/apps/images/img/contents"),
            IdMap::DEFAULT,
            Path::new("/apps/procs/a-v1-c-h-web-5000/.uptest-x/upper"),
            &[("/usr/local/bin/vuptest".into(), "/.vr/vuptest")],
            vec![],
        )
        .unwrap();
        let Rootfs::Overlay { lowers, upper } = &c.rootfs else {
            panic!("not an overlay: {:?}", c.rootfs);
        };
        assert_eq!(
            lowers,
            &[
                PathBuf::from("/apps/procs/a-v1-c-h-web-5000/rootfs"),
                PathBuf::from("/apps/images/img/contents")
            ]
        );
        assert_ne!(upper, &p.paths.rootfs);
        let tool = c.binds.last().unwrap();
        assert!(tool.read_only);
        assert_eq!(tool.kind, BindKind::File);
        assert_eq!(tool.target, PathBuf::from("/.vr/vuptest"));
    }
}
