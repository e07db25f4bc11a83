//! `ensure` against local paths and a local HTTP server.

use crate::support::{names, vrfetch};
use std::error::Error as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use vr_fetch::{ensure, Error};

const BODY: &[u8] = b"the build tarball, or close enough\n";
const BODY_MD5: &str = "91dea1bba870a470191196d5100d8873";

/// A served folder with `build.tar.gz` (BODY) and `big.bin` (2 MiB).
fn served() -> (tempfile::TempDir, vr_tests::HttpServer) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("build.tar.gz"), BODY).unwrap();
    let big: Vec<u8> = (0..2 << 20).map(|i: u32| (i % 251) as u8).collect();
    fs::write(dir.path().join("big.bin"), big).unwrap();
    let server = vr_tests::HttpServer::serve(dir.path());
    (dir, server)
}

/// Asserts `dest` does not exist and its folder holds nothing but the lock file.
fn nothing_left(dest: &Path) {
    assert!(
        fs::symlink_metadata(dest).is_err(),
        "{} exists",
        dest.display()
    );
    let lock = format!("{}.lock", dest.file_name().unwrap().to_string_lossy());
    assert_eq!(names(dest.parent().unwrap()), vec![lock]);
}

#[test]
fn body_md5_constant_is_right() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("b"), BODY).unwrap();
    assert_eq!(vr_fetch::md5_file(&dir.path().join("b")).unwrap(), BODY_MD5);
}

#[test]
fn http_download_then_cache_reuse() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("builds/build.tar.gz");
    let url = server.url("build.tar.gz");
    let first = ensure(&url, &dest, Some(BODY_MD5)).unwrap();
    assert!(first.downloaded);
    assert_eq!(first.md5, BODY_MD5);
    assert_eq!(fs::read(&dest).unwrap(), BODY);
    let second = ensure(&url, &dest, Some(&BODY_MD5.to_uppercase())).unwrap();
    assert!(!second.downloaded);
    assert_eq!(server.requests("/build.tar.gz"), 1);
    // Without an md5 the server is asked whether it changed: it did not.
    let third = ensure(&url, &dest, None).unwrap();
    assert!(!third.downloaded);
    assert_eq!(third.md5, BODY_MD5);
    assert_eq!(server.requests("/build.tar.gz"), 2);
    assert_eq!(server.not_modified("/build.tar.gz"), 1);
    assert_eq!(server.bodies("/build.tar.gz"), 1);
    assert_eq!(
        names(dest.parent().unwrap()),
        ["build.tar.gz", "build.tar.gz.lock", "build.tar.gz.meta"]
    );
}

#[test]
fn cached_file_with_other_md5_is_fetched_again() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("build.tar.gz");
    fs::write(&dest, b"stale").unwrap();
    let got = ensure(&server.url("build.tar.gz"), &dest, Some(BODY_MD5)).unwrap();
    assert!(got.downloaded);
    assert_eq!(fs::read(&dest).unwrap(), BODY);
    assert_eq!(server.requests("/build.tar.gz"), 1);
}

#[test]
fn local_path_and_file_url() {
    let (src, _server) = served();
    let cache = tempfile::tempdir().unwrap();
    let source = src.path().join("build.tar.gz");
    for (i, s) in [
        source.display().to_string(),
        format!("file://{}", source.display()),
    ]
    .iter()
    .enumerate()
    {
        let dest = cache.path().join(format!("copy{i}"));
        let got = ensure(s, &dest, Some(BODY_MD5)).unwrap();
        assert!(got.downloaded, "{s}");
        assert_eq!(fs::read(&dest).unwrap(), BODY);
        assert!(!ensure(s, &dest, Some(BODY_MD5)).unwrap().downloaded);
    }
}

#[test]
fn md5_mismatch_names_both_sums_and_keeps_the_cached_file() {
    let (src, server) = served();
    let wrong = "0123456789abcdef0123456789abcdef";
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("build.tar.gz");
    let local = src.path().join("build.tar.gz").display().to_string();
    for source in [url, local] {
        let dest = cache.path().join("sub").join("build.tar.gz");
        // What is cached stays as it was: other procs came from it.
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(&dest, b"cached").unwrap();
        let err = ensure(&source, &dest, Some(wrong)).unwrap_err();
        assert!(matches!(err, Error::Md5Mismatch { .. }));
        assert_eq!(
            err.to_string(),
            format!("md5 mismatch for {source}: expected {wrong}, got {BODY_MD5}")
        );
        assert_eq!(fs::read(&dest).unwrap(), b"cached");
        assert_eq!(
            names(dest.parent().unwrap()),
            ["build.tar.gz", "build.tar.gz.lock"]
        );
        fs::remove_dir_all(dest.parent().unwrap()).unwrap();
        // Without a cached file: nothing is left at all.
        let err = ensure(&source, &dest, Some(wrong)).unwrap_err();
        assert!(matches!(err, Error::Md5Mismatch { .. }));
        nothing_left(&dest);
        fs::remove_dir_all(dest.parent().unwrap()).unwrap();
    }
}

#[test]
fn http_status_errors_leave_nothing() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    for (path, status) in [
        ("missing.tar.gz", 404),
        ("status/500", 500),
        ("status/403", 403),
    ] {
        let dest = cache.path().join(format!("e{status}")).join("f.tar.gz");
        let url = server.url(path);
        let err = ensure(&url, &dest, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("GET {url} failed: HTTP status {status}")
        );
        nothing_left(&dest);
    }
}

