//! The user namespace of every container: ids `0..count` inside map to host ids
//! `host_uid..host_uid+count` (and the same for groups), so root inside is an unprivileged
//! host uid. Which host range: `VR_IDMAP` when set, else root's entries in `/etc/subuid` and
//! `/etc/subgid`, else [`IdMap::DEFAULT`].

use crate::sys::Sys;
use crate::{Error, Result};
use std::path::Path;

/// The environment variable that chooses the host range: `BASE:COUNT` (uids and gids alike)
/// or `UIDBASE:GIDBASE:COUNT`.
pub const IDMAP_ENV: &str = "VR_IDMAP";

/// The most ids mapped: 0-65535 inside, as on a normal Linux system.
pub const MAX_MAPPED: u32 = 65_536;

/// A user namespace mapping shared by all of vr's containers on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// The host uid that uid 0 inside maps to.
    pub host_uid: u32,
    /// The host gid that gid 0 inside maps to.
    pub host_gid: u32,
    /// How many ids are mapped (ids `0..count` inside).
    pub count: u32,
}

impl IdMap {
    /// The range used when neither `VR_IDMAP` nor `/etc/subuid` says otherwise.
    pub const DEFAULT: IdMap = IdMap {
        host_uid: 100_000,
        host_gid: 100_000,
        count: MAX_MAPPED,
    };

    /// Whether the id (inside the container) is mapped.
    pub fn contains(&self, id: u32) -> bool {
        id < self.count
    }

    /// The host uid and gid of `(uid, gid)` inside, or None when either is not mapped.
    pub fn to_host(&self, (uid, gid): (u32, u32)) -> Option<(u32, u32)> {
        (self.contains(uid) && self.contains(gid))
            .then(|| (self.host_uid + uid, self.host_gid + gid))
    }

    /// The host ids of root inside.
    pub fn root(&self) -> (u32, u32) {
        (self.host_uid, self.host_gid)
    }

    /// Parses a `VR_IDMAP` value.
    pub fn parse(value: &str) -> Result<IdMap> {
        let bad = |why: &'static str| Error::BadIdMap {
            value: value.to_string(),
            why,
        };
        let numbers: Vec<u32> = value
            .split(':')
            .map(|p| p.trim().parse::<u32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad("expected BASE:COUNT or UIDBASE:GIDBASE:COUNT, in decimal"))?;
        let (host_uid, host_gid, count) = match numbers[..] {
            [base, count] => (base, base, count),
            [uid, gid, count] => (uid, gid, count),
            _ => {
                return Err(bad(
                    "expected BASE:COUNT or UIDBASE:GIDBASE:COUNT, in decimal",
                ))
            }
        };
        IdMap::checked(host_uid, host_gid, count).ok_or_else(|| {
            bad("the base must be at least 1 (host root is never mapped), the count 1 to 65536, and base+count must fit in 32 bits")
        })
    }

    fn checked(host_uid: u32, host_gid: u32, count: u32) -> Option<IdMap> {
        let fits = |base: u32| base >= 1 && base.checked_add(count).is_some();
        ((1..=MAX_MAPPED).contains(&count) && fits(host_uid) && fits(host_gid)).then_some(IdMap {
            host_uid,
            host_gid,
            count,
        })
    }

    /// The host's range: `env` (the value of `VR_IDMAP`) when given, else root's first entries
    /// in `/etc/subuid` and `/etc/subgid` (their common count, at most 65536), else
    /// [`IdMap::DEFAULT`].
    pub fn detect(sys: &dyn Sys, env: Option<&str>) -> Result<IdMap> {
        if let Some(value) = env.filter(|v| !v.trim().is_empty()) {
            return IdMap::parse(value);
        }
        let read = |p: &str| sys.read_to_string(Path::new(p)).unwrap_or_default();
        let uids = root_range(&read(SUBUID));
        let gids = root_range(&read(SUBGID));
        match (uids, gids) {
            (Some((u, uc)), Some((g, gc))) => {
                let count = uc.min(gc).min(MAX_MAPPED);
                IdMap::checked(u, g, count).ok_or(Error::BadSubId {
                    uid: u,
                    gid: g,
                    count,
                })
            }
            _ => Ok(IdMap::DEFAULT),
        }
    }

    /// This host's map for new containers: [`IdMap::detect`] with this process's `VR_IDMAP`,
    /// then [`IdMap::check_delegated`].
    pub fn for_host(sys: &dyn Sys) -> Result<IdMap> {
        let env = std::env::var(IDMAP_ENV).ok();
        let map = IdMap::detect(sys, env.as_deref())?;
        map.check_delegated(sys)?;
        Ok(map)
    }

    /// No other account may hold any of the range in `/etc/subuid` or `/etc/subgid`: its
    /// user namespaces would own every container's files. And when LXC will call
    /// `newuidmap`/`newgidmap` (they are installed), root must own the range there; says
    /// exactly what line is missing otherwise.
    pub fn check_delegated(&self, sys: &dyn Sys) -> Result<()> {
        for (ids, file, base) in [
            ("uids", SUBUID, self.host_uid),
            ("gids", SUBGID, self.host_gid),
        ] {
            let text = sys.read_to_string(Path::new(file)).unwrap_or_default();
            if let Some(owner) = overlapping_owner(&text, base, self.count) {
                return Err(Error::SharedRange {
                    ids,
                    file,
                    first: base,
                    last: base + (self.count - 1),
                    owner,
                });
            }
        }
        let have_tool = |tool: &str| {
            ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
                .iter()
                .any(|dir| sys.exists(&Path::new(dir).join(tool)))
        };
        for (ids, file, tool, base) in [
            ("uids", SUBUID, "newuidmap", self.host_uid),
            ("gids", SUBGID, "newgidmap", self.host_gid),
        ] {
            if !have_tool(tool) {
                continue;
            }
            let text = sys.read_to_string(Path::new(file)).unwrap_or_default();
            if !delegated(&text, base, self.count) {
                return Err(Error::NotDelegated {
                    ids,
                    file,
                    tool,
                    first: base,
                    last: base + (self.count - 1),
                    line: format!("root:{base}:{}", self.count),
                });
            }
        }
        Ok(())
    }

    /// The `lxc.idmap` values: `u 0 <host_uid> <count>` and `g 0 <host_gid> <count>`.
    pub fn lines(&self) -> [String; 2] {
        [
            format!("u 0 {} {}", self.host_uid, self.count),
            format!("g 0 {} {}", self.host_gid, self.count),
        ]
    }

    /// The map of a rendered config (its `lxc.idmap`/`lxc.id_map` lines), if it has one.
    pub fn of_config(text: &str) -> Option<IdMap> {
        let mut uid = None;
        let mut gid = None;
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !matches!(key.trim(), "lxc.idmap" | "lxc.id_map") {
                continue;
            }
            let f: Vec<&str> = value.split_whitespace().collect();
            if let [kind, "0", host, count] = f[..] {
                let pair = (host.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
                match kind {
                    "u" => uid = Some(pair),
                    "g" => gid = Some(pair),
                    _ => {}
                }
            }
        }
        let ((u, uc), (g, gc)) = (uid?, gid?);
        (uc == gc).then_some(IdMap {
            host_uid: u,
            host_gid: g,
            count: uc,
        })
    }
}

