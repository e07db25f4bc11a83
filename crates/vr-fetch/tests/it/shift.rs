//! Shifted ownership: OS images for containers in a user namespace, checked on disk with real
//! tarballs, directly and through `ensure_unpacked`.

use crate::support::{assert_refused, is_root, names, owner_mode, tarball, K, T};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use vr_fetch::{ensure_unpacked, unpack, IdShift, NoProgress, UnpackOptions};

/// The default mapping: container ids 0..65535 are host ids 100000..165535.
const SHIFT: IdShift = IdShift {
    uid_base: 100_000,
    gid_base: 100_000,
    count: 65536,
};

fn shifted() -> UnpackOptions {
    UnpackOptions {
        shift: Some(SHIFT),
        ..Default::default()
    }
}

/// What an OS image has: root's files, an app user's home, a setuid-root file, a device, a
/// symlink, and a file whose parents are not entries.
fn image_entries<'a>() -> Vec<T<'a>> {
    vec![
        T("etc", K::Dir, 0o755, 0, 0),
        T("etc/passwd", K::File(b"root:x:0:0"), 0o644, 0, 0),
        T("home/app", K::Dir, 0o750, 1000, 1000),
        T("home/app/notes", K::File(b"app's"), 0o640, 1000, 1001),
        T("home/app/link", K::Symlink("notes"), 0o777, 1000, 1000),
        T("usr/bin/su", K::File(b"setuid"), 0o4755, 0, 0),
        T("dev", K::Dir, 0o755, 0, 0),
        T("dev/null", K::Char(1, 3), 0o666, 0, 0),
        T("run/fifo", K::Fifo, 0o640, 1000, 0),
    ]
}

