//! Helpers: folder snapshots, crafted tarballs, the example binary.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use vr_fetch::{unpack, Error, UnpackOptions};

/// One line per path under `dir` (sorted): type, mode, owner, size, mtime, link target and the
/// md5 of file contents. Two equal snapshots mean an untouched (or identical) tree.
pub fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let m = fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let ft = m.file_type();
        let extra = if ft.is_symlink() {
            format!("-> {}", fs::read_link(&path).unwrap().display())
        } else if ft.is_file() {
            vr_tests::md5_file(&path).unwrap()
        } else {
            String::new()
        };
        let kind = if ft.is_symlink() {
            "l"
        } else if ft.is_dir() {
            "d"
        } else if ft.is_file() {
            "f"
        } else {
            "s"
        };
        let size = if ft.is_dir() { 0 } else { m.size() };
        out.push(format!(
            "{rel} {kind} {:o} {}:{} {size} {} nlink={} rdev={:x} {extra}",
            m.mode() & 0o7777,
            m.uid(),
            m.gid(),
            m.mtime(),
            if ft.is_dir() { 0 } else { m.nlink() },
            m.rdev(),
        ));
        if ft.is_dir() {
            walk(root, &path, out);
        }
    }
}

pub use vr_tests::names;

/// An entry of a crafted tarball. Names and link names are stored byte for byte, without the
/// checks `tar::Builder` would make.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
}

/// Writes `entries` as a gzip tarball at `out`.
pub fn craft(out: &Path, entries: &[E]) {
    let file = fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        let (name, link, data): (&str, Option<&str>, &[u8]) = match *e {
            E::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                (n, None, d)
            }
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, None, &[])
            }
            E::Symlink(n, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                (n, Some(t), &[])
            }
            E::Hardlink(n, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                (n, Some(t), &[])
            }
            E::Char(n, major, minor) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_device_major(major).unwrap();
                h.set_device_minor(minor).unwrap();
                (n, None, &[])
            }
        };
        raw(&mut h.as_old_mut().name, name);
        if let Some(link) = link {
            raw(&mut h.as_old_mut().linkname, link);
        }
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

fn raw(field: &mut [u8], value: &str) {
    assert!(
        value.len() < field.len(),
        "{value} too long for a raw header"
    );
    field.fill(0);
    field[..value.len()].copy_from_slice(value.as_bytes());
}

/// Runs GNU tar with `args`, failing the test if it fails.
pub fn gnu_tar(args: &[&str]) {
    let status = Command::new("tar").args(args).status().unwrap();
    assert!(status.success(), "tar {args:?}: {status}");
}

/// The `vrfetch` example built next to the running test binary. A plain `cargo test` builds
/// examples; a run filtered with `--test it` does not, and then uses whatever was built before.
pub fn vrfetch() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/vrfetch");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test -p vr-fetch` (without --test) or `cargo build -p vr-fetch --example vrfetch`",
        path.display()
    );
    path
}

/// True when running as root; otherwise says which test is skipped.
pub fn is_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    vr_tests::e2e_ready(test)
}

/// What an entry of a [`tarball`] is.
#[derive(Clone, Copy)]
pub enum K<'a> {
    Dir,
    File(&'a [u8]),
    Symlink(&'a str),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

/// One entry: name (stored byte for byte), kind, mode, uid, gid.
#[derive(Clone, Copy)]
pub struct T<'a>(pub &'a str, pub K<'a>, pub u32, pub u64, pub u64);

/// Writes `entries` as a gzip tarball at `out`.
pub fn tarball(out: &Path, entries: &[T]) {
    let file = fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for &T(name, kind, mode, uid, gid) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_600_000_000);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        let mut data: &[u8] = &[];
        match kind {
            K::Dir => h.set_entry_type(tar::EntryType::Directory),
            K::File(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                data = d;
            }
            K::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name(target).unwrap();
            }
            K::Char(major, minor) | K::Block(major, minor) => {
                h.set_entry_type(if matches!(kind, K::Char(..)) {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                });
                h.set_device_major(major).unwrap();
                h.set_device_minor(minor).unwrap();
            }
            K::Fifo => h.set_entry_type(tar::EntryType::Fifo),
        }
        let field = &mut h.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

/// (uid, gid, mode & 0o7777) of `path`, not following a symlink.
pub fn owner_mode(path: &Path) -> (u32, u32, u32) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// Refused tarballs leave the parent folder exactly as it was: no target, no temp dir.
pub fn assert_refused(opts: &UnpackOptions, entries: &[T], entry: &str, reason: &str) {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t.tar.gz");
    tarball(&t, entries);
    let parent = work.path().join("parent");
    fs::create_dir_all(parent.join("beside")).unwrap();
    fs::write(parent.join("beside/file"), b"original").unwrap();
    let before = snapshot(&parent);
    let err = unpack(&t, &parent.join("target"), opts).unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("refusing entry {entry:?} of {}: {reason}", t.display())
    );
    assert_eq!(snapshot(&parent), before, "{entry}: the parent changed");
}

/// Quick download limits for tests: 1 KiB/s over 2 s, 2 s to connect.
pub fn quick() -> vr_fetch::FetchOptions {
    vr_fetch::FetchOptions {
        limits: vr_fetch::DownloadLimits {
            speed_limit: 1024,
            speed_time: std::time::Duration::from_secs(2),
            connect_timeout: std::time::Duration::from_secs(2),
            ..vr_fetch::DownloadLimits::default()
        },
        ..vr_fetch::FetchOptions::default()
    }
}
