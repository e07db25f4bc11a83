//! What an entry becomes, decided without touching the disk: its owner (the unpacker's, the
//! stored one, shifted or not, or a fixed one), its mode under a [`Policy`], and whether its
//! kind is allowed at all.

/// A user-namespace id mapping with shifted ownership on disk: ids `0..count` inside the
/// container are host ids `uid_base..uid_base + count` (and the same for groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShift {
    /// The host uid of the container's uid 0.
    pub uid_base: u32,
    /// The host gid of the container's gid 0.
    pub gid_base: u32,
    /// How many ids are mapped, for users and groups alike.
    pub count: u32,
}

impl IdShift {
    /// The host (uid, gid) of the stored `uid`/`gid`, or why the entry is refused: an id at or
    /// above `count` has no host id in the mapping.
    pub(crate) fn map(self, uid: u32, gid: u32) -> Result<(u32, u32), String> {
        Ok((
            self.map_one("owner", uid, self.uid_base)?,
            self.map_one("group", gid, self.gid_base)?,
        ))
    }

    /// The container's root, as host ids.
    pub(crate) fn root(self) -> (u32, u32) {
        (self.uid_base, self.gid_base)
    }

    fn map_one(self, what: &str, id: u32, base: u32) -> Result<u32, String> {
        if id >= self.count {
            let range = match self.count {
                0 => "empty".to_string(),
                n => format!("0-{}", n - 1),
            };
            return Err(format!(
                "{what} id {id} is outside the mapped range {range}"
            ));
        }
        base.checked_add(id).ok_or_else(|| {
            format!("{what} id {id} shifted by {base} is beyond the largest host id")
        })
    }
}

impl From<IdShift> for vr_fs::xattr::Shift {
    fn from(s: IdShift) -> vr_fs::xattr::Shift {
        vr_fs::xattr::Shift {
            uid_base: s.uid_base,
            gid_base: s.gid_base,
            count: s.count,
        }
    }
}

/// How far the author of a tarball is trusted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Policy {
    /// An OS image: everything is kept (device nodes as root, setuid and setgid files, the
    /// modes stored, the xattrs vr carries: `user.*`, file capabilities and POSIX ACLs).
    #[default]
    Image,
    /// An app build from an untrusted author: device nodes refuse the tarball, setuid and
    /// setgid bits are cleared, the top folder is never group- or other-writable, and of the
    /// xattrs only `user.*` are kept (a file capability would be a privilege, like setuid).
    Build,
}

impl Policy {
    /// The mode (permission bits only) an entry stored with `mode` gets.
    pub(crate) fn entry_mode(self, mode: u32) -> u32 {
        match self {
            Policy::Image => mode & 0o7777,
            Policy::Build => mode & 0o1777,
        }
    }

    /// The mode the unpack root gets, from the `./` entry's mode (already through
    /// [`Policy::entry_mode`]) or the default.
    pub(crate) fn root_mode(self, mode: u32) -> u32 {
        match self {
            Policy::Image => mode,
            Policy::Build => mode & !0o022,
        }
    }

    /// Whether the xattr `name` (one that [`vr_fs::xattr::from_pax`] lets through) is set on
    /// an entry of `kind`: `user.*` on files and folders (the kernel takes them nowhere
    /// else), and under [`Policy::Image`] only, a file capability on a file, an access ACL
    /// on anything but a link, a default ACL on a folder. A hardlink's inode has its xattrs
    /// from the entry it links to.
    pub(crate) fn keeps_xattr(self, name: &str, kind: tar::EntryType) -> bool {
        use tar::EntryType as T;
        let file = matches!(kind, T::Regular | T::Continuous | T::GNUSparse);
        let dir = kind == T::Directory;
        if name.starts_with("user.") {
            return file || dir;
        }
        if self == Policy::Build {
            return false;
        }
        match name {
            "security.capability" => file,
            "system.posix_acl_access" => {
                file || dir || matches!(kind, T::Char | T::Block | T::Fifo)
            }
            "system.posix_acl_default" => dir,
            _ => false,
        }
    }

    /// Whether an entry of `kind` may be unpacked at all; else why not.
    pub(crate) fn allows(self, kind: tar::EntryType, major: u32, minor: u32) -> Result<(), String> {
        let device = match kind {
            tar::EntryType::Char => "character device",
            tar::EntryType::Block => "block device",
            _ => return Ok(()),
        };
        match self {
            Policy::Image => Ok(()),
            Policy::Build => Err(format!(
                "a build may not contain device nodes ({device} {major}:{minor})"
            )),
        }
    }
}

/// Whose files these are once unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// Leave them to whoever unpacks (not root, no owner asked for).
    Unpacker,
    /// The numeric uid/gid stored in each entry, shifted when a shift is asked for (root, no
    /// owner asked for).
    FromArchive,
    /// Everything to this uid/gid.
    Fixed(u32, u32),
}

impl Ownership {
    /// The ownership rule for an unpack by `euid` asked to give everything to `owner`.
    pub(crate) fn decide(euid: u32, owner: Option<(u32, u32)>) -> Ownership {
        match (owner, euid) {
            (Some((uid, gid)), _) => Ownership::Fixed(uid, gid),
            (None, 0) => Ownership::FromArchive,
            (None, _) => Ownership::Unpacker,
        }
    }

