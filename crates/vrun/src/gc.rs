//! `vrun gc`: removes what no set-up or running proc uses under `VR_ROOT`: image trees kept
//! aside when an image was replaced (`images/<name>/.contents.<md5>.XXXXXX`), cached image and
//! build tarballs, and the lock files of cache entries that are gone.
//!
//! What is kept is decided from the records setup writes ([`crate::pins`]) and from who holds
//! a tree: a tree kept aside is removed only when no proc's record names its md5 and no one
//! holds it ([`vr_fs::DirLock`]: `vrun run`, `uptest` and `shell` hold their image tree, and
//! `vimage build` its base, for as long as their container runs; a mount table cannot tell,
//! since it keeps the path a layer had when it was mounted); a tarball only when no record
//! names it. When a proc set up by an older vrun has no
//! record, no tarball is removed (what it came from is not known). `images/<name>/contents` is
//! never removed: it is the image the next setup uses.
//!
//! gc holds `VR_ROOT/.gc.lock` exclusively; setup holds it shared from the moment it picks an
//! image tree and tarballs until it has recorded them, so nothing is removed in between.

use crate::pins::{self, Uses};
use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock gc holds exclusively and setup shared.
pub const GC_LOCK: &str = ".gc.lock";

/// What can be removed, found by [`survey`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Candidate {
    /// A tree kept aside: `images/<image_name>/.contents.<md5>.XXXXXX`.
    Tree {
        path: PathBuf,
        image_name: String,
        md5: String,
    },
    /// A cached tarball (`builds/<file>` or `images/<image_name>/<file>`).
    Tarball(PathBuf),
    /// A cache entry's lock file (`<entry>.lock`).
    Lock(PathBuf),
    /// A cache entry's sidecar of validators and sums (`<entry>.meta`).
    Meta(PathBuf),
}

/// What must be kept.
#[derive(Debug, Default, Clone)]
pub struct Keep {
    /// The records of every set-up proc.
    pub uses: Vec<Uses>,
    /// Whether some set-up proc has no record (then no tarball is removed).
    pub unknown_procs: bool,
    /// The trees someone holds (see [`vr_fs::DirLock`]): the image layer of a running
    /// container, the base of a running vimage build.
    pub in_use: BTreeSet<PathBuf>,
}

/// The candidates that go: see the module docs. Lock files go only when their entry goes or
/// is gone (`exists` tells).
pub fn decide(
    candidates: &[Candidate],
    keep: &Keep,
    exists: &dyn Fn(&Path) -> bool,
) -> Vec<Candidate> {
    let mut gone: Vec<Candidate> = Vec::new();
    for c in candidates {
        let remove = match c {
            Candidate::Tree {
                path,
                image_name,
                md5,
            } => {
                !keep.in_use.contains(path)
                    && !keep.uses.iter().any(|u| {
                        u.image_name == *image_name && u.image_md5.eq_ignore_ascii_case(md5)
                    })
            }
            Candidate::Tarball(path) => {
                !keep.unknown_procs
                    && !keep
                        .uses
                        .iter()
                        .any(|u| u.image_tarball == *path || u.build_tarball == *path)
            }
            Candidate::Lock(_) | Candidate::Meta(_) => false,
        };
        if remove {
            gone.push(c.clone());
        }
    }
    let removed: BTreeSet<PathBuf> = gone.iter().map(|c| path_of(c).to_path_buf()).collect();
    for c in candidates {
        if let Candidate::Lock(beside) | Candidate::Meta(beside) = c {
            let entry = entry_beside(beside);
            if removed.contains(&entry) || !exists(&entry) {
                gone.push(c.clone());
            }
        }
    }
    gone
}

/// The path a candidate removes.
pub fn path_of(c: &Candidate) -> &Path {
    match c {
        Candidate::Tree { path, .. }
        | Candidate::Tarball(path)
        | Candidate::Lock(path)
        | Candidate::Meta(path) => path,
    }
}

/// The entry a lock file or sidecar belongs to (`<entry>.lock`, `<entry>.meta`).
fn entry_beside(file: &Path) -> PathBuf {
    let text = file.as_os_str().to_string_lossy();
    let entry = text
        .strip_suffix(".lock")
        .or_else(|| text.strip_suffix(".meta"))
        .unwrap_or(&text);
    PathBuf::from(entry)
}

/// Whether `name` (in `builds/` or `images/<name>/`) is a cached tarball: not hidden (temp
/// files, stamps, trees kept aside), not `contents`, not a lock or sidecar.
fn is_tarball_name(name: &str) -> bool {
    !name.starts_with('.')
        && name != pins::CONTENTS
        && !name.ends_with(".lock")
        && !name.ends_with(".meta")
}

