use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Command;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A tree with every kind of entry an OS image has.
fn tree(root: &Path) {
    fs::create_dir_all(root.join("etc/deep")).unwrap();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    fs::write(root.join("bin/tool"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(root.join("etc/deep"), fs::Permissions::from_mode(0o700)).unwrap();
    symlink("tool", root.join("bin/rel-link")).unwrap();
    symlink("/bin/tool", root.join("bin/abs-link")).unwrap();
    fs::hard_link(root.join("bin/tool"), root.join("bin/tool-hard")).unwrap();
    let long = "d".repeat(120);
    fs::create_dir_all(root.join(&long)).unwrap();
    fs::write(root.join(&long).join("f".repeat(150)), "long").unwrap();
    fs::write(root.join("script.sh"), "excluded").unwrap();
    let fifo = std::ffi::CString::new(root.join("etc/fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: fifo is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    if is_root() {
        fs::create_dir_all(root.join("dev")).unwrap();
        let null = std::ffi::CString::new(root.join("dev/null").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path; mode/dev are plain integers.
        assert_eq!(
            unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
            0
        );
        std::os::unix::fs::lchown(root.join("etc/passwd"), Some(1000), Some(1001)).unwrap();
        std::os::unix::fs::lchown(root.join("bin/abs-link"), Some(7), Some(8)).unwrap();
    }
}

fn packed(root: &Path, out: &Path) -> Packed {
    pack(root, out, &[PathBuf::from("script.sh")], 2).expect("pack")
}

#[test]
fn gnu_tar_unpacks_everything_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let out = tmp.path().join("img.tar.gz");
    let p = packed(&root, &out);
    assert_eq!(p.size, fs::metadata(&out).unwrap().len());
    assert_eq!(p.md5, vr_tests::md5_file(&out).unwrap());
    let back = tmp.path().join("back");
    fs::create_dir(&back).unwrap();
    let st = Command::new("tar")
        .args(["--numeric-owner", "-xpzf"])
        .arg(&out)
        .arg("-C")
        .arg(&back)
        .status()
        .unwrap();
    assert!(st.success());
    let m = |p: &str| fs::symlink_metadata(back.join(p)).unwrap();
    assert_eq!(
        fs::read(back.join("bin/tool")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(m("bin/tool").mode() & 0o7777, 0o4755);
    assert_eq!(m("etc/deep").mode() & 0o7777, 0o700);
    assert_eq!(
        fs::read_link(back.join("bin/rel-link")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(
        fs::read_link(back.join("bin/abs-link")).unwrap(),
        Path::new("/bin/tool")
    );
    assert_eq!(
        m("bin/tool").ino(),
        m("bin/tool-hard").ino(),
        "hardlink kept"
    );
    assert!(m("etc/fifo").file_type().is_fifo());
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(150));
    assert_eq!(fs::read(back.join(long)).unwrap(), b"long");
    assert!(!back.join("script.sh").exists(), "excluded path left out");
    assert_eq!(
        m("bin/tool").mtime(),
        fs::metadata(root.join("bin/tool")).unwrap().mtime()
    );
    if is_root() {
        assert!(m("dev/null").file_type().is_char_device());
        assert_eq!(m("dev/null").rdev(), libc::makedev(1, 3));
        assert_eq!((m("etc/passwd").uid(), m("etc/passwd").gid()), (1000, 1001));
        assert_eq!((m("bin/abs-link").uid(), m("bin/abs-link").gid()), (7, 8));
    }
}

#[test]
fn entries_are_sorted_relative_and_python_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let out = tmp.path().join("img.tar.gz");
    packed(&root, &out);
    let list = Command::new("tar").arg("-tzf").arg(&out).output().unwrap();
    let names: Vec<String> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(names[0], "./");
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with('/') && !n.contains("..")),
        "{names:?}"
    );
    let bin: Vec<&String> = names.iter().filter(|n| n.starts_with("bin/")).collect();
    assert_eq!(
        bin,
        ["bin/abs-link", "bin/rel-link", "bin/tool", "bin/tool-hard"]
    );
    let py = Command::new("python3")
        .args([
            "-c",
            "import sys,tarfile; t=tarfile.open(sys.argv[1],'r:gz'); print(len(t.getmembers()))",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        names.len().to_string()
    );
}

#[test]
fn same_tree_gives_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let a = packed(&root, &tmp.path().join("a.tar.gz"));
    let b = pack(
        &root,
        &tmp.path().join("b.tar.gz"),
        &[PathBuf::from("script.sh")],
        1,
    )
    .unwrap();
    assert_eq!(a.md5, b.md5);
}

#[test]
fn cancelled_packing_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let seen = std::cell::Cell::new(0);
    let cancel = || {
        seen.set(seen.get() + 1);
        seen.get() > 3
    };
    let err = pack_with(&root, &out_dir.join("x.tar.gz"), &[], 2, None, &cancel).unwrap_err();
    assert!(matches!(err, PackError::Cancelled), "{err}");
    assert_eq!(
        fs::read_dir(&out_dir).unwrap().count(),
        0,
        "no temp file left"
    );
}

#[test]
fn a_cancel_while_the_last_file_is_packed_leaves_nothing() {
    // Two entries (the root and one file): the cancel comes after both were started, while
    // the file's bytes are read (or just before the rename): still nothing is written.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("big"), vec![7u8; 4 << 20]).unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let seen = std::cell::Cell::new(0);
    let cancel = || {
        seen.set(seen.get() + 1);
        seen.get() > 2
    };
    let err = pack_with(&root, &out_dir.join("x.tar.gz"), &[], 2, None, &cancel).unwrap_err();
    assert!(matches!(err, PackError::Cancelled), "{err}");
    assert_eq!(
        fs::read_dir(&out_dir).unwrap().count(),
        0,
        "no tarball, no temp file"
    );
}

#[test]
fn unreadable_tree_is_an_error_naming_the_path_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let err = pack(
        &tmp.path().join("missing"),
        &out_dir.join("x.tar.gz"),
        &[],
        2,
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    assert_eq!(
        fs::read_dir(&out_dir).unwrap().count(),
        0,
        "no temp file left"
    );
}

#[test]
fn unshifted_ids_table() {
    let cases = [
        // (host id, base, count) -> id in the tarball
        (100_000, 100_000, 65_536, 0),
        (101_000, 100_000, 65_536, 1000),
        (165_535, 100_000, 65_536, 65_535),
        (165_536, 100_000, 65_536, OVERFLOW_ID),
        (0, 100_000, 65_536, OVERFLOW_ID),
        (99_999, 100_000, 65_536, OVERFLOW_ID),
        (100_500, 100_000, 1000, 500),
        (101_000, 100_000, 1000, OVERFLOW_ID),
    ];
    for (host, base, count, want) in cases {
        assert_eq!(unshifted(host, base, count), want, "{host} {base} {count}");
    }
}

#[test]
fn the_tarball_is_world_readable_and_owner_writable() {
    // The mode is set on the open temp file (fchmod) before the rename: chmod by path after
    // the rename would follow a symlink swapped in at `out` in between. That race cannot be
    // tested deterministically (nothing pauses between the rename and a path operation), so
    // this only pins the resulting mode; tempfile alone would leave 0600.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let out = tmp.path().join("img.tar.gz");
    packed(&root, &out);
    let meta = fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.mode() & 0o7777, 0o644);
}
