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
#[path = "xattr_tests.rs"]
mod tests;
