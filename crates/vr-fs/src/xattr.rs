//! Extended attributes as vr carries them between a file system and a tarball.
//!
//! A tarball carries an xattr as a PAX record `SCHILY.xattr.<name>` (GNU tar `--xattrs`) and a
//! POSIX ACL as `SCHILY.acl.access` / `SCHILY.acl.default` in the short text form with numeric
//! ids (GNU tar `--acls --numeric-owner`: `user::rw-,user:1000:r--,group::r--,mask::r--,other::r--`).
//! vr carries only what means the same on another host ([`portable`]): `user.*` but
//! `user.overlay.*`, the file capability `security.capability` and the two ACLs. `trusted.*`
//! (overlayfs reads `trusted.overlay.*` on its layers, `user.overlay.*` under `userxattr`: an
//! image must not plant redirects or whiteouts),
//! `security.selinux`/`ima`/`evm` and anything else are never read from disk nor written.
//!
//! Ids inside the values follow the owners of the files: on disk a user-namespaced tree holds
//! host ids (`base + id`), the tarball holds the ids the container sees. A file capability is
//! written to disk as a version 3 capability whose root id is the container's root on the host
//! (`uid_base + rootid`): the kernel honours it for that namespace's root only, never for a
//! process of the host, which sees a v3 capability of a root that is not its own. In the
//! tarball it is a version 2 capability (root id 0, what `setcap` writes on a plain host), or
//! version 3 with the unshifted root id when that is not 0.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// The ids of a user namespace on the host: container id `i` is host id `base + i` for
/// `i < count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// Host uid of the container's uid 0.
    pub uid_base: u32,
    /// Host gid of the container's gid 0.
    pub gid_base: u32,
    /// How many ids are mapped.
    pub count: u32,
}

/// The id a user namespace shows for a host id outside its map.
const OVERFLOW_ID: u32 = 65_534;

const CAP: &str = "security.capability";
const ACL_ACCESS: &str = "system.posix_acl_access";
const ACL_DEFAULT: &str = "system.posix_acl_default";
const PAX_XATTR: &str = "SCHILY.xattr.";
const PAX_ACL_ACCESS: &str = "SCHILY.acl.access";
const PAX_ACL_DEFAULT: &str = "SCHILY.acl.default";

/// Whether vr carries the xattr `name` between disk and tarball.
pub fn portable(name: &str) -> bool {
    // overlayfs mounted with `userxattr` (as in an unprivileged user namespace) reads
    // `user.overlay.*` as it reads `trusted.overlay.*`: redirects, whiteouts, opaque folders.
    (name.starts_with("user.") && !name.starts_with(OVERLAY_USER))
        || matches!(name, CAP | ACL_ACCESS | ACL_DEFAULT)
}

/// The prefix of the xattrs overlayfs reads on its layers when mounted with `userxattr`.
const OVERLAY_USER: &str = "user.overlay.";

/// The largest xattr value or name list the kernel hands out (XATTR_SIZE_MAX, XATTR_LIST_MAX).
const XATTR_MAX: usize = 64 * 1024;

/// The portable xattrs of `path` itself (a symlink's own, never its target's), sorted by
/// name. A file system without xattr support has none.
pub fn read(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut list = vec![0u8; XATTR_MAX];
    let len = match rustix::fs::llistxattr(path, &mut list[..]) {
        Ok(len) => len,
        Err(e) if e == rustix::io::Errno::OPNOTSUPP => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    let mut value = vec![0u8; XATTR_MAX];
    for name in list[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if !portable(name) {
            continue;
        }
        match rustix::fs::lgetxattr(path, name, &mut value[..]) {
            Ok(n) => out.push((name.to_string(), value[..n].to_vec())),
            // Removed in between.
            Err(e) if e == rustix::io::Errno::NODATA => {}
            Err(e) => return Err(e.into()),
        }
    }
    out.sort();
    Ok(out)
}

/// Sets the xattr `name` on `path` itself (lsetxattr: a symlink is never followed).
pub fn set(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty()).map_err(Into::into)
}