    /// The owner to give an entry stored with `uid`/`gid` (already shifted), or None when
    /// nothing must change (`me` is who new files belong to already).
    pub(crate) fn chown_to(self, uid: u32, gid: u32, me: (u32, u32)) -> Option<(u32, u32)> {
        let want = match self {
            Ownership::Unpacker => return None,
            Ownership::FromArchive => (uid, gid),
            Ownership::Fixed(u, g) => (u, g),
        };
        (want != me).then_some(want)
    }

    /// The shift that ends up on disk: `shift` when stored owners are kept (root, no fixed
    /// owner), else none.
    pub(crate) fn shift_on_disk(self, shift: Option<IdShift>) -> Option<IdShift> {
        shift.filter(|_| self == Ownership::FromArchive)
    }

    /// The owner of the folders this unpack makes without an entry (the parents of entries,
    /// and the root when there is no `./` entry), or None to leave them to `me`: the fixed
    /// owner, or the container's root under a shift.
    pub(crate) fn implicit(self, shift: Option<IdShift>, me: (u32, u32)) -> Option<(u32, u32)> {
        let want = match (self, shift) {
            (Ownership::Fixed(u, g), _) => (u, g),
            (Ownership::FromArchive, Some(shift)) => shift.root(),
            _ => return None,
        };
        (want != me).then_some(want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIFT: IdShift = IdShift {
        uid_base: 100_000,
        gid_base: 100_000,
        count: 65536,
    };

    #[test]
    fn shift_table() {
        let near_max = IdShift {
            uid_base: u32::MAX - 10,
            gid_base: 0,
            count: 65536,
        };
        let split = IdShift {
            uid_base: 200_000,
            gid_base: 300_000,
            count: 1000,
        };
        let none = IdShift { count: 0, ..SHIFT };
        type Case = (IdShift, (u32, u32), Result<(u32, u32), &'static str>);
        let cases: &[Case] = &[
            (SHIFT, (0, 0), Ok((100_000, 100_000))),
            (SHIFT, (1000, 1001), Ok((101_000, 101_001))),
            (SHIFT, (65535, 65535), Ok((165_535, 165_535))),
            (
                SHIFT,
                (65536, 0),
                Err("owner id 65536 is outside the mapped range 0-65535"),
            ),
            (
                SHIFT,
                (70000, 0),
                Err("owner id 70000 is outside the mapped range 0-65535"),
            ),
            (
                SHIFT,
                (0, 70000),
                Err("group id 70000 is outside the mapped range 0-65535"),
            ),
            (
                SHIFT,
                (u32::MAX, 0),
                Err("owner id 4294967295 is outside the mapped range 0-65535"),
            ),
            (split, (999, 5), Ok((200_999, 300_005))),
            (
                split,
                (5, 1000),
                Err("group id 1000 is outside the mapped range 0-999"),
            ),
            (
                none,
                (0, 0),
                Err("owner id 0 is outside the mapped range empty"),
            ),
            (near_max, (10, 0), Ok((u32::MAX, 0))),
            (
                near_max,
                (11, 0),
                Err("owner id 11 shifted by 4294967285 is beyond the largest host id"),
            ),
        ];
        for (shift, (uid, gid), want) in cases {
            let got = shift.map(*uid, *gid);
            assert_eq!(
                got.as_ref().map_err(String::as_str),
                want.as_ref().map_err(|e| *e),
                "{shift:?} {uid}:{gid}"
            );
        }
    }

    #[test]
    fn mode_table() {
        // (stored mode, image entry, build entry, image root, build root)
        let cases = [
            (0o755, 0o755, 0o755, 0o755, 0o755),
            (0o4755, 0o4755, 0o755, 0o4755, 0o755),
            (0o2755, 0o2755, 0o755, 0o2755, 0o755),
            (0o6711, 0o6711, 0o711, 0o6711, 0o711),
            (0o1777, 0o1777, 0o1777, 0o1777, 0o1755),
            (0o7777, 0o7777, 0o1777, 0o7777, 0o1755),
            (0o777, 0o777, 0o777, 0o777, 0o755),
            (0o775, 0o775, 0o775, 0o775, 0o755),
            (0o757, 0o757, 0o757, 0o757, 0o755),
            (0o700, 0o700, 0o700, 0o700, 0o700),
            (0o100644, 0o644, 0o644, 0o644, 0o644),
        ];
        for (stored, image, build, image_root, build_root) in cases {
            let got = (
                Policy::Image.entry_mode(stored),
                Policy::Build.entry_mode(stored),
                Policy::Image.root_mode(Policy::Image.entry_mode(stored)),
                Policy::Build.root_mode(Policy::Build.entry_mode(stored)),
            );
            assert_eq!(got, (image, build, image_root, build_root), "{stored:o}");
        }
        assert_eq!(Policy::default(), Policy::Image);
    }

    #[test]
    fn kinds_table() {
        use tar::EntryType as T;
        let refused = |what: &str| Err(format!("a build may not contain device nodes ({what})"));
        let cases = [
            (Policy::Image, T::Char, Ok(())),
            (Policy::Image, T::Block, Ok(())),
            (Policy::Image, T::Fifo, Ok(())),
            (Policy::Build, T::Char, refused("character device 1:3")),
            (Policy::Build, T::Block, refused("block device 1:3")),
            (Policy::Build, T::Fifo, Ok(())),
            (Policy::Build, T::Regular, Ok(())),
            (Policy::Build, T::Directory, Ok(())),
            (Policy::Build, T::Symlink, Ok(())),
            (Policy::Build, T::Link, Ok(())),
        ];
        for (policy, kind, want) in cases {
            assert_eq!(policy.allows(kind, 1, 3), want, "{policy:?} {kind:?}");
        }
    }

    #[test]
    fn xattrs_table() {
        use tar::EntryType as T;
        let (cap, acl, default) = (
            "security.capability",
            "system.posix_acl_access",
            "system.posix_acl_default",
        );
        // (name, kind, image keeps, build keeps)
        let cases = [
            ("user.x", T::Regular, true, true),
            ("user.x", T::Directory, true, true),
            ("user.x", T::Symlink, false, false),
            ("user.x", T::Char, false, false),
            ("user.x", T::Fifo, false, false),
            ("user.x", T::Link, false, false),
            (cap, T::Regular, true, false),
            (cap, T::GNUSparse, true, false),
            (cap, T::Directory, false, false),
            (cap, T::Symlink, false, false),
            (cap, T::Link, false, false),
            (acl, T::Regular, true, false),
            (acl, T::Directory, true, false),
            (acl, T::Char, true, false),
            (acl, T::Fifo, true, false),
            (acl, T::Symlink, false, false),
            (acl, T::Link, false, false),
            (default, T::Directory, true, false),
            (default, T::Regular, false, false),
            // Never asked for by from_pax, and never kept if they were.
            ("trusted.overlay.redirect", T::Regular, false, false),
            ("trusted.overlay.opaque", T::Directory, false, false),
            ("security.selinux", T::Regular, false, false),
            ("security.ima", T::Regular, false, false),
        ];
        for (name, kind, image, build) in cases {
            let got = (
                Policy::Image.keeps_xattr(name, kind),
                Policy::Build.keeps_xattr(name, kind),
            );
            assert_eq!(got, (image, build), "{name} on {kind:?}");
        }
    }

    #[test]
    fn shift_converts_for_xattrs() {
        let s: vr_fs::xattr::Shift = SHIFT.into();
        assert_eq!((s.uid_base, s.gid_base, s.count), (100_000, 100_000, 65536));
    }

    #[test]
    fn ownership_table() {
        let me = (0, 0);
        let cases = [
            // (euid, owner asked, entry uid/gid, me) -> chown to
            (0, None, (0, 0), me, None),
            (0, None, (1000, 100), me, Some((1000, 100))),
            (0, Some((5, 6)), (1000, 100), me, Some((5, 6))),
            (0, Some((0, 0)), (1000, 100), me, None),
            (1000, None, (0, 0), (1000, 1000), None),
            (1000, Some((1000, 1000)), (0, 0), (1000, 1000), None),
            (1000, Some((7, 7)), (0, 0), (1000, 1000), Some((7, 7))),
        ];
        for (euid, owner, (u, g), me, want) in cases {
            let got = Ownership::decide(euid, owner).chown_to(u, g, me);
            assert_eq!(got, want, "euid {euid} owner {owner:?} entry {u}:{g}");
        }
    }

    #[test]
    fn shift_on_disk_table() {
        let cases = [
            // (euid, owner asked, shift) -> shift applied to the files
            (0, None, Some(SHIFT), Some(SHIFT)),
            (0, None, None, None),
            (0, Some((5, 6)), Some(SHIFT), None),
            (1000, None, Some(SHIFT), None),
            (1000, Some((1000, 1000)), Some(SHIFT), None),
        ];
        for (euid, owner, shift, want) in cases {
            let got = Ownership::decide(euid, owner).shift_on_disk(shift);
            assert_eq!(got, want, "euid {euid} owner {owner:?} shift {shift:?}");
        }
    }

    #[test]
    fn implicit_owner_table() {
        let root = (0, 0);
        let cases = [
            // (euid, owner asked, shift, me) -> folders made without an entry belong to
            (0, None, None, root, None),
            (0, None, Some(SHIFT), root, Some((100_000, 100_000))),
            (0, Some((5, 6)), None, root, Some((5, 6))),
            (0, Some((5, 6)), Some(SHIFT), root, Some((5, 6))),
            (0, Some((0, 0)), Some(SHIFT), root, None),
            (1000, None, Some(SHIFT), (1000, 1000), None),
            (1000, Some((1000, 1000)), None, (1000, 1000), None),
        ];
        for (euid, owner, shift, me, want) in cases {
            let got = Ownership::decide(euid, owner).implicit(shift, me);
            assert_eq!(got, want, "euid {euid} owner {owner:?} shift {shift:?}");
        }
    }
}