/// Where LXC's `newuidmap` looks for root's uids.
pub const SUBUID: &str = "/etc/subuid";
/// Where LXC's `newgidmap` looks for root's gids.
pub const SUBGID: &str = "/etc/subgid";

/// The `(start, count)` entries of root (by name or uid 0) in a subuid/subgid text.
fn root_entries(text: &str) -> impl Iterator<Item = (u32, u32)> + '_ {
    text.lines().filter_map(|line| {
        let mut f = line.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?, f.next()?);
        if who != "root" && who != "0" {
            return None;
        }
        Some((start.trim().parse().ok()?, count.trim().parse().ok()?))
    })
}

fn root_range(text: &str) -> Option<(u32, u32)> {
    root_entries(text).next()
}

/// The first account other than root whose range in a subuid/subgid text overlaps
/// `base..base+count`.
fn overlapping_owner(text: &str, base: u32, count: u32) -> Option<String> {
    let (lo, hi) = (u64::from(base), u64::from(base) + u64::from(count));
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (who, start, n) = (f.next()?, f.next()?, f.next()?);
        if who == "root" || who == "0" {
            return None;
        }
        let start: u64 = start.trim().parse().ok()?;
        let n: u64 = n.trim().parse().ok()?;
        (start < hi && lo < start + n).then(|| who.to_string())
    })
}

