//! vr's tree: `vr-root` (its owner and mode) and `vr-root-path` (the folders above it).

use super::{sh_quote, Check, Inputs, Kind, Probe};
use std::io::ErrorKind;
use std::path::Path;
use vr_lxc::host::{searchable_by, ROOT_MODE};
use vr_lxc::IdMap;

const NO_MAP: &str =
    "cannot tell the containers' host ids: their range is unusable (see the id-range check)";
const NO_MAP_FIX: &str = "fix the id-range check first";

/// `vr-root`: `VR_ROOT` is absent (setup creates it) or a folder (not a link) owned by host
/// root and the containers' root group, mode 0710, as setup leaves it: closed to other host
/// users, passable by the containers' root.
pub fn vr_root(probe: &dyn Probe, inputs: &Inputs, map: Option<&IdMap>) -> Check {
    const NAME: &str = "vr-root";
    let root = &inputs.vr_root;
    let shown = root.display();
    let gid = map.map_or("<containers' gid>".to_string(), |m| m.host_gid.to_string());
    let meta = match probe.stat(root, false) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Check::pass(
                NAME,
                format!(
                    "{shown} does not exist yet: vrun setup creates it, {ROOT_MODE:04o} root:{gid}"
                ),
            )
        }
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read {shown}: {e}"),
                "set VR_ROOT to a folder root can read",
            )
        }
    };
    match meta.kind {
        Kind::Dir => {}
        Kind::Symlink => {
            return Check::fail(
                NAME,
                format!("{shown} is a symlink: vrun needs VR_ROOT to be a folder itself"),
                "set VR_ROOT to the folder the link points to",
            )
        }
        _ => {
            return Check::fail(
                NAME,
                format!("{shown} is not a folder"),
                format!(
                    "mv {0} {0}.old (or set VR_ROOT to another path)",
                    sh_quote(root)
                ),
            )
        }
    }
    let Some(map) = map else {
        return Check::fail(NAME, format!("{shown}: {NO_MAP}"), NO_MAP_FIX);
    };
    let want = (0, map.host_gid, ROOT_MODE);
    if (meta.uid, meta.gid, meta.mode) == want {
        return Check::pass(
            NAME,
            format!("{shown}: {ROOT_MODE:04o} root:{gid}, closed to other host users"),
        );
    }
    let mut why = Vec::new();
    if meta.mode & 0o007 != 0 || (meta.gid != map.host_gid && meta.mode & 0o070 != 0) {
        why.push("other host users can enter it");
    }
    let (uid, cgid) = map.root();
    if !searchable_by(meta.mode, meta.uid, meta.gid, uid, cgid) {
        why.push("the containers' root cannot pass through it");
    }
    if why.is_empty() {
        why.push("not as setup leaves it");
    }
    Check::fail(
        NAME,
        format!(
            "{shown} is {:04o} {}:{}, not {ROOT_MODE:04o} root:{gid}: {} (vrun setup also fixes this)",
            meta.mode,
            meta.uid,
            meta.gid,
            why.join(", ")
        ),
        format!(
            "chown root:{gid} {0} && chmod {ROOT_MODE:04o} {0}",
            sh_quote(root)
        ),
    )
}

/// `vr-root-path`: LXC mounts a container's layers as the containers' root (an unprivileged
/// host uid), so every existing folder above `VR_ROOT` must be searchable by it.
pub fn vr_root_path(probe: &dyn Probe, inputs: &Inputs, map: Option<&IdMap>) -> Check {
    const NAME: &str = "vr-root-path";
    let root = &inputs.vr_root;
    let Some(map) = map else {
        return Check::fail(NAME, NO_MAP, NO_MAP_FIX);
    };
    let (uid, gid) = map.root();
    let mut above: Vec<&Path> = root
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    above.reverse();
    let mut closed = Vec::new();
    let mut seen = Vec::new();
    for dir in above {
        match probe.stat(dir, true) {
            Ok(m) if m.kind != Kind::Dir => {
                return Check::fail(
                    NAME,
                    format!("{} is not a folder", dir.display()),
                    "set VR_ROOT to a path below folders",
                )
            }
            Ok(m) => {
                seen.push(dir);
                if !searchable_by(m.mode, m.uid, m.gid, uid, gid) {
                    closed.push(dir);
                }
            }
            // setup creates the rest, searchable (0755 under umask 022).
            Err(e) if e.kind() == ErrorKind::NotFound => break,
            Err(e) => {
                return Check::fail(
                    NAME,
                    format!("cannot read {}: {e}", dir.display()),
                    "set VR_ROOT to a path root can read",
                )
            }
        }
    }
    if closed.is_empty() {
        let list: Vec<String> = seen.iter().map(|d| d.display().to_string()).collect();
        return Check::pass(
            NAME,
            format!(
                "every existing folder above {} ({}) is searchable by the containers' root (host uid {uid}, gid {gid})",
                root.display(),
                list.join(", "),
            ),
        );
    }
    let names: Vec<String> = closed.iter().map(|d| d.display().to_string()).collect();
    let words: Vec<String> = closed.iter().map(|d| sh_quote(d)).collect();
    let verb = if closed.len() == 1 { "is" } else { "are" };
    Check::fail(
        NAME,
        format!(
            "{} {verb} not searchable by the containers' root (host uid {uid}, gid {gid}), so LXC cannot mount their layers; open {} or set VR_ROOT elsewhere",
            names.join(", "),
            if closed.len() == 1 { "it" } else { "them" },
        ),
        format!("chmod o+x {}", words.join(" ")),
    )
}

