//! Extended attributes of entries: taken from an entry's pax records (`SCHILY.xattr.*` and
//! `SCHILY.acl.*`, as GNU tar `--xattrs --acls` writes them) through
//! [`vr_fs::xattr::from_pax`], which drops what vr never carries (`trusted.*`: overlayfs reads
//! `trusted.overlay.*` on its layers; `security.selinux`, `security.ima`, ..) and moves ids into
//! the shift; then kept or dropped by the [`Policy`] and the entry's kind; set on the entry once
//! it is written, owned and moded (a chown clears a file capability, and the kernel takes
//! `user.*` on files and folders only).
//!
//! A pax header of type `g` (global) is never applied: its records are not an entry's.

use super::rules::{IdShift, Policy};
use super::tree::Fail;
use std::io;

/// An xattr to set: its name and value as the file system takes them.
pub(crate) type Xattr = (String, Vec<u8>);

const CAP: &str = "security.capability";

/// What decides which xattrs an entry gets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct XattrRules {
    pub(crate) policy: Policy,
    /// The ids of the namespace the tree is for: capability root ids and ACL ids move into it.
    pub(crate) shift: Option<IdShift>,
    /// Whether file capabilities are set: they need CAP_SETFCAP, so without root they are
    /// skipped, as device nodes are; without a shift too (never as the host root's).
    pub(crate) caps: bool,
}

impl XattrRules {
    /// The xattrs that an entry of `kind` with the pax data `pax` asks for and these rules
    /// keep. A record [`vr_fs::xattr::from_pax`] refuses (an id outside the shift, a malformed
    /// capability or ACL), a malformed pax record, or an xattr record whose key is not UTF-8
    /// refuses the entry, and so the tarball.
    pub(crate) fn of(&self, pax: Option<&[u8]>, kind: tar::EntryType) -> Result<Vec<Xattr>, Fail> {
        let Some(pax) = pax else {
            return Ok(Vec::new());
        };
        let shift = self.shift.map(Into::into);
        let mut out = Vec::new();
        for record in records(pax) {
            let (key, value) = record.map_err(Fail::Unsafe)?;
            let key = match std::str::from_utf8(key) {
                Ok(key) => key,
                Err(_) if key.starts_with(b"SCHILY.") => {
                    return Err(Fail::Unsafe(format!(
                        "its pax record {:?} is not UTF-8",
                        String::from_utf8_lossy(key)
                    )))
                }
                Err(_) => continue,
            };
            let kept = vr_fs::xattr::from_pax(key, value, shift)
                .map_err(Fail::Unsafe)?
                .filter(|(name, _)| self.policy.keeps_xattr(name, kind))
                // Without a shift a capability would land as stored: a v2 one is the host
                // root's for whoever reaches the file. It only ever moves into a namespace.
                .filter(|(name, _)| name != CAP || (self.caps && self.shift.is_some()));
            out.extend(kept);
        }
        Ok(out)
    }
}