/// Sets the xattr `name` on the open file `file`.
pub fn fset(file: &impl AsFd, name: &str, value: &[u8]) -> io::Result<()> {
    rustix::fs::fsetxattr(file, name, value, rustix::fs::XattrFlags::empty()).map_err(Into::into)
}

/// The PAX record (key, value) that carries the on-disk xattr `name` = `value` in a tarball,
/// its ids taken back out of `unshift` (host ids -> the container's); None when vr does not
/// carry it ([`portable`]), when it is malformed, or when it is a capability of a root outside
/// the map (it means nothing in the container).
pub fn to_pax(name: &str, value: &[u8], unshift: Option<Shift>) -> Option<(String, Vec<u8>)> {
    match name {
        CAP => {
            let cap = Cap::parse(value).ok()?;
            let cap = match unshift {
                Some(s) => cap.with_rootid(
                    cap.rootid
                        .checked_sub(s.uid_base)
                        .filter(|r| *r < s.count)?,
                ),
                None => cap,
            };
            Some((format!("{PAX_XATTR}{CAP}"), cap.encode()))
        }
        ACL_ACCESS | ACL_DEFAULT => {
            let mut acl = Acl::parse(value).ok()?;
            if let Some(s) = unshift {
                acl.map_ids(|is_user, id| {
                    let base = if is_user { s.uid_base } else { s.gid_base };
                    Ok(id
                        .checked_sub(base)
                        .filter(|i| *i < s.count)
                        .unwrap_or(OVERFLOW_ID))
                })
                .ok()?;
            }
            let key = if name == ACL_ACCESS {
                PAX_ACL_ACCESS
            } else {
                PAX_ACL_DEFAULT
            };
            Some((key.to_string(), acl.to_text().into_bytes()))
        }
        _ if portable(name) => Some((format!("{PAX_XATTR}{name}"), value.to_vec())),
        _ => None,
    }
}

/// The xattr (name, on-disk value) a tarball's PAX record `key` = `value` asks for, its ids
/// moved into `shift` (the container's ids -> host ids). `Ok(None)`: not an xattr record, or
/// one vr does not carry (`trusted.*`, `security.selinux`, an ACL naming users by name, ...):
/// nothing is written. `Err(reason)`: the tarball is refused (an id at or beyond the map's
/// count, a malformed capability or ACL). Without a shift a capability comes back as stored
/// (a v2 one is the host root's): a caller writing to disk must drop it then, as vr-fetch does.
pub fn from_pax(
    key: &str,
    value: &[u8],
    shift: Option<Shift>,
) -> Result<Option<(String, Vec<u8>)>, String> {
    let (name, acl_text) = match key {
        PAX_ACL_ACCESS => (ACL_ACCESS, true),
        PAX_ACL_DEFAULT => (ACL_DEFAULT, true),
        _ => match key.strip_prefix(PAX_XATTR) {
            Some(name) if portable(name) => (name, false),
            _ => return Ok(None),
        },
    };
    if name == CAP {
        let cap = Cap::parse(value).map_err(|e| format!("its file capability is refused: {e}"))?;
        let cap = match shift {
            Some(s) => {
                if cap.rootid >= s.count {
                    return Err(format!(
                        "its file capability names root id {}, outside the {} ids of the \
                         containers' user namespace",
                        cap.rootid, s.count
                    ));
                }
                let rootid = s.uid_base.checked_add(cap.rootid).ok_or_else(|| {
                    format!("its file capability's root id {} overflows", cap.rootid)
                })?;
                // A shift whose base is 0 would make it the host root's.
                if rootid == 0 {
                    return Err("its file capability would be the host root's".to_string());
                }
                // Always v3: on disk the root is the container's.
                Cap {
                    v3: true,
                    ..cap.with_rootid(rootid)
                }
            }
            None => cap,
        };
        return Ok(Some((name.to_string(), cap.encode())));
    }
    if name == ACL_ACCESS || name == ACL_DEFAULT {
        let acl = if acl_text {
            match Acl::from_text(value) {
                Ok(Some(acl)) => acl,
                // Named users or groups: they belong to some other host's passwd.
                Ok(None) => return Ok(None),
                Err(e) => return Err(format!("its ACL is refused: {e}")),
            }
        } else {
            Acl::parse(value).map_err(|e| format!("its ACL is refused: {e}"))?
        };
        let mut acl = acl;
        if let Some(s) = shift {
            acl.map_ids(|is_user, id| {
                if id >= s.count {
                    return Err(format!(
                        "its ACL names {} id {id}, outside the {} ids of the containers' user \
                         namespace",
                        if is_user { "user" } else { "group" },
                        s.count
                    ));
                }
                let base = if is_user { s.uid_base } else { s.gid_base };
                base.checked_add(id)
                    .ok_or_else(|| format!("its ACL id {id} overflows"))
            })?;
        }
        return Ok(Some((name.to_string(), acl.encode())));
    }
    Ok(Some((name.to_string(), value.to_vec())))
}