#[test]
fn connection_refused_is_a_clear_error() {
    let port = vr_tests::free_port();
    let url = format!("http://127.0.0.1:{port}/build.tar.gz");
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("build.tar.gz");
    let err = ensure(&url, &dest, None).unwrap_err();
    assert_eq!(err.to_string(), format!("GET {url} failed"));
    let cause = err.source().unwrap().to_string();
    assert!(cause.contains("Connection refused"), "{cause}");
    nothing_left(&dest);
}

#[test]
fn body_cut_short_is_an_error_and_leaves_nothing() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("big.bin");
    let url = server.url("truncate/big.bin");
    let err = ensure(&url, &dest, None).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with(&format!("download of {url} ")), "{text}");
    assert!(
        matches!(err, Error::Truncated { .. } | Error::BodyRead { .. }),
        "{err:?}"
    );
    nothing_left(&dest);
}

#[test]
fn temp_files_of_a_killed_download_are_removed_by_the_next() {
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("x.tar.gz");
    let stale = cache.path().join(".x.tar.gz.AbC123.part");
    fs::write(&stale, "half a download").unwrap();
    let src = cache.path().join("src.bin");
    fs::write(&src, BODY).unwrap();
    ensure(src.to_str().unwrap(), &dest, Some(BODY_MD5)).unwrap();
    assert!(!stale.exists());
    assert_eq!(fs::read(&dest).unwrap(), BODY);
}

#[test]
fn missing_local_source_is_named() {
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("x.tar.gz");
    let err = ensure("/nonexistent/x.tar.gz", &dest, None).unwrap_err();
    assert_eq!(err.to_string(), "cannot open /nonexistent/x.tar.gz");
    nothing_left(&dest);
}

#[test]
fn a_local_source_must_be_a_regular_file() {
    // A device would be copied forever (filling the disk), a named pipe would block forever.
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("x.tar.gz");
    let fifo = cache.path().join("pipe.tar.gz");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let dir = cache.path().join("folder.tar.gz");
    fs::create_dir(&dir).unwrap();
    for (source, what) in [
        ("/dev/zero".to_string(), "a character device"),
        (format!("file://{}", fifo.display()), "a named pipe"),
        (dir.display().to_string(), "a folder"),
    ] {
        let err = ensure(&source, &dest, None).unwrap_err();
        let path = source.trim_start_matches("file://");
        assert_eq!(
            err.to_string(),
            format!("{path} is {what}, not a file to fetch")
        );
        assert!(fs::symlink_metadata(&dest).is_err());
    }
    // A symlink to a regular file is fine.
    let real = cache.path().join("real.bin");
    fs::write(&real, BODY).unwrap();
    let link = cache.path().join("link.tar.gz");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    ensure(link.to_str().unwrap(), &dest, Some(BODY_MD5)).unwrap();
    assert_eq!(fs::read(&dest).unwrap(), BODY);
}

#[test]
fn eight_threads_download_once() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("big.bin");
    let url = server.url("slow/big.bin");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| ensure(&url, &dest, None)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let fetched: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(fetched.iter().filter(|f| f.downloaded).count(), 1);
    assert!(fetched.iter().all(|f| f.md5 == fetched[0].md5));
    // One download; the others ask whether it is still current, and it is.
    assert_eq!(server.bodies("/slow/big.bin"), 1);
    assert_eq!(server.not_modified("/slow/big.bin"), 7);
}

#[test]
fn eight_processes_download_once() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("big.bin");
    let url = server.url("slow/big.bin");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(vrfetch())
                .arg("ensure")
                .arg(&url)
                .arg(&dest)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    assert_eq!(
        outs.iter().filter(|o| o.ends_with("(fetched)\n")).count(),
        1,
        "{outs:?}"
    );
    assert_eq!(
        outs.iter().filter(|o| o.ends_with("(cached)\n")).count(),
        7,
        "{outs:?}"
    );
    assert_eq!(server.bodies("/slow/big.bin"), 1);
    assert_eq!(server.not_modified("/slow/big.bin"), 7);
}

/// Records what a download reports.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>, std::sync::atomic::AtomicU64);

impl vr_fetch::Progress for Recorder {
    fn start(&self, source: &str, total: Option<u64>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {source} {total:?}"));
    }
    fn advance(&self, bytes: u64) {
        self.1.fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
    }
    fn finish(&self) {
        self.0.lock().unwrap().push("finish".into());
    }
}

#[test]
fn progress_hears_start_bytes_and_finish() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("big.bin");
    let rec = Recorder::default();
    vr_fetch::ensure_with(&url, &cache.path().join("big.bin"), None, &rec).unwrap();
    assert_eq!(
        *rec.0.lock().unwrap(),
        [format!("start {url} Some(2097152)"), "finish".to_string()]
    );
    assert_eq!(rec.1.load(std::sync::atomic::Ordering::SeqCst), 2 << 20);
    // A cache hit reports nothing.
    let rec = Recorder::default();
    vr_fetch::ensure_with(&url, &cache.path().join("big.bin"), None, &rec).unwrap();
    assert!(rec.0.lock().unwrap().is_empty());
}
