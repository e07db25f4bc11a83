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

mod acl;
mod cap;

use acl::Acl;
use cap::Cap;

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

#[cfg(test)]
#[path = "xattr_tests.rs"]
mod tests;
