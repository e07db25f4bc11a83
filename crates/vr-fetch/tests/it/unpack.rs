//! `unpack` of tarballs made by GNU tar: everything comes back as it was.

use crate::support::{gnu_tar, is_root, names, snapshot, vrfetch};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use vr_fetch::{unpack, unpack_once, UnpackOptions};

/// A tree with what OS images have: modes (setuid, read-only files and folders), relative,
/// absolute and dangling symlinks, hardlinks, a fifo, an empty and a multi-MiB file; as root also
/// other owners and device nodes.
pub fn sample_tree(root: &Path) {
    let w = |rel: &str, data: &[u8], mode: u32| {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    };
    w("bin/busybox", b"\x7fELF pretend", 0o755);
    w("usr/bin/passwd", b"setuid", 0o4755);
    w("etc/shadow", b"secret", 0o600);
    w("etc/readonly", b"ro", 0o444);
    w("empty", b"", 0o644);
    let big: Vec<u8> = (0..3 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    w("usr/lib/big.so", &big, 0o644);
    w("ro/inside", b"in a read-only folder", 0o644);
    fs::set_permissions(root.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
    symlink("busybox", root.join("bin/sh")).unwrap();
    symlink("/bin/busybox", root.join("usr/bin/env")).unwrap();
    symlink("/nonexistent/dangling", root.join("dangling")).unwrap();
    symlink("../..", root.join("usr/lib/up")).unwrap();
    fs::hard_link(root.join("bin/busybox"), root.join("bin/ls")).unwrap();
    nix::unistd::mkfifo(
        &root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    if nix::unistd::geteuid().is_root() {
        w("home/app/file", b"app's", 0o640);
        std::os::unix::fs::lchown(root.join("home/app/file"), Some(1000), Some(1000)).unwrap();
        std::os::unix::fs::lchown(root.join("home/app"), Some(1000), Some(1001)).unwrap();
        std::os::unix::fs::lchown(root.join("bin/sh"), Some(7), Some(8)).unwrap();
        w("usr/bin/sgid", b"setgid", 0o2755);
        std::os::unix::fs::lchown(root.join("usr/bin/sgid"), Some(0), Some(42)).unwrap();
        fs::set_permissions(
            root.join("usr/bin/sgid"),
            fs::Permissions::from_mode(0o2755),
        )
        .unwrap();
        fs::create_dir_all(root.join("dev")).unwrap();
        let dev = nix::sys::stat::makedev(1, 3);
        nix::sys::stat::mknod(
            &root.join("dev/null"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            dev,
        )
        .unwrap();
    }
}

#[test]
fn gnu_tar_roundtrip_gz_bz2_xz() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    sample_tree(&src);
    let want = snapshot(&src);
    for (ext, flag) in [
        ("tar.gz", "-z"),
        ("tar.bz2", "-j"),
        ("tar.xz", "-J"),
        ("tgz", "-z"),
    ] {
        let tarball = work.path().join(format!("image.{ext}"));
        gnu_tar(&[
            "--numeric-owner",
            flag,
            "-cf",
            tarball.to_str().unwrap(),
            "-C",
            src.to_str().unwrap(),
            ".",
        ]);
        let target = work.path().join(ext).join("contents");
        unpack(&tarball, &target, &UnpackOptions::default()).unwrap();
        // Without root, owners are the unpacker's on both sides.
        assert_eq!(snapshot(&target), want, "{ext}");
        let root_mode = fs::metadata(&target).unwrap().mode() & 0o7777;
        assert_eq!(root_mode, fs::metadata(&src).unwrap().mode() & 0o7777);
        assert_eq!(
            names(target.parent().unwrap()),
            ["contents"],
            "no temp dirs left"
        );
    }
}

#[test]
fn tarball_without_root_entry_and_with_implicit_parents() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    fs::create_dir_all(src.join("a/b")).unwrap();
    fs::write(src.join("a/b/f"), b"x").unwrap();
    let tarball = work.path().join("t.tar.gz");
    // Only the file: its parents are not entries.
    gnu_tar(&[
        "-czf",
        tarball.to_str().unwrap(),
        "-C",
        src.to_str().unwrap(),
        "a/b/f",
    ]);
    let target = work.path().join("out");
    unpack(&tarball, &target, &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(target.join("a/b/f")).unwrap(), b"x");
    assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o755);
    assert_eq!(
        fs::metadata(target.join("a")).unwrap().mode() & 0o777,
        0o755
    );
}

#[test]
fn owner_is_applied_to_everything() {
    if !is_root("owner_is_applied_to_everything") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    sample_tree(&src);
    let tarball = work.path().join("t.tar.gz");
    vr_tests::tar_gz(&src, &tarball).unwrap();
    let target = work.path().join("out");
    let opts = UnpackOptions {
        owner: Some((4242, 4343)),
        ..Default::default()
    };
    unpack(&tarball, &target, &opts).unwrap();
    let mut count = 0;
    for line in snapshot(&target) {
        assert!(line.contains(" 4242:4343 "), "{line}");
        count += 1;
    }
    assert!(count > 10);
    let root = fs::symlink_metadata(&target).unwrap();
    assert_eq!((root.uid(), root.gid()), (4242, 4343));
    // setuid survives the chown.
    let passwd = fs::metadata(target.join("usr/bin/passwd")).unwrap();
    assert_eq!(passwd.mode() & 0o7777, 0o4755);
}

#[test]
fn existing_target_is_replaced_whole() {
    let work = tempfile::tempdir().unwrap();
    let (one, two) = (work.path().join("one"), work.path().join("two"));
    fs::create_dir_all(one.join("old")).unwrap();
    fs::write(one.join("old/f"), b"1").unwrap();
    fs::create_dir_all(&two).unwrap();
    fs::write(two.join("new"), b"2").unwrap();
    let (t1, t2) = (work.path().join("1.tar.gz"), work.path().join("2.tar.gz"));
    vr_tests::tar_gz(&one, &t1).unwrap();
    vr_tests::tar_gz(&two, &t2).unwrap();
    let parent = work.path().join("p");
    let target = parent.join("contents");
    unpack(&t1, &target, &UnpackOptions::default()).unwrap();
    unpack(&t2, &target, &UnpackOptions::default()).unwrap();
    assert_eq!(names(&target), ["new"]);
    assert_eq!(names(&parent), ["contents"]);
}

#[test]
fn unpack_once_unpacks_once_under_concurrency() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    sample_tree(&src);
    let tarball = work.path().join("t.tar.gz");
    vr_tests::tar_gz(&src, &tarball).unwrap();
    let target = work.path().join("images/busy/contents");
    let results: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| unpack_once(&tarball, &target, &UnpackOptions::default())))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| **r).count(), 1);
    assert_eq!(snapshot(&target), snapshot(&src));
    assert_eq!(
        names(target.parent().unwrap()),
        ["contents", "contents.lock"]
    );
}