/// Whether root's entries cover `base..base+count`.
fn delegated(text: &str, base: u32, count: u32) -> bool {
    let end = u64::from(base) + u64::from(count);
    root_entries(text).any(|(start, n)| {
        u64::from(start) <= u64::from(base) && end <= u64::from(start) + u64::from(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    #[test]
    fn parse_table() {
        let ok = |u, g, c| {
            Ok::<_, String>(IdMap {
                host_uid: u,
                host_gid: g,
                count: c,
            })
        };
        let cases = [
            ("100000:65536", ok(100_000, 100_000, 65_536)),
            ("200000:300000:1000", ok(200_000, 300_000, 1000)),
            (" 5 : 10 ", ok(5, 5, 10)),
            ("0:65536", Err("the base must".to_string())),
            ("100000:65537", Err("the base must".to_string())),
            ("100000:0", Err("the base must".to_string())),
            ("4294967295:2", Err("the base must".to_string())),
            ("100000", Err("expected BASE:COUNT".to_string())),
            ("a:b", Err("expected BASE:COUNT".to_string())),
            ("1:2:3:4", Err("expected BASE:COUNT".to_string())),
        ];
        for (text, want) in cases {
            match (IdMap::parse(text), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(e), Err(want)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(&want), "{text}: {msg}");
                    assert!(msg.contains(&format!("VR_IDMAP={text:?}")), "{msg}");
                }
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn detect_prefers_env_then_subid_files_then_default() {
        let sys = FakeSys::default();
        assert_eq!(IdMap::detect(&sys, None).unwrap(), IdMap::DEFAULT);
        sys.set_file(SUBUID, "app:1000000:65536\nroot:200000:1000000\n");
        sys.set_file(SUBGID, "0:300000:70000\n");
        assert_eq!(
            IdMap::detect(&sys, None).unwrap(),
            IdMap {
                host_uid: 200_000,
                host_gid: 300_000,
                count: 65_536
            }
        );
        sys.set_file(SUBGID, "root:300000:1000\n");
        assert_eq!(IdMap::detect(&sys, None).unwrap().count, 1000);
        assert_eq!(
            IdMap::detect(&sys, Some("400000:10")).unwrap(),
            IdMap {
                host_uid: 400_000,
                host_gid: 400_000,
                count: 10
            }
        );
        assert_eq!(IdMap::detect(&sys, Some("")).unwrap().host_uid, 200_000);
    }

    #[test]
    fn delegation_is_checked_only_with_newuidmap() {
        let sys = FakeSys::default();
        IdMap::DEFAULT.check_delegated(&sys).unwrap();
        sys.set_exists("/usr/bin/newuidmap");
        sys.set_exists("/usr/bin/newgidmap");
        let err = IdMap::DEFAULT.check_delegated(&sys).unwrap_err();
        assert_eq!(
            err.to_string(),
            "host uids 100000-165535 are not delegated to root in /etc/subuid, which LXC's \
             newuidmap needs: add the line `root:100000:65536` to /etc/subuid"
        );
        sys.set_file(SUBUID, "root:100000:65536\n");
        let err = IdMap::DEFAULT.check_delegated(&sys).unwrap_err();
        assert!(err.to_string().contains("/etc/subgid"), "{err}");
        sys.set_file(SUBGID, "root:0:1000000\n");
        IdMap::DEFAULT.check_delegated(&sys).unwrap();
        // A range only partly delegated is not enough.
        sys.set_file(SUBUID, "root:100000:65535\n");
        assert!(IdMap::DEFAULT.check_delegated(&sys).is_err());
    }

    #[test]
    fn a_range_another_account_holds_is_refused() {
        let sys = FakeSys::default();
        sys.set_file(SUBUID, "root:100000:65536\nalice:165535:65536\n");
        sys.set_file(SUBGID, "root:100000:65536\n");
        let err = IdMap::DEFAULT.check_delegated(&sys).unwrap_err();
        assert_eq!(
            err.to_string(),
            "host uids 100000-165535 are also given to alice in /etc/subuid: its user namespaces \
             would own every container's files; give vr a range of its own (VR_IDMAP or root's \
             line in /etc/subuid)"
        );
        // Adjacent ranges are fine, for groups too.
        sys.set_file(
            SUBUID,
            "root:100000:65536\nalice:165536:65536\nbob:0:100000\n",
        );
        IdMap::DEFAULT.check_delegated(&sys).unwrap();
        sys.set_file(SUBGID, "bob:99999:2\n");
        assert!(IdMap::DEFAULT
            .check_delegated(&sys)
            .unwrap_err()
            .to_string()
            .starts_with("host gids 100000-165535 are also given to bob in /etc/subgid"));
    }

    #[test]
    fn ids_and_lines() {
        let m = IdMap {
            host_uid: 100_000,
            host_gid: 200_000,
            count: 65_536,
        };
        assert_eq!(m.to_host((0, 0)), Some((100_000, 200_000)));
        assert_eq!(m.to_host((1000, 65_535)), Some((101_000, 265_535)));
        assert_eq!(m.to_host((65_536, 0)), None);
        assert_eq!(m.to_host((0, u32::MAX)), None);
        assert_eq!(
            m.lines(),
            [
                "u 0 100000 65536".to_string(),
                "g 0 200000 65536".to_string()
            ]
        );
        let text = "lxc.uts.name = x\nlxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 200000 65536\n";
        assert_eq!(IdMap::of_config(text), Some(m));
        assert_eq!(IdMap::of_config("lxc.uts.name = x\n"), None);
    }
}
