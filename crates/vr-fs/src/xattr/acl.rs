//! POSIX ACLs: the kernel's binary xattr and GNU tar's short text, ids moved between shifts.

/// A POSIX ACL: (tag, perm, id) entries as the kernel's xattr holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Acl(pub(super) Vec<(u16, u16, u32)>);

const ACL_VERSION: u32 = 2;
pub(super) const ACL_USER_OBJ: u16 = 0x01;
pub(super) const ACL_USER: u16 = 0x02;
pub(super) const ACL_GROUP_OBJ: u16 = 0x04;
pub(super) const ACL_GROUP: u16 = 0x08;
pub(super) const ACL_MASK: u16 = 0x10;
pub(super) const ACL_OTHER: u16 = 0x20;
pub(super) const ACL_UNDEFINED_ID: u32 = u32::MAX;

impl Acl {
    pub(super) fn parse(v: &[u8]) -> Result<Acl, String> {
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
    pub(super) fn check(&self) -> Result<(), String> {
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
    pub(super) fn map_ids(
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

    pub(super) fn encode(&self) -> Vec<u8> {
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
    pub(super) fn to_text(&self) -> String {
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
    pub(super) fn from_text(v: &[u8]) -> Result<Option<Acl>, String> {
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