/// A file capability (`struct vfs_cap_data` / `vfs_ns_cap_data`), any version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cap {
    effective: bool,
    permitted: [u32; 2],
    inheritable: [u32; 2],
    rootid: u32,
    v3: bool,
}

const CAP_REVISION_MASK: u32 = 0xFF00_0000;
const CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;
const CAP_V1: u32 = 0x0100_0000;
const CAP_V2: u32 = 0x0200_0000;
const CAP_V3: u32 = 0x0300_0000;

impl Cap {
    fn parse(v: &[u8]) -> Result<Cap, String> {
        let word = |i: usize| -> u32 {
            let b = &v[i * 4..i * 4 + 4];
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        };
        if v.len() < 4 {
            return Err(format!("{} bytes is too short", v.len()));
        }
        let magic = word(0);
        if magic & !(CAP_REVISION_MASK | CAP_FLAGS_EFFECTIVE) != 0 {
            return Err(format!("unknown flags in {magic:#010x}"));
        }
        let effective = magic & CAP_FLAGS_EFFECTIVE != 0;
        let (want, v3) = match magic & CAP_REVISION_MASK {
            CAP_V1 => (12, false),
            CAP_V2 => (20, false),
            CAP_V3 => (24, true),
            other => return Err(format!("unknown revision {other:#010x}")),
        };
        if v.len() != want {
            return Err(format!("{} bytes for a {want}-byte revision", v.len()));
        }
        let high = |i| if want >= 20 { word(i) } else { 0 };
        Ok(Cap {
            effective,
            permitted: [word(1), high(3)],
            inheritable: [word(2), high(4)],
            rootid: if v3 { word(5) } else { 0 },
            v3,
        })
    }

    /// The same capability for the root `rootid`: version 2 for 0, else version 3.
    fn with_rootid(self, rootid: u32) -> Cap {
        Cap {
            rootid,
            v3: rootid != 0,
            ..self
        }
    }

