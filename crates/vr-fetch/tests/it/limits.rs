//! Limits: bombs stop before a small file system fills and leave nothing; entry counts are
//! capped; downloads that drip, never end or go silent are given up on; a stop request ends
//! both. Timing bounds are generous: they only say "did not hang".

use crate::support::{is_root, names, quick};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use vr_fetch::{
    fetch, unpack, DownloadLimits, Error, FetchOptions, Limit, NoProgress, UnpackLimits,
    UnpackOptions,
};

/// A 64 MiB tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small");
        fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs: {status}");
        Tmpfs { _dir: dir, path }
    }

    /// Free bytes on it.
    fn free(&self) -> u64 {
        let st = nix::sys::statvfs::statvfs(&self.path).unwrap();
        st.blocks_available() as u64 * st.fragment_size() as u64
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes a gzip tarball at `out` with the entries `(name, declared size)`; each file's bytes
/// are zeros, so the tarball is about a thousandth of what it holds.
fn zeros_tarball(out: &Path, files: &[(&str, u64)]) {
    let file = fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut b = tar::Builder::new(gz);
    for &(name, size) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(size);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        b.append(&h, std::io::repeat(0).take(size)).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

use std::io::Read as _;

/// A GNU sparse tarball holding one file that declares `size` bytes and stores 512.
fn sparse_tarball(out: &Path, size: u64) {
    let file = fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_path("sparse").unwrap();
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(512);
    h.set_mtime(1_600_000_000);
    let gnu = h.as_gnu_mut().unwrap();
    gnu.set_real_size(size);
    gnu.sparse[0].set_offset(size - 512);
    gnu.sparse[0].set_length(512);
    h.set_cksum();
    b.append(&h, &[7u8; 512][..]).unwrap();
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

/// Unpacks `tarball` into the tmpfs with the default limits, expecting an unpack limit.
fn refused_on(small: &Tmpfs, tarball: &Path) -> Limit {
    let before = small.free();
    let err = unpack(
        tarball,
        &small.path.join("target"),
        &UnpackOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    let Error::UnpackLimit { limit, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        text.starts_with(&format!("cannot unpack {}: ", tarball.display())),
        "{text}"
    );
    assert!(text.ends_with("; nothing was kept"), "{text}");
    assert!(names(&small.path).is_empty(), "{:?}", names(&small.path));
    assert_eq!(small.free(), before, "blocks left in use");
    limit
}

#[test]
fn a_gzip_bomb_stops_before_the_file_system_fills() {
    if !is_root("a_gzip_bomb_stops_before_the_file_system_fills (tmpfs)") {
        return;
    }
    let small = Tmpfs::mount();
    let work = tempfile::tempdir().unwrap();
    // One file of 1 GiB in about 1 MB: refused at its header.
    let one = work.path().join("one.tar.gz");
    zeros_tarball(&one, &[("big", 1 << 30)]);
    assert!(fs::metadata(&one).unwrap().len() < 2 << 20);
    let limit = refused_on(&small, &one);
    assert!(matches!(limit, Limit::UnpackSpace { .. }), "{limit:?}");
    assert!(limit.to_string().contains("VR_KEEP_FREE_BYTES"), "{limit}");
    // 256 files of 1 MiB: written until the next one would not leave 5% free.
    let many = work.path().join("many.tar.gz");
    let files: Vec<(String, u64)> = (0..256).map(|i| (format!("f{i:03}"), 1 << 20)).collect();
    let files: Vec<(&str, u64)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    zeros_tarball(&many, &files);
    let limit = refused_on(&small, &many);
    assert!(matches!(limit, Limit::UnpackSpace { .. }), "{limit:?}");
}

#[test]
fn a_sparse_bomb_counts_what_it_declares() {
    if !is_root("a_sparse_bomb_counts_what_it_declares (tmpfs)") {
        return;
    }
    let small = Tmpfs::mount();
    let work = tempfile::tempdir().unwrap();
    // 1 PiB declared in a few hundred bytes: past the 64 GiB default cap.
    let pib = work.path().join("pib.tar.gz");
    sparse_tarball(&pib, 1 << 50);
    assert!(fs::metadata(&pib).unwrap().len() < 1024);
    let limit = refused_on(&small, &pib);
    assert_eq!(limit, Limit::UnpackSize { max: 64 << 30 });
    assert!(
        limit.to_string().contains("raise VR_UNPACK_MAX_BYTES"),
        "{limit}"
    );
    // 256 MiB declared: more than the tmpfs has.
    let mib = work.path().join("mib.tar.gz");
    sparse_tarball(&mib, 256 << 20);
    let limit = refused_on(&small, &mib);
    assert!(matches!(limit, Limit::UnpackSpace { .. }), "{limit:?}");
}

#[test]
fn a_sparse_file_within_the_limits_is_unpacked() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("s.tar.gz");
    sparse_tarball(&t, 8192);
    let target = work.path().join("target");
    unpack(&t, &target, &UnpackOptions::default()).unwrap();
    let bytes = fs::read(target.join("sparse")).unwrap();
    assert_eq!(bytes.len(), 8192);
    assert!(bytes[..8192 - 512].iter().all(|&b| b == 0));
    assert!(bytes[8192 - 512..].iter().all(|&b| b == 7));
}

#[test]
fn entry_count_and_byte_caps_stop_an_unpack_and_leave_nothing() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t.tar.gz");
    let files: Vec<(String, u64)> = (0..50).map(|i| (format!("f{i:02}"), 10_000)).collect();
    let files: Vec<(&str, u64)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    zeros_tarball(&t, &files);
    let parent = work.path().join("parent");
    fs::create_dir(&parent).unwrap();
    let cases = [
        (
            UnpackLimits {
                max_entries: 10,
                ..UnpackLimits::default()
            },
            "f10",
            "it has more than 10 entries (raise VR_UNPACK_MAX_ENTRIES)",
        ),
        (
            UnpackLimits {
                max_bytes: 100 << 10,
                ..UnpackLimits::default()
            },
            "f08",
            "its files take more than the limit of 100 KiB (raise VR_UNPACK_MAX_BYTES)",
        ),
    ];
    for (limits, entry, reason) in cases {
        let opts = UnpackOptions {
            limits,
            ..UnpackOptions::default()
        };
        let err = unpack(&t, &parent.join("target"), &opts).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot unpack {}: {reason} (stopped at entry {entry:?}); nothing was kept",
                t.display()
            )
        );
        assert!(names(&parent).is_empty(), "{:?}", names(&parent));
    }
}