/// Everything under `root` gc could remove.
pub fn survey(root: &Path) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut scan = |dir: &Path, image_name: Option<&str>| {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if name.ends_with(".lock") && kind.is_file() {
                out.push(Candidate::Lock(path));
            } else if name.ends_with(".meta") && kind.is_file() && !name.starts_with('.') {
                out.push(Candidate::Meta(path));
            } else if let (Some(image_name), Some(md5)) = (image_name, pins::retired_md5(&name)) {
                if kind.is_dir() {
                    out.push(Candidate::Tree {
                        path,
                        image_name: image_name.to_string(),
                        md5,
                    });
                }
            } else if is_tarball_name(&name) && kind.is_file() {
                out.push(Candidate::Tarball(path));
            }
        }
    };
    scan(&root.join("builds"), None);
    if let Ok(images) = std::fs::read_dir(root.join("images")) {
        for image in images.flatten() {
            if image.file_type().is_ok_and(|t| t.is_dir()) {
                let name = image.file_name().to_string_lossy().into_owned();
                scan(&image.path(), Some(&name));
            }
        }
    }
    out.sort();
    out
}

/// The records of the procs set up under `root`, and whether some have none.
pub fn records(root: &Path) -> (Vec<Uses>, bool) {
    let mut uses = Vec::new();
    let mut unknown = false;
    if let Ok(procs) = std::fs::read_dir(root.join("procs")) {
        for p in procs.flatten() {
            let dir = p.path();
            if !dir.join("proc.lxc").is_file() {
                continue;
            }
            match Uses::read(&dir) {
                Some(u) => uses.push(u),
                None => unknown = true,
            }
        }
    }
    (uses, unknown)
}

/// Bytes held by `path` (a file, or a tree walked without following links).
pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| size_of(&e.path())).sum())
        .unwrap_or(0)
}

/// Takes `VR_ROOT/.gc.lock`: exclusively for gc, shared for setup (waits for the other).
pub fn lock(root: &Path, exclusive: bool) -> Result<Flock<File>> {
    let path = root.join(GC_LOCK);
    let file = crate::lock::open_lock_file(&path)?;
    let how = if exclusive {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockShared
    };
    Flock::lock(file, how).map_err(|(_, errno)| {
        anyhow::Error::new(errno).context(format!("cannot lock {}", path.display()))
    })
}

/// One thing gc removed (or would remove, with `--dry-run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Its path.
    pub path: PathBuf,
    /// The bytes it held.
    pub bytes: u64,
}

/// Removes one candidate; false when it was gone already or (a lock) is held.
fn remove(c: &Candidate) -> Result<bool> {
    let path = path_of(c);
    let gone = |r: std::io::Result<()>| match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot remove {}", path.display()))),
    };
    match c {
        // Only a tree no one holds, and holding it meanwhile: a container starting on it
        // waits, then finds it gone.
        Candidate::Tree { .. } => match vr_fs::DirLock::try_exclusive(path) {
            Ok(Some(_held)) => gone(std::fs::remove_dir_all(path)),
            Ok(None) => Ok(false),
            Err(e) => gone(Err(e)),
        },
        // Holding the entry's lock, so no one is using the tarball then; the lock file is a
        // candidate of its own, after it.
        Candidate::Tarball(_) => {
            let lock_file = PathBuf::from(format!("{}.lock", path.display()));
            let _lock = vr_fetch::EntryLock::acquire(&lock_file)?;
            gone(std::fs::remove_file(path))
        }
        Candidate::Meta(_) => gone(std::fs::remove_file(path)),
        // Only a lock no one holds.
        Candidate::Lock(_) => {
            let Ok(file) = File::open(path) else {
                return Ok(false);
            };
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(_held) => gone(std::fs::remove_file(path)),
                Err(_) => Ok(false),
            }
        }
    }
}

/// Runs gc under `root`; with `dry_run` nothing is removed.
pub fn gc(root: &Path, dry_run: bool) -> Result<(Vec<Removed>, bool)> {
    if !root.is_dir() {
        return Ok((Vec::new(), false));
    }
    // One spelling of every path: records name tarballs as setup's VR_ROOT spelled them,
    // which may go through a link to the same folder as this one.
    let root = &std::fs::canonicalize(root)
        .with_context(|| format!("cannot resolve {}", root.display()))?;
    let _lock = lock(root, true)?;
    let (mut uses, unknown_procs) = records(root);
    for u in &mut uses {
        for path in [&mut u.image_tarball, &mut u.build_tarball] {
            if let Ok(real) = std::fs::canonicalize(&*path) {
                *path = real;
            }
        }
    }
    let candidates = survey(root);
    let mut in_use = BTreeSet::new();
    for c in &candidates {
        if let Candidate::Tree { path, .. } = c {
            if vr_fs::DirLock::try_exclusive(path).is_ok_and(|held| held.is_none()) {
                in_use.insert(path.clone());
            }
        }
    }
    let keep = Keep {
        uses,
        unknown_procs,
        in_use,
    };
    let mut removed = Vec::new();
    for c in decide(&candidates, &keep, &|p: &Path| p.exists()) {
        let path = path_of(&c).to_path_buf();
        let bytes = size_of(&path);
        if !dry_run && !remove(&c)? {
            continue;
        }
        removed.push(Removed { path, bytes });
    }
    Ok((removed, unknown_procs))
}