#[test]
fn corrupt_and_truncated_tarballs_are_errors_and_leave_nothing() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    sample_tree(&src);
    let good = work.path().join("good.tar.gz");
    vr_tests::tar_gz(&src, &good).unwrap();
    let bytes = fs::read(&good).unwrap();
    let cut = work.path().join("cut.tar.gz");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let junk = work.path().join("junk.tar.xz");
    fs::write(&junk, b"this is not xz data at all").unwrap();
    for tarball in [cut, junk] {
        let parent = work.path().join("p");
        fs::create_dir_all(&parent).unwrap();
        let err = unpack(&tarball, &parent.join("t"), &UnpackOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot read tarball {}", tarball.display())
        );
        assert!(names(&parent).is_empty(), "{:?}", names(&parent));
    }
    let missing = work.path().join("missing.tar.gz");
    let err = unpack(&missing, &work.path().join("t"), &UnpackOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot open {}", missing.display())
    );
}

/// Peak memory (VmHWM) of the `vrfetch` example unpacking and hashing a tarball holding a
/// 256 MiB file stays far below the data's size.
#[test]
fn memory_stays_flat() {
    let work = tempfile::tempdir().unwrap();
    let tarball = work.path().join("zeros.tar.gz");
    {
        let f = fs::File::create(&tarball).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        let size = 256u64 << 20;
        h.set_size(size);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(
            &mut h,
            "zeros",
            std::io::Read::take(std::io::repeat(0), size),
        )
        .unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }
    let target = work.path().join("out");
    let unpack_kib = peak_rss_kib(
        Command::new(vrfetch())
            .arg("unpack")
            .arg(&tarball)
            .arg(&target),
    );
    assert_eq!(fs::metadata(target.join("zeros")).unwrap().len(), 256 << 20);
    let md5_kib = peak_rss_kib(Command::new(vrfetch()).arg("md5").arg(target.join("zeros")));
    assert!(unpack_kib < 50 * 1024, "unpack peak RSS {unpack_kib} KiB");
    assert!(md5_kib < 50 * 1024, "md5 peak RSS {md5_kib} KiB");
}

fn peak_rss_kib(cmd: &mut Command) -> u64 {
    let out = cmd.env("VRFETCH_PEAK_RSS", "1").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak rss: "))
        .unwrap();
    line.trim_end_matches(" KiB").parse().unwrap()
}

#[test]
fn a_staging_folder_holds_the_tree_until_it_is_swapped_in() {
    // The target's parent stands for a container's layer: nothing of the unpack may appear
    // there but the finished target (the old one is swapped out and removed from staging).
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("www")).unwrap();
    fs::write(src.join("www/index.html"), "new\n").unwrap();
    let tarball = tmp.path().join("build.tar.gz");
    gnu_tar(&[
        "-czf",
        tarball.to_str().unwrap(),
        "-C",
        src.to_str().unwrap(),
        ".",
    ]);
    let (layer, staging) = (tmp.path().join("layer"), tmp.path().join("staging"));
    fs::create_dir_all(layer.join("app")).unwrap();
    fs::write(layer.join("app/old"), "old\n").unwrap();
    fs::create_dir(&staging).unwrap();
    let opts = UnpackOptions {
        staging: Some(staging.clone()),
        ..UnpackOptions::default()
    };
    unpack(&tarball, &layer.join("app"), &opts).unwrap();
    assert_eq!(names(&layer), vec!["app".to_string()]);
    assert_eq!(
        fs::read_to_string(layer.join("app/www/index.html")).unwrap(),
        "new\n"
    );
    assert!(!layer.join("app/old").exists());
    assert!(names(&staging).is_empty(), "{:?}", names(&staging));
    // A bad tarball leaves the target as it was and the staging folder empty.
    fs::write(&tarball, "not gzip").unwrap();
    assert!(unpack(&tarball, &layer.join("app"), &opts).is_err());
    assert!(layer.join("app/www/index.html").is_file());
    assert!(names(&staging).is_empty(), "{:?}", names(&staging));
}