    fn encode(&self) -> Vec<u8> {
        let magic = if self.v3 { CAP_V3 } else { CAP_V2 }
            | if self.effective {
                CAP_FLAGS_EFFECTIVE
            } else {
                0
            };
        let mut words = vec![
            magic,
            self.permitted[0],
            self.inheritable[0],
            self.permitted[1],
            self.inheritable[1],
        ];
        if self.v3 {
            words.push(self.rootid);
        }
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// A POSIX ACL: (tag, perm, id) entries as the kernel's xattr holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Acl(Vec<(u16, u16, u32)>);

const ACL_VERSION: u32 = 2;
const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;
const ACL_UNDEFINED_ID: u32 = u32::MAX;

impl Acl {
    fn parse(v: &[u8]) -> Result<Acl, String> {
        if v.len() < 4 || !(v.len() - 4).is_multiple_of(8) {
            return Err(format!("{} bytes is not a POSIX ACL", v.len()));
        }
        if u32::from_le_bytes([v[0], v[1], v[2], v[3]]) != ACL_VERSION {
            return Err("not version 2".into());
        }
        let entries = v[4..]
            .chunks_exact(8)
            .map(|e| {
                (
                    u16::from_le_bytes([e[0], e[1]]),
                    u16::from_le_bytes([e[2], e[3]]),
                    u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
                )
            })
            .collect();
        let acl = Acl(entries);
        acl.check()?;
        Ok(acl)
    }

    /// Tags known, permissions rwx only, ids only on named entries.
    fn check(&self) -> Result<(), String> {
        for &(tag, perm, id) in &self.0 {
            if perm & !7 != 0 {
                return Err(format!("permission bits {perm:#x}"));
            }
            match tag {
                ACL_USER | ACL_GROUP if id == ACL_UNDEFINED_ID => {
                    return Err("a named entry without an id".into())
                }
                ACL_USER | ACL_GROUP | ACL_USER_OBJ | ACL_GROUP_OBJ | ACL_MASK | ACL_OTHER => {}
                _ => return Err(format!("unknown tag {tag:#x}")),
            }
        }
        Ok(())
    }

    /// Maps the ids of named users (`true`) and groups (`false`) with `f`.
    fn map_ids(
        &mut self,
        mut f: impl FnMut(bool, u32) -> Result<u32, String>,
    ) -> Result<(), String> {
        for (tag, _, id) in &mut self.0 {
            match *tag {
                ACL_USER => *id = f(true, *id)?,
                ACL_GROUP => *id = f(false, *id)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn encode(&self) -> Vec<u8> {
        let mut entries = self.0.clone();
        // The kernel wants them in tag order, named ones by id.
        entries.sort_by_key(|&(tag, _, id)| (tag, id));
        let mut out = ACL_VERSION.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&perm.to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
        }
        out
    }

    /// GNU tar's form: `user::rw-,user:1000:r--,group::r--,mask::r--,other::r--`.
    fn to_text(&self) -> String {
        let mut entries = self.0.clone();
        entries.sort_by_key(|&(tag, _, id)| (tag, id));
        entries
            .iter()
            .map(|&(tag, perm, id)| {
                let (kind, named) = match tag {
                    ACL_USER_OBJ => ("user", false),
                    ACL_USER => ("user", true),
                    ACL_GROUP_OBJ => ("group", false),
                    ACL_GROUP => ("group", true),
                    ACL_MASK => ("mask", false),
                    _ => ("other", false),
                };
                let q = if named { id.to_string() } else { String::new() };
                let p: String = [(4, 'r'), (2, 'w'), (1, 'x')]
                    .iter()
                    .map(|&(bit, c)| if perm & bit != 0 { c } else { '-' })
                    .collect();
                format!("{kind}:{q}:{p}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses the text form (entries split by `,` or newlines, `#` comments dropped). None when
    /// an entry names a user or group by name.
    fn from_text(v: &[u8]) -> Result<Option<Acl>, String> {
        let text = std::str::from_utf8(v).map_err(|_| "not UTF-8 text".to_string())?;
        let mut entries = Vec::new();
        for raw in text.split([',', '\n']) {
            let entry = raw.split(['#', '\t']).next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            let parts: Vec<&str> = entry.split(':').collect();
            let [kind, qual, perm] = parts[..] else {
                return Err(format!("entry {entry:?} is not tag:qualifier:permissions"));
            };
            let named = !qual.is_empty();
            let tag = match (kind, named) {
                ("user" | "u", false) => ACL_USER_OBJ,
                ("user" | "u", true) => ACL_USER,
                ("group" | "g", false) => ACL_GROUP_OBJ,
                ("group" | "g", true) => ACL_GROUP,
                ("mask" | "m", false) => ACL_MASK,
                ("other" | "o", false) => ACL_OTHER,
                _ => return Err(format!("entry {entry:?} has an unknown tag")),
            };
            let id = if named {
                match qual.parse::<u32>() {
                    Ok(id) if id != ACL_UNDEFINED_ID => id,
                    _ if qual.bytes().all(|b| b.is_ascii_digit()) => {
                        return Err(format!("entry {entry:?} has an id out of range"))
                    }
                    _ => return Ok(None),
                }
            } else {
                ACL_UNDEFINED_ID
            };
            let mut bits = 0u16;
            if perm.len() > 3 {
                return Err(format!("entry {entry:?} has bad permissions"));
            }
            for c in perm.chars() {
                bits |= match c {
                    'r' => 4,
                    'w' => 2,
                    'x' => 1,
                    '-' => 0,
                    _ => return Err(format!("entry {entry:?} has bad permissions")),
                };
            }
            entries.push((tag, bits, id));
        }
        if entries.is_empty() {
            return Err("it is empty".into());
        }
        Ok(Some(Acl(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIFT: Shift = Shift {
        uid_base: 100_000,
        gid_base: 200_000,
        count: 65_536,
    };

    /// `setcap cap_net_raw=ep` on a plain host: v2, effective, bit 13.
    fn v2_net_raw() -> Vec<u8> {
        let mut v = (CAP_V2 | CAP_FLAGS_EFFECTIVE).to_le_bytes().to_vec();
        for w in [1u32 << 13, 0, 0, 0] {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v
    }

    fn v3(rootid: u32) -> Vec<u8> {
        let mut v = v2_net_raw();
        v[..4].copy_from_slice(&(CAP_V3 | CAP_FLAGS_EFFECTIVE).to_le_bytes());
        v.extend_from_slice(&rootid.to_le_bytes());
        v
    }

    #[test]
    fn portable_names() {
        for yes in ["user.x", CAP, ACL_ACCESS, ACL_DEFAULT] {
            assert!(portable(yes), "{yes}");
        }
        for no in [
            "trusted.overlay.redirect",
            "trusted.overlay.opaque",
            "trusted.overlay.metacopy",
            "user.overlay.redirect",
            "user.overlay.opaque",
            "user.overlay.metacopy",
            "security.selinux",
            "security.ima",
            "security.evm",
            "system.nfs4_acl",
            "user",
            "",
        ] {
            assert!(!portable(no), "{no}");
        }
    }

    #[test]
    fn a_capability_goes_to_disk_as_v3_of_the_containers_root() {
        let got = from_pax(
            "SCHILY.xattr.security.capability",
            &v2_net_raw(),
            Some(SHIFT),
        );
        assert_eq!(got, Ok(Some((CAP.to_string(), v3(100_000)))));
        // A v3 record of the container's uid 5 (a nested namespace's root).
        let got = from_pax("SCHILY.xattr.security.capability", &v3(5), Some(SHIFT));
        assert_eq!(got, Ok(Some((CAP.to_string(), v3(100_005)))));
        // Without a shift it is written as stored.
        let got = from_pax("SCHILY.xattr.security.capability", &v2_net_raw(), None);
        assert_eq!(got, Ok(Some((CAP.to_string(), v2_net_raw()))));
    }

    #[test]
    fn a_capability_of_a_root_outside_the_map_is_refused() {
        let err = from_pax("SCHILY.xattr.security.capability", &v3(65_536), Some(SHIFT));
        assert!(err.unwrap_err().contains("root id 65536"));
    }

    #[test]
    fn malformed_capabilities_are_refused() {
        for bad in [
            vec![],
            vec![1, 2, 3],
            v2_net_raw()[..19].to_vec(),
            {
                let mut v = v2_net_raw();
                v[..4].copy_from_slice(&0x0400_0000u32.to_le_bytes());
                v
            },
            {
                let mut v = v2_net_raw();
                v[..4].copy_from_slice(&(CAP_V2 | 0x10).to_le_bytes());
                v
            },
        ] {
            let got = from_pax("SCHILY.xattr.security.capability", &bad, Some(SHIFT));
            assert!(got.is_err(), "{bad:?}: {got:?}");
        }
    }

    #[test]
    fn a_capability_comes_back_to_the_archive_as_the_container_saw_it() {
        assert_eq!(
            to_pax(CAP, &v3(100_000), Some(SHIFT)),
            Some(("SCHILY.xattr.security.capability".to_string(), v2_net_raw()))
        );
        assert_eq!(
            to_pax(CAP, &v3(100_007), Some(SHIFT)).map(|p| p.1),
            Some(v3(7))
        );
        // Host root's capability (v2) or another namespace's root: not the container's.
        assert_eq!(to_pax(CAP, &v2_net_raw(), Some(SHIFT)), None);
        assert_eq!(to_pax(CAP, &v3(99_999), Some(SHIFT)), None);
        assert_eq!(to_pax(CAP, &v3(165_536), Some(SHIFT)), None);
        // No namespace: as it is.
        assert_eq!(
            to_pax(CAP, &v2_net_raw(), None).map(|p| p.1),
            Some(v2_net_raw())
        );
    }

    #[test]
    fn capabilities_round_trip() {
        for cap in [v2_net_raw(), v3(3)] {
            let (key, value) = to_pax(
                CAP,
                &from_pax(&format!("SCHILY.xattr.{CAP}"), &cap, Some(SHIFT))
                    .unwrap()
                    .unwrap()
                    .1,
                Some(SHIFT),
            )
            .unwrap();
            assert_eq!(
                (key.as_str(), value),
                ("SCHILY.xattr.security.capability", cap)
            );
        }
    }

    #[test]
    fn a_capability_is_never_moved_to_the_host_root() {
        let identity = Shift {
            uid_base: 0,
            gid_base: 0,
            count: 65536,
        };
        assert_eq!(
            from_pax(
                "SCHILY.xattr.security.capability",
                &v2_net_raw(),
                Some(identity)
            ),
            Err("its file capability would be the host root's".to_string())
        );
    }

    #[test]
    fn to_pax_writes_only_what_vr_carries() {
        for name in [
            "user.overlay.redirect",
            "trusted.overlay.opaque",
            "security.ima",
        ] {
            assert_eq!(to_pax(name, b"y", None), None, "{name}");
        }
        assert!(to_pax("user.x", b"y", None).is_some());
    }

    #[test]
    fn xattrs_vr_does_not_carry_are_dropped() {
        for key in [
            "SCHILY.xattr.trusted.overlay.redirect",
            "SCHILY.xattr.trusted.overlay.opaque",
            "SCHILY.xattr.user.overlay.redirect",
            "SCHILY.xattr.user.overlay.whiteout",
            "SCHILY.xattr.security.selinux",
            "SCHILY.xattr.security.ima",
            "SCHILY.xattr.system.nfs4_acl",
            "path",
            "mtime",
            "SCHILY.acl.ace",
        ] {
            assert_eq!(from_pax(key, b"y", Some(SHIFT)), Ok(None), "{key}");
        }
        assert_eq!(to_pax("trusted.overlay.opaque", b"y", None), None);
        assert_eq!(to_pax("security.selinux", b"x", None), None);
    }

    #[test]
    fn user_xattrs_pass_as_they_are() {
        assert_eq!(
            from_pax("SCHILY.xattr.user.mime_type", b"text/plain", Some(SHIFT)),
            Ok(Some(("user.mime_type".to_string(), b"text/plain".to_vec())))
        );
        assert_eq!(
            to_pax("user.mime_type", b"text/plain", Some(SHIFT)),
            Some((
                "SCHILY.xattr.user.mime_type".to_string(),
                b"text/plain".to_vec()
            ))
        );
    }

    fn acl_bin(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        Acl(entries.to_vec()).encode()
    }

    #[test]
    fn acl_text_is_shifted_onto_disk() {
        let text = b"user::rw-,user:1000:r--,group::r--,group:50:rw-,mask::rw-,other::---";
        let got = from_pax("SCHILY.acl.access", text, Some(SHIFT))
            .unwrap()
            .unwrap();
        assert_eq!(got.0, ACL_ACCESS);
        assert_eq!(
            got.1,
            acl_bin(&[
                (ACL_USER_OBJ, 6, ACL_UNDEFINED_ID),
                (ACL_USER, 4, 101_000),
                (ACL_GROUP_OBJ, 4, ACL_UNDEFINED_ID),
                (ACL_GROUP, 6, 200_050),
                (ACL_MASK, 6, ACL_UNDEFINED_ID),
                (ACL_OTHER, 0, ACL_UNDEFINED_ID),
            ])
        );
        // And back, as GNU tar writes it.
        assert_eq!(
            to_pax(ACL_ACCESS, &got.1, Some(SHIFT)),
            Some(("SCHILY.acl.access".to_string(), text.to_vec()))
        );
    }

    #[test]
    fn acl_text_as_getfacl_prints_it_is_read() {
        let text = b"user::rwx\nuser:7:r-x\t#effective:r--\ngroup::r-x\nmask::r--\nother::r-x\n";
        let got = from_pax("SCHILY.acl.default", text, None).unwrap().unwrap();
        assert_eq!(got.0, ACL_DEFAULT);
        assert_eq!(
            Acl::parse(&got.1).unwrap().to_text(),
            "user::rwx,user:7:r-x,group::r-x,mask::r--,other::r-x"
        );
    }

    #[test]
    fn acls_naming_ids_outside_the_map_are_refused() {
        let err = from_pax(
            "SCHILY.acl.access",
            b"user::rw-,user:70000:r--,group::r--,mask::r--,other::---",
            Some(SHIFT),
        );
        assert!(err.unwrap_err().contains("user id 70000"));
        let bin = acl_bin(&[(ACL_USER_OBJ, 6, ACL_UNDEFINED_ID), (ACL_GROUP, 4, 65_536)]);
        let err = from_pax("SCHILY.xattr.system.posix_acl_access", &bin, Some(SHIFT));
        assert!(err.unwrap_err().contains("group id 65536"));
    }

    #[test]
    fn acls_naming_users_by_name_are_dropped_and_bad_ones_refused() {
        assert_eq!(
            from_pax(
                "SCHILY.acl.access",
                b"user::rw-,user:app:r--,group::r--,mask::r--,other::---",
                Some(SHIFT)
            ),
            Ok(None)
        );
        for bad in [
            &b""[..],
            b"user::rwq",
            b"user:1:2:3",
            b"wheel::rw-",
            b"user:4294967296:r--",
            b"\xff",
        ] {
            assert!(
                from_pax("SCHILY.acl.access", bad, Some(SHIFT)).is_err(),
                "{bad:?}"
            );
        }
        assert!(from_pax(
            "SCHILY.xattr.system.posix_acl_access",
            &[2, 0, 0, 0, 1],
            None
        )
        .is_err());
        let unknown_tag = acl_bin(&[(0x40, 6, ACL_UNDEFINED_ID)]);
        assert!(from_pax("SCHILY.xattr.system.posix_acl_access", &unknown_tag, None).is_err());
    }

    #[test]
    fn host_acl_ids_outside_the_map_show_as_overflow() {
        let bin = acl_bin(&[(ACL_USER_OBJ, 6, ACL_UNDEFINED_ID), (ACL_USER, 4, 5)]);
        assert_eq!(
            to_pax(ACL_ACCESS, &bin, Some(SHIFT)).map(|p| p.1),
            Some(b"user::rw-,user:65534:r--".to_vec())
        );
    }

    #[test]
    fn read_gives_portable_xattrs_sorted_and_never_follows() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        set(&file, "user.b", b"2").unwrap();
        set(&file, "user.a", b"1").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(
            read(&file).unwrap(),
            vec![
                ("user.a".to_string(), b"1".to_vec()),
                ("user.b".to_string(), b"2".to_vec())
            ]
        );
        assert_eq!(read(&link).unwrap(), vec![]);
        let f = std::fs::File::open(&file).unwrap();
        fset(&f, "user.c", b"3").unwrap();
        assert_eq!(read(&file).unwrap().len(), 3);
    }
}