#[cfg(test)]
mod tests {
    use super::super::probe::fake::{healthy, FakeProbe};
    use super::*;
    use std::path::PathBuf;

    fn triple(c: Check) -> (bool, String, Option<String>) {
        (c.passed, c.detail, c.fix)
    }

    const MAP: IdMap = IdMap::DEFAULT;

    #[test]
    fn vr_root_table() {
        type Setup = fn(&FakeProbe);
        let cases: [(&str, Setup, bool, &str, Option<&str>); 6] = [
            ("absent", |_| {}, true, "/apps does not exist yet: vrun setup creates it, 0710 root:100000", None),
            (
                "as setup leaves it",
                |p| p.set_stat("/apps", Kind::Dir, 0o710, 0, 100_000),
                true,
                "/apps: 0710 root:100000, closed to other host users",
                None,
            ),
            (
                "open",
                |p| p.set_stat("/apps", Kind::Dir, 0o755, 0, 0),
                false,
                "/apps is 0755 0:0, not 0710 root:100000: other host users can enter it (vrun setup also fixes this)",
                Some("chown root:100000 /apps && chmod 0710 /apps"),
            ),
            (
                "closed to the containers",
                |p| p.set_stat("/apps", Kind::Dir, 0o700, 0, 0),
                false,
                "/apps is 0700 0:0, not 0710 root:100000: the containers' root cannot pass through it (vrun setup also fixes this)",
                Some("chown root:100000 /apps && chmod 0710 /apps"),
            ),
            (
                "a link",
                |p| p.set_stat("/apps", Kind::Symlink, 0o777, 0, 0),
                false,
                "/apps is a symlink: vrun needs VR_ROOT to be a folder itself",
                Some("set VR_ROOT to the folder the link points to"),
            ),
            (
                "a file",
                |p| p.set_stat("/apps", Kind::File, 0o644, 0, 0),
                false,
                "/apps is not a folder",
                Some("mv /apps /apps.old (or set VR_ROOT to another path)"),
            ),
        ];
        for (name, setup, passed, detail, fix) in cases {
            let (p, inputs) = healthy();
            setup(&p);
            let got = triple(vr_root(&p, &inputs, Some(&MAP)));
            assert_eq!(
                got,
                (passed, detail.to_string(), fix.map(str::to_string)),
                "{name}"
            );
        }
        let (p, inputs) = healthy();
        p.set_stat("/apps", Kind::Dir, 0o710, 0, 100_000);
        let c = vr_root(&p, &inputs, None);
        assert_eq!(c.fix.as_deref(), Some("fix the id-range check first"));
    }

    #[test]
    fn the_path_above_vr_root() {
        let (p, mut inputs) = healthy();
        inputs.vr_root = PathBuf::from("/srv/my vr/root");
        p.set_stat("/srv", Kind::Dir, 0o755, 0, 0);
        let c = vr_root_path(&p, &inputs, Some(&MAP));
        assert_eq!(
            triple(c),
            (true, "every existing folder above /srv/my vr/root (/, /srv) is searchable by the containers' root (host uid 100000, gid 100000)".into(), None)
        );
        p.set_stat("/srv/my vr", Kind::Dir, 0o700, 0, 0);
        p.set_stat("/srv", Kind::Dir, 0o750, 0, 0);
        let c = vr_root_path(&p, &inputs, Some(&MAP));
        assert_eq!(
            triple(c),
            (
                false,
                "/srv, /srv/my vr are not searchable by the containers' root (host uid 100000, gid 100000), so LXC cannot mount their layers; open them or set VR_ROOT elsewhere".into(),
                Some("chmod o+x /srv '/srv/my vr'".into())
            )
        );
        // The containers' group may pass (as setup makes VR_ROOT's own subfolders).
        p.set_stat("/srv", Kind::Dir, 0o710, 0, 100_000);
        p.set_stat("/srv/my vr", Kind::Dir, 0o711, 0, 0);
        assert!(vr_root_path(&p, &inputs, Some(&MAP)).passed);
        assert!(!vr_root_path(&p, &inputs, None).passed);
    }
}
