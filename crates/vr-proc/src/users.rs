//! Users and groups, resolved against the *image's* /etc/passwd and /etc/group (their text is
//! passed in), never the host's.

use crate::{Error, Result};

/// A user's ids as the image knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserIds {
    /// The user id.
    pub uid: u32,
    /// The primary group from /etc/passwd; `None` for a numeric user id the image does not list.
    pub gid: Option<u32>,
}

/// The uid of `name` (a user name, or a numeric id taken as is) in the passwd text `passwd`.
pub fn lookup_user(passwd: &str, name: &str) -> Result<u32> {
    lookup_user_ids(passwd, name).map(|ids| ids.uid)
}

/// The uid and primary gid of `name` (a user name, or a numeric id) in `passwd`.
pub fn lookup_user_ids(passwd: &str, name: &str) -> Result<UserIds> {
    let entries = entries(passwd).filter_map(|f| {
        Some((
            f.first()?.to_string(),
            f.get(2)?.parse::<u32>().ok()?,
            f.get(3)?.parse::<u32>().ok(),
        ))
    });
    if let Ok(uid) = name.parse::<u32>() {
        let gid = entries
            .filter(|(_, id, _)| *id == uid)
            .find_map(|(_, _, gid)| gid);
        return Ok(UserIds { uid, gid });
    }
    entries
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, uid, gid)| UserIds { uid, gid })
        .ok_or_else(|| Error::UnknownUser {
            name: name.to_string(),
        })
}

/// The gid of `name` (a group name, or a numeric id taken as is) in the group text `group`.
pub fn lookup_group(group: &str, name: &str) -> Result<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    entries(group)
        .filter(|f| f.first() == Some(&name))
        .find_map(|f| f.get(2)?.parse::<u32>().ok())
        .ok_or_else(|| Error::UnknownGroup {
            name: name.to_string(),
        })
}

/// The `:`-separated fields of each entry line (comments, blanks and NIS `+`/`-` lines skipped).
fn entries(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', '+', '-']))
        .map(|l| l.split(':').collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";

    #[test]
    fn users() {
        let passwd =
            format!("# comment\n\n+nis\nbroken\n{PASSWD}weird:x:12:notanumber::/:/bin/sh\n");
        let cases: &[(&str, std::result::Result<UserIds, &str>)] = &[
            (
                "root",
                Ok(UserIds {
                    uid: 0,
                    gid: Some(0),
                }),
            ),
            (
                "app",
                Ok(UserIds {
                    uid: 1000,
                    gid: Some(1000),
                }),
            ),
            (
                "nobody",
                Ok(UserIds {
                    uid: 65534,
                    gid: Some(65534),
                }),
            ),
            (
                "1000",
                Ok(UserIds {
                    uid: 1000,
                    gid: Some(1000),
                }),
            ),
            (
                "4242",
                Ok(UserIds {
                    uid: 4242,
                    gid: None,
                }),
            ),
            ("weird", Ok(UserIds { uid: 12, gid: None })),
            (
                "ghost",
                Err("unknown user `ghost` (not in the image's /etc/passwd)"),
            ),
            ("", Err("unknown user `` (not in the image's /etc/passwd)")),
        ];
        for (name, want) in cases {
            let got = lookup_user_ids(&passwd, name).map_err(|e| e.to_string());
            assert_eq!(
                got.as_ref().copied().map_err(String::as_str),
                *want,
                "{name}"
            );
        }
        assert_eq!(lookup_user(&passwd, "app").unwrap(), 1000);
    }

    #[test]
    fn groups() {
        let cases: &[(&str, std::result::Result<u32, &str>)] = &[
            ("root", Ok(0)),
            ("app", Ok(1000)),
            ("nogroup", Ok(65534)),
            ("77", Ok(77)),
            (
                "ghost",
                Err("unknown group `ghost` (not in the image's /etc/group)"),
            ),
        ];
        for (name, want) in cases {
            let got = lookup_group(GROUP, name).map_err(|e| e.to_string());
            assert_eq!(
                got.as_ref().map_err(String::as_str).copied(),
                *want,
                "{name}"
            );
        }
    }
}
