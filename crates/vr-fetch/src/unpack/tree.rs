//! Writes tar entries under a root that only this unpack has touched, never leaving it.
//!
//! The root starts empty, so every directory in it was made here; they are remembered. An
//! entry is written only when all its parents are such directories: a parent that is a symlink
//! (or a file) from an earlier entry refuses the entry, so nothing is ever written through a
//! link. The final component is created with `O_EXCL`/`O_NOFOLLOW` semantics: an existing file,
//! symlink or hardlink of that name is unlinked first, never written through. Hardlink targets
//! are checked the same way. Symlink targets are stored as they are: `/bin/sh -> busybox` is
//! part of an OS image, and is harmless as long as nothing is written through it.
//!
//! Owners and modes follow the rules of [`super::rules`]; xattrs those of [`super::xattrs`],
//! set after the owner and mode (a chown clears a file capability), a folder's with its mode
//! once its contents are in (a default ACL would otherwise shape the files made in it). The
//! root is given to its owner last:
//! until then it is the unpacker's 0700 temp dir, so a shifted owner (a container's root on the
//! host) cannot reach into the tree while it is written.

use super::budget::Budget;
use super::path::{enclosed, parents};
use super::rules::{IdShift, Ownership, Policy};
use super::sys::{create_new, current_umask, mknod, replace, set_mtime};
use super::xattrs::{self, Xattr, XattrRules};
use super::UnpackOptions;
use std::collections::HashSet;
use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{fchown, lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Size of the buffer file data is copied through.
const COPY_BUF: usize = 256 * 1024;

/// Why an entry was not written.
pub(crate) enum Fail {
    /// The entry would escape the root or write through a link: the reason.
    Unsafe(String),
    /// Reading the archive failed (corrupt or truncated stream).
    Read(io::Error),
    /// Writing the entry failed.
    Write(io::Error),
    /// The entry goes past a limit of the unpack.
    Limit(crate::limits::Limit),
    /// Setting the xattr `name` failed.
    Xattr { name: String, source: io::Error },
}

/// Metadata of a directory, applied once everything inside it is written.
struct DirMeta {
    rel: PathBuf,
    mode: u32,
    mtime: Option<SystemTime>,
    xattrs: Vec<Xattr>,
}

/// The tree being unpacked.
pub(crate) struct Tree {
    root: PathBuf,
    dirs: HashSet<PathBuf>,
    deferred: Vec<DirMeta>,
    root_meta: Option<DirMeta>,
    ownership: Ownership,
    /// The shift of stored ids, when asked for and no fixed owner is.
    shift: Option<IdShift>,
    policy: Policy,
    xattrs: XattrRules,
    /// Who folders made without an entry belong to, when not `me`.
    implicit: Option<(u32, u32)>,
    /// Who the root will belong to, when not `me`: applied last, so the root stays the
    /// unpacker's 0700 temp dir, closed to the new owners, while entries are written.
    root_owner: Option<(u32, u32)>,
    me: (u32, u32),
    umask: u32,
    may_mknod: bool,
    buf: Vec<u8>,
    budget: Budget,
}

impl Tree {
    /// A tree over the empty directory `root`.
    pub(crate) fn new(root: &Path, opts: &UnpackOptions, budget: Budget) -> Tree {
        let euid = nix::unistd::geteuid().as_raw();
        let egid = nix::unistd::getegid().as_raw();
        let me = (euid, egid);
        let mut dirs = HashSet::new();
        dirs.insert(PathBuf::new());
        let ownership = Ownership::decide(euid, opts.owner);
        // A fixed owner is a host id already: the shift is for stored ids only. Without root
        // nothing is chowned, but ids the mapping lacks still refuse the tarball.
        let shift = opts.shift.filter(|_| opts.owner.is_none());
        let implicit = ownership.implicit(shift, me);
        Tree {
            root: root.to_path_buf(),
            dirs,
            deferred: Vec::new(),
            root_meta: None,
            ownership,
            shift,
            policy: opts.policy,
            // Ids in xattrs move into the tree's namespace whoever owns the files: a
            // capability is never written as the host root's when a shift is given.
            xattrs: XattrRules {
                policy: opts.policy,
                shift: opts.shift,
                caps: euid == 0,
            },
            implicit,
            root_owner: implicit,
            me,
            umask: current_umask(),
            may_mknod: euid == 0,
            buf: vec![0u8; COPY_BUF],
            budget,
        }
    }

    /// Writes one entry, whose pax data (as stored) is `pax`.
    pub(crate) fn add<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        pax: Option<&[u8]>,
    ) -> Result<(), Fail> {
        let name = entry.path().map_err(Fail::Read)?.into_owned();
        let rel = enclosed(&name).map_err(|r| Fail::Unsafe(r.to_string()))?;
        let header = entry.header();
        let kind = header.entry_type();
        let xattrs = self.xattrs.of(pax, kind)?;
        // Charged before anything is written: a sparse file at the size it declares.
        self.budget.entry(kind, entry.size()).map_err(Fail::Limit)?;
        if !xattrs.is_empty() {
            self.budget
                .xattrs(xattrs::size(&xattrs))
                .map_err(Fail::Limit)?;
        }
        let mode = self.policy.entry_mode(header.mode().map_err(Fail::Read)?);
        // Unreadable device numbers are shown as 0:0 here: the entry is refused either way.
        let (major, minor) = device(header, kind).unwrap_or((0, 0));
        self.policy
            .allows(kind, major, minor)
            .map_err(Fail::Unsafe)?;
        let uid = id("owner", header.uid().map_err(Fail::Read)?)?;
        let gid = id("group", header.gid().map_err(Fail::Read)?)?;
        let (uid, gid) = match self.shift {
            Some(shift) => shift.map(uid, gid).map_err(Fail::Unsafe)?,
            None => (uid, gid),
        };
        let mtime = header
            .mtime()
            .ok()
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let owner = self.ownership.chown_to(uid, gid, self.me);

        if rel.as_os_str().is_empty() {
            if !kind.is_dir() {
                return Err(Fail::Unsafe(
                    "it names the root but is not a directory".into(),
                ));
            }
            self.root_owner = owner;
            self.root_meta = Some(DirMeta {
                rel,
                mode,
                mtime,
                xattrs,
            });
            return Ok(());
        }
        self.make_parents(&rel)?;
        let path = self.root.join(&rel);
        use tar::EntryType as T;
        match kind {
            T::Directory => {
                if !self.dirs.contains(&rel) {
                    match fs::create_dir(&path) {
                        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                            fs::remove_file(&path).map_err(Fail::Write)?;
                            fs::create_dir(&path).map_err(Fail::Write)?;
                        }
                        other => other.map_err(Fail::Write)?,
                    }
                    self.dirs.insert(rel.clone());
                }
                if let Some((u, g)) = owner {
                    lchown(&path, Some(u), Some(g)).map_err(Fail::Write)?;
                }
                self.deferred.push(DirMeta {
                    rel,
                    mode,
                    mtime,
                    xattrs,
                });
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                self.not_a_dir(&rel)?;
                let mut file = create_new(&path, mode & 0o777).map_err(Fail::Write)?;
                loop {
                    let n = match entry.read(&mut self.buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => return Err(Fail::Read(e)),
                    };
                    file.write_all(&self.buf[..n]).map_err(Fail::Write)?;
                }
                if let Some((u, g)) = owner {
                    fchown(&file, Some(u), Some(g)).map_err(Fail::Write)?;
                }
                // chown clears setuid/setgid, and the umask may have dropped bits: set the mode
                // again only then.
                if mode & (self.umask | 0o7000) != 0 {
                    file.set_permissions(fs::Permissions::from_mode(mode))
                        .map_err(Fail::Write)?;
                }
                xattrs::apply(&xattrs, |n, v| vr_fs::xattr::fset(&file, n, v))?;
                if let Some(t) = mtime {
                    file.set_modified(t).map_err(Fail::Write)?;
                }
            }
            T::Symlink => {
                self.not_a_dir(&rel)?;
                let target = entry
                    .link_name()
                    .map_err(Fail::Read)?
                    .ok_or_else(|| Fail::Unsafe("a symlink without a target".into()))?;
                replace(&path, |p| symlink(&target, p)).map_err(Fail::Write)?;
                if let Some((u, g)) = owner {
                    lchown(&path, Some(u), Some(g)).map_err(Fail::Write)?;
                }
                if let Some(t) = mtime {
                    set_mtime(&path, t, false).map_err(Fail::Write)?;
                }
            }
            T::Link => {
                self.not_a_dir(&rel)?;
                let target = entry
                    .link_name()
                    .map_err(Fail::Read)?
                    .ok_or_else(|| Fail::Unsafe("a hardlink without a target".into()))?;
                let target_rel = enclosed(&target).map_err(|r| {
                    Fail::Unsafe(format!("its hardlink target {target:?} is refused: {r}"))
                })?;
                self.check_link_target(&target, &target_rel)?;
                if target_rel != rel {
                    let src = self.root.join(&target_rel);
                    replace(&path, |p| fs::hard_link(&src, p)).map_err(Fail::Write)?;
                }
            }
            T::Char | T::Block | T::Fifo => {
                if kind != T::Fifo && !self.may_mknod {
                    return Ok(()); // device nodes need root; skipped like an unprivileged tar
                }
                self.not_a_dir(&rel)?;
                let (major, minor) = device(header, kind)?;
                mknod(&path, kind, mode, major, minor).map_err(Fail::Write)?;
                if let Some((u, g)) = owner {
                    lchown(&path, Some(u), Some(g)).map_err(Fail::Write)?;
                }
                fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                    .map_err(Fail::Write)?;
                xattrs::apply(&xattrs, |n, v| vr_fs::xattr::set(&path, n, v))?;
                if let Some(t) = mtime {
                    set_mtime(&path, t, false).map_err(Fail::Write)?;
                }
            }
            _ => {} // volume labels and other metadata-only entries
        }
        Ok(())
    }

    /// Applies directory modes, xattrs and mtimes, deepest first, then the root's:
    /// read-only directories are made read-only only after their contents are in. On failure,
    /// the folder (relative to the root) it failed on.
    pub(crate) fn finish(mut self) -> Result<(), (PathBuf, Fail)> {
        let mut deferred = std::mem::take(&mut self.deferred);
        deferred.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
        let mut root = self.root_meta.take().unwrap_or(DirMeta {
            rel: PathBuf::new(),
            mode: 0o755,
            mtime: None,
            xattrs: Vec::new(),
        });
        root.mode = self.policy.root_mode(root.mode);
        if let Some((u, g)) = self.root_owner {
            lchown(&self.root, Some(u), Some(g)).map_err(|e| (PathBuf::new(), Fail::Write(e)))?;
        }
        for d in deferred.iter().chain(std::iter::once(&root)) {
            let path = self.root.join(&d.rel);
            let apply = || {
                fs::set_permissions(&path, fs::Permissions::from_mode(d.mode))
                    .map_err(Fail::Write)?;
                xattrs::apply(&d.xattrs, |n, v| vr_fs::xattr::set(&path, n, v))?;
                if let Some(t) = d.mtime {
                    set_mtime(&path, t, true).map_err(Fail::Write)?;
                }
                Ok(())
            };
            apply().map_err(|f| (d.rel.clone(), f))?;
        }
        Ok(())
    }

    /// Makes the missing parents of `rel`; refuses when one exists but is not a directory
    /// made by this unpack (a symlink or file from an earlier entry).
    fn make_parents(&mut self, rel: &Path) -> Result<(), Fail> {
        match rel.parent() {
            Some(p) if self.dirs.contains(p) => return Ok(()),
            _ => {}
        }
        for parent in parents(rel) {
            if self.dirs.contains(parent) {
                continue;
            }
            self.budget.folder().map_err(Fail::Limit)?;
            let path = self.root.join(parent);
            match fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return Err(Fail::Unsafe(format!(
                        "it would be written through {parent:?}, which is not a directory"
                    )))
                }
                Err(e) => return Err(Fail::Write(e)),
            }
            if let Some((u, g)) = self.implicit {
                lchown(&path, Some(u), Some(g)).map_err(Fail::Write)?;
            }
            self.dirs.insert(parent.to_path_buf());
        }
        Ok(())
    }

    fn not_a_dir(&self, rel: &Path) -> Result<(), Fail> {
        if self.dirs.contains(rel) {
            return Err(Fail::Unsafe(
                "a directory of that name is already unpacked".into(),
            ));
        }
        Ok(())
    }

    /// A hardlink target must be an earlier, non-directory entry reached through directories
    /// of this unpack only.
    fn check_link_target(&self, target: &Path, target_rel: &Path) -> Result<(), Fail> {
        let refuse = |why: &str| Fail::Unsafe(format!("its hardlink target {target:?} {why}"));
        if target_rel.as_os_str().is_empty() || self.dirs.contains(target_rel) {
            return Err(refuse("is a directory"));
        }
        if parents(target_rel).iter().any(|p| !self.dirs.contains(*p)) {
            return Err(refuse("is not inside a directory of the archive"));
        }
        match fs::symlink_metadata(self.root.join(target_rel)) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(refuse("is not an earlier entry")),
            Err(e) => Err(Fail::Write(e)),
        }
    }
}

/// A stored owner or group id (`what`) as a u32.
fn id(what: &str, value: u64) -> Result<u32, Fail> {
    u32::try_from(value).map_err(|_| Fail::Unsafe(format!("{what} id {value} is out of range")))
}

/// The device numbers of a device entry; (0, 0) for anything else (GNU tar leaves the fields
/// of a fifo empty).
fn device(header: &tar::Header, kind: tar::EntryType) -> Result<(u32, u32), Fail> {
    if !matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
        return Ok((0, 0));
    }
    Ok((
        header.device_major().map_err(Fail::Read)?.unwrap_or(0),
        header.device_minor().map_err(Fail::Read)?.unwrap_or(0),
    ))
}