#[test]
fn image_unpack_with_shift_offsets_every_owner() {
    if !is_root("image_unpack_with_shift_offsets_every_owner") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("image.tar.gz");
    tarball(&t, &image_entries());
    let target = work.path().join("contents");
    unpack(&t, &target, &shifted()).unwrap();
    let cases = [
        // No `./` entry: the root is the container's root.
        ("", (100_000, 100_000, 0o755)),
        ("etc", (100_000, 100_000, 0o755)),
        ("etc/passwd", (100_000, 100_000, 0o644)),
        // Made for `home/app`, not an entry: the container's root too.
        ("home", (100_000, 100_000, 0o755)),
        ("home/app", (101_000, 101_000, 0o750)),
        ("home/app/notes", (101_000, 101_001, 0o640)),
        ("home/app/link", (101_000, 101_000, 0o777)),
        ("usr", (100_000, 100_000, 0o755)),
        // An image keeps its setuid files, with the bit set after the chown.
        ("usr/bin/su", (100_000, 100_000, 0o4755)),
        ("dev/null", (100_000, 100_000, 0o666)),
        ("run/fifo", (101_000, 100_000, 0o640)),
    ];
    for (rel, want) in cases {
        assert_eq!(owner_mode(&target.join(rel)), want, "{rel:?}");
    }
    let null = fs::symlink_metadata(target.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(names(work.path()), ["contents", "image.tar.gz"]);
}

#[test]
fn the_root_entry_gives_the_root_its_shifted_owner() {
    if !is_root("the_root_entry_gives_the_root_its_shifted_owner") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("image.tar.gz");
    tarball(
        &t,
        &[
            T("./", K::Dir, 0o777, 1000, 1002),
            T("./f", K::File(b"x"), 0o644, 0, 0),
        ],
    );
    let target = work.path().join("contents");
    unpack(&t, &target, &shifted()).unwrap();
    // An image keeps the root's mode as stored.
    assert_eq!(owner_mode(&target), (101_000, 101_002, 0o777));
    assert_eq!(owner_mode(&target.join("f")), (100_000, 100_000, 0o644));
}

#[test]
fn owner_takes_precedence_over_shift() {
    if !is_root("owner_takes_precedence_over_shift") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("image.tar.gz");
    // 70000 is outside the shift's range, but the shift is not used.
    tarball(&t, &[T("f", K::File(b"x"), 0o644, 70_000, 1000)]);
    let target = work.path().join("contents");
    let opts = UnpackOptions {
        owner: Some((4242, 4343)),
        shift: Some(SHIFT),
        ..Default::default()
    };
    unpack(&t, &target, &opts).unwrap();
    assert_eq!(owner_mode(&target), (4242, 4343, 0o755));
    assert_eq!(owner_mode(&target.join("f")), (4242, 4343, 0o644));
}

/// Needs no root: the range is checked whoever unpacks.
#[test]
fn ids_outside_the_mapped_range_refuse_the_whole_tarball() {
    let ok = T("a", K::File(b"written before the bad entry"), 0o644, 0, 0);
    let cases = [
        (
            T("b", K::File(b"x"), 0o644, 70_000, 0),
            "owner id 70000 is outside the mapped range 0-65535",
        ),
        (
            T("b", K::Dir, 0o755, 0, 70_000),
            "group id 70000 is outside the mapped range 0-65535",
        ),
        (
            T("b", K::Symlink("a"), 0o777, 65_536, 0),
            "owner id 65536 is outside the mapped range 0-65535",
        ),
        (
            T("./", K::Dir, 0o755, 0, 65_536),
            "group id 65536 is outside the mapped range 0-65535",
        ),
    ];
    for (bad, reason) in cases {
        assert_refused(&shifted(), &[ok, bad], bad.0, reason);
    }
}

#[test]
fn ensure_unpacked_reunpacks_when_the_shift_changes() {
    if !is_root("ensure_unpacked_reunpacks_when_the_shift_changes") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src.tar.gz");
    tarball(
        &src,
        &[
            T("etc/passwd", K::File(b"root"), 0o644, 0, 0),
            T("home/app", K::Dir, 0o750, 1000, 1000),
        ],
    );
    let md5 = vr_tests::md5_file(&src).unwrap();
    let cache = work.path().join("cache");
    let contents = cache.join("contents");
    let stamp = cache.join(".contents.md5");
    let run = |opts: &UnpackOptions| {
        ensure_unpacked(
            src.to_str().unwrap(),
            &cache.join("image.tar.gz"),
            &contents,
            Some(&md5),
            opts,
            &NoProgress,
        )
        .unwrap()
    };
    let owners = |dir: &Path| {
        let passwd = fs::symlink_metadata(dir.join("etc/passwd")).unwrap();
        let app = fs::symlink_metadata(dir.join("home/app")).unwrap();
        (passwd.uid(), app.uid(), app.gid())
    };

    let sha = vr_fetch::sha256_file(&src).unwrap();
    // No shift; then again: the stamp answers.
    let first = run(&UnpackOptions::default());
    assert!(
        matches!(first, vr_fetch::Unpacked::Ensured { unpacked: true, .. }),
        "{first:?}"
    );
    assert_eq!(
        fs::read_to_string(&stamp).unwrap(),
        format!("{md5}  image.tar.gz\nsha256 {sha}\nxattrs restored\n")
    );
    assert_eq!(run(&UnpackOptions::default()), vr_fetch::Unpacked::Cached);
    assert_eq!(owners(&contents), (0, 1000, 1000));

    let second = run(&shifted());
    let vr_fetch::Unpacked::Ensured {
        unpacked: true,
        retired: Some(old),
        ..
    } = second
    else {
        panic!("not re-unpacked: {second:?}")
    };
    assert_eq!(owners(&contents), (100_000, 101_000, 101_000));
    assert_eq!(
        fs::read_to_string(&stamp).unwrap(),
        format!("{md5}  image.tar.gz\nsha256 {sha}\nxattrs restored\nids 100000:100000:65536\n")
    );
    // The unshifted tree is retired beside it, whole, as for another tarball.
    assert_eq!(old.parent().unwrap(), cache);
    let name = old.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!(".contents.{md5}.")), "{name}");
    assert_eq!(owners(&old), (0, 1000, 1000));

    assert_eq!(run(&shifted()), vr_fetch::Unpacked::Cached);

    // Another mapping, then none again: each is a new unpack.
    let other = UnpackOptions {
        shift: Some(IdShift {
            uid_base: 200_000,
            gid_base: 300_000,
            count: 65536,
        }),
        ..Default::default()
    };
    let third = run(&other);
    assert!(
        matches!(
            third,
            vr_fetch::Unpacked::Ensured {
                unpacked: true,
                retired: Some(_),
                ..
            }
        ),
        "{third:?}"
    );
    assert_eq!(owners(&contents), (200_000, 201_000, 301_000));
    let fourth = run(&UnpackOptions::default());
    assert!(
        matches!(
            fourth,
            vr_fetch::Unpacked::Ensured {
                unpacked: true,
                retired: Some(_),
                ..
            }
        ),
        "{fourth:?}"
    );
    assert_eq!(owners(&contents), (0, 1000, 1000));
    assert_eq!(
        fs::read_to_string(&stamp).unwrap(),
        format!("{md5}  image.tar.gz\nsha256 {sha}\nxattrs restored\n")
    );
}
