//! Hostile tarballs: each is refused with an error naming the entry, and the folder around the
//! target is left exactly as it was (no target, no temp dir, nothing written outside).

use crate::support::{craft, is_root, snapshot, E};
use std::fs;
use std::path::Path;
use vr_fetch::{unpack, Error, UnpackOptions};

/// `outside` is a folder beside the target with a file in it; `{out}` in names is replaced by
/// its absolute path.
fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let parent = work.path().join("parent");
    fs::create_dir_all(parent.join("outside")).unwrap();
    fs::write(parent.join("outside/file"), b"original").unwrap();
    (work, parent)
}

#[test]
fn hostile_entries_are_refused_and_nothing_is_written() {
    let (work, parent) = setup();
    let out = parent.join("outside").display().to_string();
    let abs = |s: &str| s.replace("{out}", &out);
    // (case, entries, refused entry, reason)
    let cases: Vec<(&str, Vec<E>, &str, String)> = vec![
        (
            "dotdot file",
            vec![E::File("../outside/evil", b"x")],
            "../outside/evil",
            "it contains `..`".into(),
        ),
        (
            "dotdot inside",
            vec![E::Dir("a"), E::File("a/../../outside/evil", b"x")],
            "a/../../outside/evil",
            "it contains `..`".into(),
        ),
        (
            "dotdot dir",
            vec![E::Dir("../outside/d")],
            "../outside/d",
            "it contains `..`".into(),
        ),
        (
            "absolute file",
            vec![E::File(abs("{out}/evil").leak(), b"x")],
            abs("{out}/evil").leak(),
            "it is an absolute path".into(),
        ),
        (
            "absolute etc",
            vec![E::File("/etc/vr-fetch-evil", b"x")],
            "/etc/vr-fetch-evil",
            "it is an absolute path".into(),
        ),
        (
            "write through absolute symlink",
            vec![
                E::Symlink("link", abs("{out}").leak()),
                E::File("link/file", b"x"),
            ],
            "link/file",
            "it would be written through \"link\", which is not a directory".into(),
        ),
        (
            "write through /etc symlink",
            vec![E::Symlink("link", "/etc"), E::File("link/passwd", b"x")],
            "link/passwd",
            "it would be written through \"link\", which is not a directory".into(),
        ),
        (
            "write through relative symlink",
            vec![
                E::Dir("d"),
                E::Symlink("d/up", "../../outside"),
                E::File("d/up/file", b"x"),
            ],
            "d/up/file",
            "it would be written through \"d/up\", which is not a directory".into(),
        ),
        (
            "symlink to .. then deeper",
            vec![E::Symlink("link", ".."), E::Dir("link/outside/new")],
            "link/outside/new",
            "it would be written through \"link\", which is not a directory".into(),
        ),
        (
            "hardlink with dotdot",
            vec![E::Hardlink("h", "../outside/file")],
            "h",
            "its hardlink target \"../outside/file\" is refused: it contains `..`".into(),
        ),
        (
            "hardlink absolute",
            vec![E::Hardlink("h", abs("{out}/file").leak())],
            "h",
            format!("its hardlink target \"{out}/file\" is refused: it is an absolute path"),
        ),
        (
            "hardlink through symlink",
            vec![
                E::Symlink("link", abs("{out}").leak()),
                E::Hardlink("h", "link/file"),
            ],
            "h",
            "its hardlink target \"link/file\" is not inside a directory of the archive".into(),
        ),
        (
            "hardlink to nothing",
            vec![E::Hardlink("h", "nothing")],
            "h",
            "its hardlink target \"nothing\" is not an earlier entry".into(),
        ),
        (
            "hardlink to a directory",
            vec![E::Dir("d"), E::Hardlink("h", "d")],
            "h",
            "its hardlink target \"d\" is a directory".into(),
        ),
        (
            "root as a file",
            vec![E::File("./", b"x")],
            "./",
            "it names the root but is not a directory".into(),
        ),
    ];
    for (i, (case, entries, entry, reason)) in cases.into_iter().enumerate() {
        let tarball = work.path().join(format!("hostile{i}.tar.gz"));
        craft(&tarball, &entries);
        let before = snapshot(&parent);
        let etc_before = fs::metadata("/etc").unwrap().modified().unwrap();
        let target = parent.join("target");
        let err = unpack(&tarball, &target, &UnpackOptions::default()).unwrap_err();
        assert!(matches!(err, Error::UnsafeEntry { .. }), "{case}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "refusing entry {entry:?} of {}: {reason}",
                tarball.display()
            ),
            "{case}"
        );
        assert_eq!(
            snapshot(&parent),
            before,
            "{case}: the parent folder changed"
        );
        assert!(!Path::new("/etc/vr-fetch-evil").exists(), "{case}");
        assert_eq!(
            fs::metadata("/etc").unwrap().modified().unwrap(),
            etc_before,
            "{case}"
        );
    }
}