/// The (key, value) records of pax data: each `"<length> <key>=<value>\n"`, the length (in
/// decimal) counting the whole record, so a value may hold any byte, newlines included. NUL
/// bytes after the last record are padding.
pub(crate) fn records(pax: &[u8]) -> impl Iterator<Item = Result<(&[u8], &[u8]), String>> {
    let mut rest = pax;
    std::iter::from_fn(move || {
        if rest.iter().all(|&b| b == 0) {
            return None;
        }
        let record = record(rest);
        match record {
            Ok((key, value, len)) => {
                rest = &rest[len..];
                Some(Ok((key, value)))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// The first record of `data`: key, value and the record's length.
fn record(data: &[u8]) -> Result<(&[u8], &[u8], usize), String> {
    let malformed = |why: &str| format!("it has a malformed pax record ({why})");
    let space = data
        .iter()
        .take(21)
        .position(|&b| b == b' ')
        .ok_or_else(|| malformed("no length"))?;
    let digits = &data[..space];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed("no length"));
    }
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| malformed("no length"))?;
    if len <= space + 1 || len > data.len() {
        return Err(malformed("its length is wrong"));
    }
    let body = match &data[space + 1..len] {
        [body @ .., b'\n'] => body,
        _ => return Err(malformed("no newline at its end")),
    };
    let eq = body
        .iter()
        .position(|&b| b == b'=')
        .ok_or_else(|| malformed("no `=`"))?;
    Ok((&body[..eq], &body[eq + 1..], len))
}

/// Bytes of names and values, as charged to the unpack's budget.
pub(crate) fn size(xattrs: &[Xattr]) -> u64 {
    xattrs.iter().map(|(n, v)| (n.len() + v.len()) as u64).sum()
}

/// Sets each of `xattrs` with `set`; one the file system does not support (EOPNOTSUPP) is
/// skipped.
pub(crate) fn apply(
    xattrs: &[Xattr],
    mut set: impl FnMut(&str, &[u8]) -> io::Result<()>,
) -> Result<(), Fail> {
    for (name, value) in xattrs {
        match set(name, value) {
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
            Err(source) => {
                return Err(Fail::Xattr {
                    name: name.clone(),
                    source,
                })
            }
            Ok(()) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tar::EntryType as T;

    /// Pax data holding `records`.
    fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in records {
            let body = k.len() + v.len() + 2;
            let mut len = body + 1;
            while len != body + len.to_string().len() + 1 {
                len = body + len.to_string().len() + 1;
            }
            out.extend_from_slice(format!("{len} {k}=").as_bytes());
            out.extend_from_slice(v);
            out.push(b'\n');
        }
        out
    }

    fn names(rules: XattrRules, kind: T, records: &[(&str, &[u8])]) -> Result<Vec<String>, String> {
        let data = pax(records);
        match rules.of(Some(&data), kind) {
            Ok(x) => Ok(x.into_iter().map(|(n, _)| n).collect()),
            Err(Fail::Unsafe(reason)) => Err(reason),
            Err(_) => Err("another failure".into()),
        }
    }

    const V2_NET_RAW: [u8; 20] = [
        1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    const SHIFT: IdShift = IdShift {
        uid_base: 100_000,
        gid_base: 100_000,
        count: 65536,
    };

    fn rules(policy: Policy, caps: bool) -> XattrRules {
        XattrRules {
            policy,
            shift: Some(SHIFT),
            caps,
        }
    }

    #[test]
    fn records_are_kept_by_policy_and_kind() {
        let all: &[(&str, &[u8])] = &[
            ("SCHILY.xattr.user.x", b"y"),
            ("SCHILY.xattr.security.capability", &V2_NET_RAW),
            (
                "SCHILY.acl.access",
                b"user::rw-,user:1000:r--,group::r--,mask::r--,other::---",
            ),
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
            ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
            ("SCHILY.xattr.trusted.overlay.metacopy", b""),
            (
                "SCHILY.xattr.security.selinux",
                b"system_u:object_r:shadow_t:s0",
            ),
            ("SCHILY.xattr.security.ima", b"\x03\x02"),
            ("path", b"f"),
        ];
        let cases: &[(XattrRules, T, &[&str])] = &[
            (
                rules(Policy::Image, true),
                T::Regular,
                &["user.x", "security.capability", "system.posix_acl_access"],
            ),
            (
                rules(Policy::Image, false),
                T::Regular,
                &["user.x", "system.posix_acl_access"],
            ),
            (rules(Policy::Build, true), T::Regular, &["user.x"]),
            (
                XattrRules {
                    shift: None,
                    ..rules(Policy::Image, true)
                },
                T::Regular,
                &["user.x", "system.posix_acl_access"],
            ),
            (rules(Policy::Image, true), T::Symlink, &[]),
            (
                rules(Policy::Image, true),
                T::Fifo,
                &["system.posix_acl_access"],
            ),
        ];
        for (rules, kind, want) in cases {
            assert_eq!(
                names(*rules, *kind, all),
                Ok(want.iter().map(|s| s.to_string()).collect()),
                "{rules:?} {kind:?}"
            );
        }
        assert_eq!(
            names(rules(Policy::Image, true), T::Regular, &[]),
            Ok(vec![])
        );
    }

    #[test]
    fn refused_records_refuse_the_entry_whatever_the_policy() {
        let mut v3_outside = V2_NET_RAW.to_vec();
        v3_outside[3] = 3;
        v3_outside.extend_from_slice(&65536u32.to_le_bytes());
        let cases: &[(&str, &[u8], &str)] = &[
            (
                "SCHILY.xattr.security.capability",
                &v3_outside,
                "root id 65536",
            ),
            (
                "SCHILY.xattr.security.capability",
                b"\x01\x02",
                "capability",
            ),
            (
                "SCHILY.acl.access",
                b"user::rw-,user:65536:r--,group::r--,mask::r--,other::---",
                "user id 65536",
            ),
            ("SCHILY.acl.default", b"user::rwq", "ACL"),
        ];
        for &(key, value, says) in cases {
            for policy in [Policy::Image, Policy::Build] {
                let got = names(rules(policy, true), T::Regular, &[(key, value)]);
                assert!(
                    got.as_ref().is_err_and(|r| r.contains(says)),
                    "{key} {policy:?}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn records_table() {
        type Want<'a> = Result<Vec<(&'a [u8], &'a [u8])>, &'a str>;
        let cases: &[(&[u8], Want)] = &[
            (b"", Ok(vec![])),
            (b"11 path=ab\n", Ok(vec![(b"path", b"ab")])),
            // Newlines and other bytes inside a value: the length says where it ends.
            (
                b"28 SCHILY.acl.access=a\nb\nc\n\n8 k=\x00\n\n\n",
                Ok(vec![
                    (b"SCHILY.acl.access", b"a\nb\nc\n"),
                    (b"k", b"\x00\n\n"),
                ]),
            ),
            (b"6 k=v\n\0\0\0", Ok(vec![(b"k", b"v")])),
            (b"6 k==\n", Ok(vec![(b"k", b"=")])),
            (b"5 k=\n", Ok(vec![(b"k", b"")])),
            (b"7 k=v\n", Err("its length is wrong")),
            (b"5 k=v\n", Err("no newline at its end")),
            (b"6 kv\n\n", Err("no `=`")),
            (b"x k=v\n", Err("no length")),
            (b" k=v\n", Err("no length")),
            (b"2 \n", Err("its length is wrong")),
            (b"99999999999999999999999 k=v\n", Err("no length")),
        ];
        for (data, want) in cases {
            let got: Result<Vec<_>, String> = records(data).collect();
            match want {
                Ok(w) => assert_eq!(got.as_ref(), Ok(w), "{:?}", String::from_utf8_lossy(data)),
                Err(why) => assert!(
                    got.as_ref().is_err_and(|e| e.contains(why)),
                    "{:?}: {got:?}",
                    String::from_utf8_lossy(data)
                ),
            }
        }
    }

    #[test]
    fn only_unsupported_is_skipped_when_setting() {
        let x = vec![
            ("user.a".to_string(), b"1".to_vec()),
            ("user.b".to_string(), b"2".to_vec()),
        ];
        let mut seen = Vec::new();
        let r = apply(&x, |n, _| {
            seen.push(n.to_string());
            Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
        });
        assert!(r.is_ok());
        assert_eq!(seen, ["user.a", "user.b"]);
        let r = apply(&x, |_, _| Err(io::Error::from_raw_os_error(libc::EPERM)));
        assert!(matches!(r, Err(Fail::Xattr { ref name, .. }) if name == "user.a"));
        assert_eq!(size(&x), 14);
    }
}