#[test]
fn a_stop_request_ends_an_unpack_and_leaves_nothing() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t.tar.gz");
    zeros_tarball(&t, &[("a", 10), ("b", 10)]);
    let stop = vr_stop::Stop::new();
    stop.request(15);
    let opts = UnpackOptions {
        stop,
        ..UnpackOptions::default()
    };
    let parent = work.path().join("parent");
    let err = unpack(&t, &parent.join("target"), &opts).unwrap_err();
    assert!(matches!(err, Error::Interrupted { signal: 15 }), "{err:?}");
    assert!(names(&parent).is_empty());
}

/// Served: `big.bin` (256 KiB).
fn served() -> (tempfile::TempDir, vr_tests::HttpServer) {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..256 << 10).map(|i: u32| (i % 251) as u8).collect();
    fs::write(dir.path().join("big.bin"), big).unwrap();
    let server = vr_tests::HttpServer::serve(dir.path());
    (dir, server)
}

/// Fetches `url` into a fresh cache with `opts`; expects a download limit within 60 s, and
/// nothing left but the lock.
fn given_up(url: &str, opts: &FetchOptions) -> (Limit, Duration) {
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("e.bin");
    let start = Instant::now();
    let err = fetch(url, &dest, opts, &NoProgress).unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let text = err.to_string();
    let Error::DownloadLimit { limit, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        text.starts_with(&format!("download of {url} stopped: ")),
        "{text}"
    );
    assert_eq!(names(cache.path()), ["e.bin.lock"]);
    (limit, took)
}

#[test]
fn a_dripping_server_is_given_up_on_within_the_low_speed_window() {
    let (_d, server) = served();
    let (limit, took) = given_up(&server.url("drip/100/big.bin"), &quick());
    assert_eq!(
        limit,
        Limit::Speed {
            bytes_per_sec: 1024,
            window: Duration::from_secs(2)
        }
    );
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(
        limit.to_string().contains("VR_DOWNLOAD_SPEED_LIMIT"),
        "{limit}"
    );
}

#[test]
fn a_silent_server_is_given_up_on() {
    let (_d, server) = served();
    // Half the body, then nothing.
    let (limit, _) = given_up(&server.url("stall/big.bin"), &quick());
    assert!(matches!(limit, Limit::Speed { .. }), "{limit:?}");
    // No answer at all, and headers that never end.
    for path in ["silent", "trickle"] {
        let (limit, _) = given_up(&server.url(path), &quick());
        assert!(matches!(limit, Limit::Speed { .. }), "{path}: {limit:?}");
    }
}

#[test]
fn an_endless_body_stops_at_the_size_cap() {
    let (_d, server) = served();
    let opts = FetchOptions {
        limits: DownloadLimits {
            max_bytes: 8 << 20,
            ..DownloadLimits::default()
        },
        ..FetchOptions::default()
    };
    let (limit, _) = given_up(&server.url("endless"), &opts);
    assert_eq!(limit, Limit::DownloadSize { max: 8 << 20 });
    assert!(limit.to_string().contains("raise VR_DOWNLOAD_MAX_BYTES"));
    // A Content-Length over the cap is refused before a byte is written.
    let small = FetchOptions {
        limits: DownloadLimits {
            max_bytes: 1000,
            ..DownloadLimits::default()
        },
        ..FetchOptions::default()
    };
    let (limit, _) = given_up(&server.url("big.bin"), &small);
    assert_eq!(limit, Limit::DownloadSize { max: 1000 });
}

#[test]
fn an_endless_body_stops_before_the_file_system_fills() {
    if !is_root("an_endless_body_stops_before_the_file_system_fills (tmpfs)") {
        return;
    }
    let (_d, server) = served();
    let small = Tmpfs::mount();
    let dest = small.path.join("e.bin");
    let url = server.url("endless");
    let err = fetch(&url, &dest, &FetchOptions::default(), &NoProgress).unwrap_err();
    let Error::DownloadLimit { limit, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(limit, Limit::DownloadSpace { .. }), "{limit:?}");
    assert!(err.to_string().contains("VR_KEEP_FREE_BYTES"), "{err}");
    assert_eq!(names(&small.path), ["e.bin.lock"]);
    assert!(small.free() > 60 << 20);
}

#[test]
fn a_stop_request_ends_a_download_and_leaves_nothing() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("e.bin");
    let stop = vr_stop::Stop::new();
    let opts = FetchOptions { stop, ..quick() };
    let url = server.url("drip/10/big.bin");
    let start = Instant::now();
    let err = std::thread::scope(|s| {
        let h = s.spawn(|| fetch(&url, &dest, &opts, &NoProgress));
        std::thread::sleep(Duration::from_millis(300));
        stop.request(2);
        h.join().unwrap()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Interrupted { signal: 2 }), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(names(cache.path()), ["e.bin.lock"]);
}