/// Replacing a symlink by a file, a hardlink or a device of the same name never writes through
/// it: the link is replaced, the file it pointed to is untouched.
#[test]
fn entries_replace_links_instead_of_following_them() {
    let (work, parent) = setup();
    let out = parent.join("outside").display().to_string();
    let abs_file = format!("{out}/file");
    let rel_file = "../outside/file";
    let tarball = work.path().join("t.tar.gz");
    let mut entries = vec![
        E::Symlink("a", &abs_file),
        E::File("a", b"replaced"),
        E::Symlink("b", rel_file),
        E::File("c", b"c"),
        E::Hardlink("b", "c"),
        E::Symlink("d", &abs_file),
        E::Symlink("d", "/bin/busybox"),
        E::Symlink("bin/sh", "/bin/busybox"),
        E::File("e", b"e"),
        E::Hardlink("f", "e"),
        E::File("f", b"f is its own file now"),
        // A hardlink to a symlink is another symlink, not the file it points to.
        E::Symlink("s", &abs_file),
        E::Hardlink("hs", "s"),
        // A folder entry replaces a symlink of its name; what follows goes into the folder.
        E::Symlink("g", &out),
        E::Dir("g"),
        E::File("g/file", b"inside"),
    ];
    let root = is_root("entries_replace_links_instead_of_following_them (device part)");
    if root {
        entries.push(E::Symlink("null", &abs_file));
        entries.push(E::Char("null", 1, 3));
    }
    craft(&tarball, &entries);
    let outside_before = snapshot(&parent.join("outside"));
    let target = parent.join("target");
    unpack(&tarball, &target, &UnpackOptions::default()).unwrap();
    assert_eq!(snapshot(&parent.join("outside")), outside_before);
    assert_eq!(fs::read(parent.join("outside/file")).unwrap(), b"original");
    assert_eq!(fs::read(target.join("a")).unwrap(), b"replaced");
    assert_eq!(fs::read(target.join("b")).unwrap(), b"c");
    assert_eq!(
        fs::read_link(target.join("d")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(
        fs::read_link(target.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(fs::read(target.join("e")).unwrap(), b"e");
    assert_eq!(
        fs::read(target.join("f")).unwrap(),
        b"f is its own file now"
    );
    if root {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let m = fs::symlink_metadata(target.join("null")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), nix::sys::stat::makedev(1, 3));
    }
}

/// A tarball holding a GNU long-name entry of `len` bytes, then a file: the tar crate would
/// read the whole "name" into memory.
fn long_name_tarball(out: &Path, len: u64) {
    let file = fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_size(len);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append(&h, std::io::Read::take(std::io::repeat(b'a'), len))
        .unwrap();
    let mut f = tar::Header::new_gnu();
    f.set_path("x").unwrap();
    f.set_size(1);
    f.set_mode(0o644);
    f.set_uid(0);
    f.set_gid(0);
    f.set_mtime(0);
    f.set_cksum();
    b.append(&f, &b"x"[..]).unwrap();
    b.into_inner().unwrap().finish().unwrap();
}

#[test]
fn a_huge_long_name_is_refused_before_it_is_held_in_memory() {
    let (work, parent) = setup();
    let before = snapshot(&parent);
    let bomb = work.path().join("longname.tar.gz");
    long_name_tarball(&bomb, 64 << 20);
    let err = unpack(&bomb, &parent.join("target"), &UnpackOptions::default()).unwrap_err();
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain = format!("{chain}: {s}");
        source = s.source();
    }
    assert!(
        chain.contains("a tar header, long name or pax record larger than 1048576 bytes"),
        "{chain}"
    );
    assert_eq!(snapshot(&parent), before, "nothing left");
    // A long name of a sane length still works.
    let fine = work.path().join("fine.tar.gz");
    long_name_tarball(&fine, 200);
    let err = unpack(&fine, &parent.join("target"), &UnpackOptions::default());
    assert!(err.is_ok(), "{err:?}");
}
