//! Reproducible bytes: the same whatever the number of threads, mtimes clamped to
//! `SOURCE_DATE_EPOCH`.

use super::*;

/// Sets the mtime of `path` itself (not of a symlink's target).
fn set_mtime(path: &Path, secs: i64) {
    let t = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: a valid path and two timespecs, as utimensat takes them.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            cpath(path).as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

/// The bytes of the tree at `root` packed in `format` on `threads` threads, with `epoch`.
fn bytes(root: &Path, format: ImageFormat, threads: usize, epoch: Option<u64>) -> Vec<u8> {
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join(format!("x.{}", format.extension()));
    let opts = PackOptions {
        threads,
        format,
        source_date_epoch: epoch,
        ..PackOptions::default()
    };
    let p = pack(root, &path, &opts).expect("pack");
    let bytes = fs::read(&path).unwrap();
    assert_eq!(p.size, bytes.len() as u64);
    bytes
}

#[test]
fn same_tree_gives_same_bytes_whatever_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    // Big enough for several gzip members and zstd jobs (8 MiB each).
    let mut x: u64 = 3;
    let data: Vec<u8> = (0..20 << 20)
        .map(|i: u32| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            if i % 64 < 48 {
                b"shared library "[i as usize % 15]
            } else {
                (x >> 56) as u8
            }
        })
        .collect();
    fs::write(root.join("bin/big"), data).unwrap();
    for format in ImageFormat::ALL {
        let one = bytes(&root, format, 1, None);
        assert_eq!(one, bytes(&root, format, 2, None), "{format:?}");
        assert_eq!(one, bytes(&root, format, 3, None), "{format:?}");
        assert_eq!(one, bytes(&root, format, 1, None), "{format:?} again");
    }
}

#[test]
fn mtimes_later_than_source_date_epoch_are_clamped_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let epoch = 1_600_000_000;
    set_mtime(&root.join("etc/passwd"), epoch - 1000);
    set_mtime(&root.join("bin/abs-link"), epoch - 5);
    set_mtime(&root.join("etc/deep"), epoch);
    set_mtime(&root.join("bin/tool"), epoch + 1);
    // Everything else is "now", later than the epoch.
    let tarball = tmp.path().join("x.tar.zst");
    let opts = PackOptions {
        format: ImageFormat::Zstd,
        source_date_epoch: Some(epoch as u64),
        ..PackOptions::default()
    };
    pack(&root, &tarball, &opts).unwrap();
    let decoded = zstd::decode_all(&fs::read(&tarball).unwrap()[..]).unwrap();
    let mut archive = tar::Archive::new(&decoded[..]);
    let mut seen = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        seen.insert(name, entry.header().mtime().unwrap() as i64);
    }
    assert_eq!(seen["./etc/passwd"], epoch - 1000, "earlier: kept");
    assert_eq!(seen["./bin/abs-link"], epoch - 5, "a symlink's own mtime");
    assert_eq!(seen["./etc/deep/"], epoch);
    assert_eq!(seen["./bin/tool"], epoch, "later: clamped");
    assert_eq!(seen["./"], epoch);
    assert!(seen.values().all(|&t| t <= epoch), "{seen:?}");
    // Touching files after the epoch changes nothing in the bytes; without the clamp it does.
    let before = bytes(&root, ImageFormat::Gzip, 2, Some(epoch as u64));
    let unclamped = bytes(&root, ImageFormat::Gzip, 2, None);
    set_mtime(&root.join("bin/tool"), epoch + 99);
    set_mtime(&root.join("etc"), epoch + 12_345);
    assert_eq!(
        before,
        bytes(&root, ImageFormat::Gzip, 2, Some(epoch as u64))
    );
    assert_ne!(unclamped, bytes(&root, ImageFormat::Gzip, 2, None));
}

#[test]
fn source_date_epoch_must_be_a_whole_number_of_seconds() {
    let ok = [("0", 0), ("1700000000", 1_700_000_000), ("007", 7)];
    for (text, want) in ok {
        assert_eq!(
            source_date_epoch(Some(OsStr::new(text))).unwrap(),
            Some(want)
        );
    }
    assert_eq!(source_date_epoch(None).unwrap(), None);
    for bad in [
        "",
        "-1",
        "+5",
        " 5",
        "5 ",
        "1.5",
        "1e9",
        "now",
        "99999999999999999999",
    ] {
        let err = source_date_epoch(Some(OsStr::new(bad))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC (like 1700000000), not {bad:?}")
        );
    }
}