/// The removals as JSON: `[{"path": ..., "bytes": ...}]`.
pub fn json(removed: &[Removed]) -> String {
    let items: Vec<serde_json::Value> = removed
        .iter()
        .map(|r| serde_json::json!({"path": r.path.to_string_lossy(), "bytes": r.bytes}))
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// `vrun gc [--dry-run]`: the JSON on stdout, a line per removal and a summary on stderr.
pub fn run(dry_run: bool) -> Result<crate::Exit, crate::Failure> {
    use std::io::Write;
    let layout = vr_proc::Layout::from_env(std::env::var_os("VR_ROOT"));
    let (removed, unknown) = gc(&layout.root, dry_run)?;
    let verb = if dry_run { "would remove" } else { "removed" };
    for r in &removed {
        eprintln!("vrun: gc: {verb} {} ({} bytes)", r.path.display(), r.bytes);
    }
    if unknown {
        eprintln!(
            "vrun: gc: kept every cached tarball: a proc set up by an older vrun does not record which it uses (set it up again to record it)"
        );
    }
    let total: u64 = removed.iter().map(|r| r.bytes).sum();
    eprintln!(
        "vrun: gc: {verb} {} item(s), {total} bytes, under {}",
        removed.len(),
        layout.root.display()
    );
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", json(&removed)) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(e)
            .context("cannot write to stdout")
            .into()),
        _ => Ok(crate::Exit::Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    fn uses(md5: &str, image: &str, build: &str) -> Uses {
        Uses {
            image_name: "img".into(),
            image_md5: md5.into(),
            image_tarball: image.into(),
            build_tarball: build.into(),
        }
    }

    fn tree(md5: &str) -> Candidate {
        Candidate::Tree {
            path: format!("/r/images/img/.contents.{md5}.x").into(),
            image_name: "img".into(),
            md5: md5.into(),
        }
    }

    #[test]
    fn what_goes_and_what_stays() {
        let candidates = vec![
            tree(A),
            tree(B),
            Candidate::Tarball("/r/images/img/a.tar.gz".into()),
            Candidate::Tarball("/r/images/img/b.tar.gz".into()),
            Candidate::Tarball("/r/builds/app.tar.gz".into()),
            Candidate::Tarball("/r/builds/old.tar.gz".into()),
            Candidate::Lock("/r/builds/old.tar.gz.lock".into()),
            Candidate::Lock("/r/builds/app.tar.gz.lock".into()),
            Candidate::Lock("/r/builds/gone.tar.gz.lock".into()),
            Candidate::Meta("/r/builds/old.tar.gz.meta".into()),
            Candidate::Meta("/r/builds/app.tar.gz.meta".into()),
        ];
        let keep = Keep {
            uses: vec![uses(A, "/r/images/img/a.tar.gz", "/r/builds/app.tar.gz")],
            unknown_procs: false,
            in_use: BTreeSet::new(),
        };
        let exists = |p: &Path| !p.ends_with("gone.tar.gz");
        let gone: Vec<PathBuf> = decide(&candidates, &keep, &exists)
            .iter()
            .map(|c| path_of(c).to_path_buf())
            .collect();
        assert_eq!(
            gone,
            [
                format!("/r/images/img/.contents.{B}.x"),
                "/r/images/img/b.tar.gz".into(),
                "/r/builds/old.tar.gz".into(),
                "/r/builds/old.tar.gz.lock".into(),
                "/r/builds/gone.tar.gz.lock".into(),
                "/r/builds/old.tar.gz.meta".into(),
            ]
            .map(PathBuf::from)
        );

        // A tree in use stays; with a proc of unknown uses, every tarball stays.
        let keep = Keep {
            uses: vec![],
            unknown_procs: true,
            in_use: [PathBuf::from(format!("/r/images/img/.contents.{B}.x"))].into(),
        };
        let gone: Vec<PathBuf> = decide(&candidates, &keep, &exists)
            .iter()
            .map(|c| path_of(c).to_path_buf())
            .collect();
        assert_eq!(
            gone,
            [
                format!("/r/images/img/.contents.{A}.x"),
                "/r/builds/gone.tar.gz.lock".into(),
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn a_survey_of_a_root() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for dir in [
            "builds".to_string(),
            "images/img/contents".into(),
            format!("images/img/.contents.{A}.Zz"),
        ] {
            std::fs::create_dir_all(r.join(dir)).unwrap();
        }
        for file in [
            "builds/app.tar.gz",
            "builds/app.tar.gz.lock",
            "builds/.app.tar.gz.x.part",
            "images/img/a.tar.gz",
            "images/img/.contents.md5",
            "images/img/contents.lock",
        ] {
            std::fs::write(r.join(file), "x").unwrap();
        }
        let got = survey(r);
        assert_eq!(
            got,
            vec![
                Candidate::Tree {
                    path: r.join(format!("images/img/.contents.{A}.Zz")),
                    image_name: "img".into(),
                    md5: A.into()
                },
                Candidate::Tarball(r.join("builds/app.tar.gz")),
                Candidate::Tarball(r.join("images/img/a.tar.gz")),
                Candidate::Lock(r.join("builds/app.tar.gz.lock")),
                Candidate::Lock(r.join("images/img/contents.lock")),
            ]
        );
    }
}
