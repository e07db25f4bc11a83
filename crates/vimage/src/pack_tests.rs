use super::*;
use std::ffi::CString;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::process::Command;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn cpath(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// A tree with every kind of entry an OS image has, long names and link targets included.
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
    // A hardlink to a long name, and a symlink with a long target.
    fs::hard_link(
        root.join(&long).join("f".repeat(150)),
        root.join("bin/to-long"),
    )
    .unwrap();
    symlink(
        format!("/{long}/{}", "t".repeat(110)),
        root.join("bin/long-target"),
    )
    .unwrap();
    fs::write(root.join("script.sh"), "excluded").unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(cpath(&root.join("etc/fifo")).as_ptr(), 0o644) },
        0
    );
    if is_root() {
        fs::create_dir_all(root.join("dev")).unwrap();
        // SAFETY: valid path; mode/dev are plain integers.
        assert_eq!(
            unsafe {
                libc::mknod(
                    cpath(&root.join("dev/null")).as_ptr(),
                    libc::S_IFCHR | 0o666,
                    libc::makedev(1, 3),
                )
            },
            0
        );
        std::os::unix::fs::lchown(root.join("etc/passwd"), Some(1000), Some(1001)).unwrap();
        std::os::unix::fs::lchown(root.join("bin/abs-link"), Some(7), Some(8)).unwrap();
    }
}

fn packed(root: &Path, out: &Path) -> Packed {
    let exclude = [PathBuf::from("script.sh")];
    let opts = PackOptions {
        threads: 2,
        exclude: &exclude,
        ..PackOptions::default()
    };
    pack(root, out, &opts).expect("pack")
}

/// `tar -tv` of a tarball (any compression GNU tar recognises), times in full and in UTC.
fn listing(tarball: &Path) -> String {
    let out = Command::new("tar")
        .args(["--full-time", "-tvf"])
        .arg(tarball)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
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
        fs::read_link(back.join("bin/long-target")).unwrap(),
        fs::read_link(root.join("bin/long-target")).unwrap()
    );
    assert_eq!(
        m("bin/tool").ino(),
        m("bin/tool-hard").ino(),
        "hardlink kept"
    );
    assert!(m("etc/fifo").file_type().is_fifo());
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(150));
    assert_eq!(fs::read(back.join(&long)).unwrap(), b"long");
    assert_eq!(m(&long).ino(), m("bin/to-long").ino(), "long hardlink kept");
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
fn the_archive_inside_is_byte_for_byte_what_gnu_tar_writes() {
    // `tar --sort=name --numeric-owner -C root -cf - .` of the same tree: same names (`./`,
    // `./bin/`, `./bin/sh`), same headers, same long names, same padding.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let ours = tmp.path().join("ours.tar.gz");
    pack(&root, &ours, &PackOptions::default()).expect("pack");
    let theirs = tmp.path().join("theirs.tar");
    let st = Command::new("tar")
        .args(["--sort=name", "--numeric-owner", "-cf"])
        .arg(&theirs)
        .arg("-C")
        .arg(&root)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let mut inside = Vec::new();
    flate2::read::MultiGzDecoder::new(File::open(&ours).unwrap())
        .read_to_end(&mut inside)
        .unwrap();
    let gnu = fs::read(&theirs).unwrap();
    let first_diff = inside.iter().zip(&gnu).position(|(a, b)| a != b);
    assert_eq!(
        (first_diff, inside.len()),
        (None, gnu.len()),
        "first difference at byte {first_diff:?}"
    );
    // What that means, spelled out: `./` names, folders ending in `/`, links to `./` names.
    let list = listing(&ours);
    let names: Vec<&str> = list
        .lines()
        .map(|l| l.split_once(" ./").map_or(l, |(_, n)| n))
        .collect();
    assert_eq!(names[0], "", "the root is ./: {list}");
    assert!(names.contains(&"bin/"), "{list}");
    assert!(
        names.contains(&"bin/tool-hard link to ./bin/tool"),
        "{list}"
    );
    assert!(list.lines().all(|l| l.contains(" ./")), "{list}");
}

#[test]
fn python_reads_every_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let out = tmp.path().join("img.tar.gz");
    // More than one gzip member: a file of 3 MiB (incompressible enough not to matter).
    let mut x: u32 = 1;
    let big: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    fs::write(root.join("big"), &big).unwrap();
    packed(&root, &out);
    let listed = listing(&out).lines().count();
    let py = Command::new("python3")
        .args([
            "-c",
            "import sys,tarfile\nt=tarfile.open(sys.argv[1],'r:gz')\nms=t.getmembers()\n\
             print(len(ms), ms[0].name, len(t.extractfile('./big').read()))",
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
        // (tarfile shows `./` as `.`.)
        format!("{listed} . {}", 3 << 20)
    );
}

#[test]
fn zstd_images_are_read_by_gnu_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let gz = tmp.path().join("img.tar.gz");
    let zst = tmp.path().join("img.tar.zst");
    pack(&root, &gz, &PackOptions::default()).unwrap();
    let opts = PackOptions {
        format: ImageFormat::Zstd,
        ..PackOptions::default()
    };
    let p = pack(&root, &zst, &opts).unwrap();
    assert_eq!(
        &fs::read(&zst).unwrap()[..4],
        b"\x28\xb5\x2f\xfd",
        "zstd magic"
    );
    assert_eq!(p.md5, vr_tests::md5_file(&zst).unwrap());
    let sidecar = fs::read_to_string(tmp.path().join("img.tar.zst.sha256")).unwrap();
    assert_eq!(sidecar, format!("{}  img.tar.zst\n", p.sha256));
    // Same entries, same bytes inside: only the compression differs.
    assert_eq!(listing(&gz), listing(&zst));
    let back = tmp.path().join("back");
    fs::create_dir(&back).unwrap();
    let st = Command::new("tar")
        .args(["--zstd", "-xpf"])
        .arg(&zst)
        .arg("-C")
        .arg(&back)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        fs::read(back.join("bin/tool")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
}

#[test]
fn cancelled_packing_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    for format in ImageFormat::ALL {
        let out_dir = tmp.path().join(format!("out-{}", format.name()));
        fs::create_dir(&out_dir).unwrap();
        let seen = std::cell::Cell::new(0);
        let cancel = || {
            seen.set(seen.get() + 1);
            seen.get() > 3
        };
        let opts = PackOptions {
            format,
            cancel: &cancel,
            ..PackOptions::default()
        };
        let out = out_dir.join(format!("x.{}", format.extension()));
        let err = pack(&root, &out, &opts).unwrap_err();
        assert!(matches!(err, PackError::Cancelled), "{err}");
        assert_eq!(
            fs::read_dir(&out_dir).unwrap().count(),
            0,
            "no temp file left"
        );
    }
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
    let opts = PackOptions {
        cancel: &cancel,
        ..PackOptions::default()
    };
    let err = pack(&root, &out_dir.join("x.tar.gz"), &opts).unwrap_err();
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
        &PackOptions::default(),
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

#[path = "pack_repro_tests.rs"]
mod repro;
#[path = "pack_xattr_tests.rs"]
mod xattrs;
