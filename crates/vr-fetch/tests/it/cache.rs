//! Cache entries that cannot be confused: keyed by the whole source, replaced only after a
//! check, sha256 beside md5, revalidated without a checksum, taken over from the old layout,
//! and never kept as good when they do not unpack.

use crate::support::names;
use std::fs;
use std::path::Path;
use vr_fetch::{
    cache_name, cache_name_for, ensure_unpacked_with, fetch, fetch_and_unpack, Error, FetchOptions,
    Fetched, NoProgress, UnpackOptions, Unpacked,
};

const A: &[u8] = b"app A's build\n";
const B: &[u8] = b"app B's build\n";

/// A served folder with `a/build.tar.gz` (A) and `b/build.tar.gz` (B).
fn served() -> (tempfile::TempDir, vr_tests::HttpServer) {
    let dir = tempfile::tempdir().unwrap();
    for (sub, body) in [("a", A), ("b", B)] {
        fs::create_dir_all(dir.path().join(sub)).unwrap();
        fs::write(dir.path().join(sub).join("build.tar.gz"), body).unwrap();
    }
    let server = vr_tests::HttpServer::serve(dir.path());
    (dir, server)
}

fn get(source: &str, dest: &Path, opts: &FetchOptions) -> vr_fetch::Result<Fetched> {
    fetch(source, dest, opts, &NoProgress)
}

fn md5(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f"), bytes).unwrap();
    vr_fetch::md5_file(&dir.path().join("f")).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f"), bytes).unwrap();
    vr_fetch::sha256_file(&dir.path().join("f")).unwrap()
}

fn with_md5(md5: &str) -> FetchOptions {
    FetchOptions {
        md5: Some(md5.to_string()),
        ..FetchOptions::default()
    }
}

#[test]
fn two_sources_with_the_same_basename_get_different_entries() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let sources = [
        (server.url("a/build.tar.gz"), A),
        (server.url("b/build.tar.gz"), B),
        // The same file under another query is another source.
        (server.url("a/build.tar.gz?v=2"), A),
    ];
    for (source, _) in &sources {
        let dest = cache.path().join(cache_name(source));
        get(source, &dest, &FetchOptions::default()).unwrap();
    }
    for (source, body) in &sources {
        let name = cache_name(source);
        assert!(name.ends_with("-build.tar.gz"), "{name}");
        assert_eq!(
            fs::read(cache.path().join(&name)).unwrap(),
            *body,
            "{source}"
        );
    }
    let entries: Vec<String> = names(cache.path())
        .into_iter()
        .filter(|n| n.ends_with(".tar.gz"))
        .collect();
    assert_eq!(entries.len(), 3, "{entries:?}");
}

#[test]
fn identical_content_shares_an_entry_named_by_its_checksum() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let sum = md5(A);
    let first = server.url("a/build.tar.gz?signature=1");
    let second = server.url("a/build.tar.gz?signature=2");
    let name = cache_name_for(&first, Some(&sum), None);
    assert_eq!(name, cache_name_for(&second, Some(&sum), None));
    let dest = cache.path().join(&name);
    assert!(get(&first, &dest, &with_md5(&sum)).unwrap().downloaded);
    assert!(!get(&second, &dest, &with_md5(&sum)).unwrap().downloaded);
    assert_eq!(server.requests("/a/build.tar.gz"), 1);
}

#[test]
fn an_old_layout_entry_is_taken_over_only_when_its_checksum_matches() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("a/build.tar.gz");
    let old = cache.path().join("build.tar.gz");
    fs::write(&old, A).unwrap();
    let adopt = |md5: Option<String>| FetchOptions {
        md5,
        adopt: Some(old.clone()),
        ..FetchOptions::default()
    };
    let dest = cache.path().join(cache_name(&url));
    let got = get(&url, &dest, &adopt(Some(md5(A)))).unwrap();
    assert!(!got.downloaded);
    assert_eq!(fs::read(&dest).unwrap(), A);
    assert_eq!(fs::read(&old).unwrap(), A, "an older vr may still use it");
    assert_eq!(server.total_requests(), 0);
    // Another app's build under the old name: not taken, fetched.
    fs::remove_file(&dest).unwrap();
    fs::write(&old, B).unwrap();
    let got = get(&url, &dest, &adopt(Some(md5(A)))).unwrap();
    assert!(got.downloaded);
    assert_eq!(fs::read(&dest).unwrap(), A);
    // Without a checksum nothing says the old file came from this source.
    fs::remove_file(&dest).unwrap();
    fs::write(&old, A).unwrap();
    assert!(get(&url, &dest, &adopt(None)).unwrap().downloaded);
    assert_eq!(server.bodies("/a/build.tar.gz"), 2);
}

#[test]
fn a_failed_check_leaves_the_cached_copy_as_it_was() {
    let (www, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("a/build.tar.gz");
    let dest = cache.path().join(cache_name(&url));
    get(&url, &dest, &with_md5(&md5(A))).unwrap();
    let before = names(cache.path());
    // The source now serves other bytes than the new md5 says.
    fs::write(www.path().join("a/build.tar.gz"), b"tampered").unwrap();
    let err = get(&url, &dest, &with_md5(&md5(B))).unwrap_err();
    assert!(matches!(err, Error::Md5Mismatch { .. }), "{err:?}");
    assert_eq!(fs::read(&dest).unwrap(), A);
    assert_eq!(names(cache.path()), before, "no temp file left");
    // The old md5 still finds its file.
    assert!(!get(&url, &dest, &with_md5(&md5(A))).unwrap().downloaded);
}

#[test]
fn sha256_is_checked_and_both_sums_when_both_are_given() {
    let (_d, server) = served();
    let url = server.url("a/build.tar.gz");
    let (good_md5, good_sha) = (md5(A), sha256(A));
    let (bad_md5, bad_sha) = (md5(B), sha256(B));
    // (md5, sha256) -> the error, if any
    let cases = [
        (None, Some(&good_sha), None),
        (None, Some(&bad_sha), Some("sha256")),
        (Some(&good_md5), Some(&good_sha), None),
        (Some(&good_md5), Some(&bad_sha), Some("sha256")),
        (Some(&bad_md5), Some(&good_sha), Some("md5")),
    ];
    for (i, (md5, sha, fails)) in cases.into_iter().enumerate() {
        let cache = tempfile::tempdir().unwrap();
        let dest = cache.path().join("e.tar.gz");
        let opts = FetchOptions {
            md5: md5.cloned(),
            sha256: sha.cloned(),
            ..FetchOptions::default()
        };
        match (get(&url, &dest, &opts), fails) {
            (Ok(got), None) => {
                assert_eq!((got.md5, got.sha256), (good_md5.clone(), good_sha.clone()));
                assert_eq!(fs::read(&dest).unwrap(), A);
            }
            (Err(err @ Error::Sha256Mismatch { .. }), Some("sha256")) => {
                let want = format!(
                    "sha256 mismatch for {url}: expected {}, got {good_sha}",
                    sha.unwrap()
                );
                assert_eq!(err.to_string(), want);
                assert!(!dest.exists());
            }
            (Err(Error::Md5Mismatch { .. }), Some("md5")) => assert!(!dest.exists()),
            (got, _) => panic!("case {i}: {got:?}"),
        }
    }
}

#[test]
fn a_cached_file_is_checked_against_the_sha256_again() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("a/build.tar.gz");
    let dest = cache.path().join("e.tar.gz");
    let opts = FetchOptions {
        sha256: Some(sha256(A)),
        ..FetchOptions::default()
    };
    get(&url, &dest, &opts).unwrap();
    assert!(!get(&url, &dest, &opts).unwrap().downloaded);
    // Damaged in place (same size): noticed, fetched again.
    let mut bytes = A.to_vec();
    bytes[0] ^= 1;
    fs::write(&dest, &bytes).unwrap();
    assert!(get(&url, &dest, &opts).unwrap().downloaded);
    assert_eq!(fs::read(&dest).unwrap(), A);
}

#[test]
fn without_a_checksum_the_server_is_asked_whether_the_copy_changed() {
    let (www, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("a/build.tar.gz");
    let dest = cache.path().join("e.tar.gz");
    let opts = FetchOptions::default();
    assert!(get(&url, &dest, &opts).unwrap().downloaded);
    // 304: the cache stays, and the request was made.
    let again = get(&url, &dest, &opts).unwrap();
    assert!(!again.downloaded && again.warning.is_none());
    assert_eq!(again.md5, md5(A));
    assert_eq!(server.requests("/a/build.tar.gz"), 2);
    assert_eq!(server.not_modified("/a/build.tar.gz"), 1);
    // A new body replaces the copy.
    fs::write(www.path().join("a/build.tar.gz"), B).unwrap();
    let changed = get(&url, &dest, &opts).unwrap();
    assert!(changed.downloaded);
    assert_eq!(fs::read(&dest).unwrap(), B);
    assert_eq!(server.bodies("/a/build.tar.gz"), 2);
    // Asked not to revalidate: the copy is used as it is.
    let quiet = FetchOptions {
        revalidate: false,
        ..FetchOptions::default()
    };
    assert!(!get(&url, &dest, &quiet).unwrap().downloaded);
    assert_eq!(server.requests("/a/build.tar.gz"), 3);
    // A server that sends no validators: every fetch downloads again.
    let plain = server.url("plain/a/build.tar.gz");
    let dest = cache.path().join("plain.tar.gz");
    get(&plain, &dest, &opts).unwrap();
    assert!(get(&plain, &dest, &opts).unwrap().downloaded);
}

#[test]
fn a_local_source_is_copied_again_only_when_it_changed() {
    let src_dir = tempfile::tempdir().unwrap();
    let src = src_dir.path().join("build.tar.gz");
    fs::write(&src, A).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("e.tar.gz");
    let source = src.to_str().unwrap();
    let opts = FetchOptions::default();
    assert!(get(source, &dest, &opts).unwrap().downloaded);
    assert!(!get(source, &dest, &opts).unwrap().downloaded);
    // Same size; the mtime set apart, as a clock tick later would (a test is quicker).
    fs::write(&src, B).unwrap();
    let later = fs::metadata(&src).unwrap().modified().unwrap() + std::time::Duration::from_secs(1);
    fs::File::options()
        .write(true)
        .open(&src)
        .unwrap()
        .set_modified(later)
        .unwrap();
    assert!(get(source, &dest, &opts).unwrap().downloaded);
    assert_eq!(fs::read(&dest).unwrap(), B);
}

#[test]
fn an_unreachable_server_with_a_cached_copy_gives_the_copy_and_a_warning() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("a/build.tar.gz");
    let dest = cache.path().join("e.tar.gz");
    get(&url, &dest, &FetchOptions::default()).unwrap();
    // A server error is not an answer about the file either.
    let err500 = server.url("status/503");
    let got = get(&err500, &dest, &FetchOptions::default()).unwrap();
    let warning = got.warning.unwrap();
    assert!(warning.reason.contains("HTTP status 503"), "{warning}");
    server.stop();
    let got = get(&url, &dest, &FetchOptions::default()).unwrap();
    assert!(!got.downloaded);
    assert_eq!(got.md5, md5(A));
    assert_eq!(fs::read(&dest).unwrap(), A);
    let warning = got.warning.unwrap();
    assert_eq!(warning.source, url);
    assert!(warning.reason.contains("Connection refused"), "{warning}");
    assert_eq!(
        warning.to_string(),
        format!(
            "cannot check {url} for a newer version ({}): using the cached copy",
            warning.reason
        )
    );
    // Without a cached copy it is an error.
    let err = get(
        &url,
        &cache.path().join("other.tar.gz"),
        &FetchOptions::default(),
    );
    assert!(matches!(err, Err(Error::Transport { .. })), "{err:?}");
}

#[test]
fn a_server_that_says_the_file_is_gone_is_an_error_even_with_a_copy() {
    let (_d, server) = served();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("e.tar.gz");
    get(
        &server.url("a/build.tar.gz"),
        &dest,
        &FetchOptions::default(),
    )
    .unwrap();
    let gone = server.url("status/404");
    let err = get(&gone, &dest, &FetchOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(fs::read(&dest).unwrap(), A, "the copy stays");
}

/// A tarball of a few KB that does not compress away, and a served folder holding it.
fn tarball_served() -> (tempfile::TempDir, vr_tests::HttpServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    let noise: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(tree.join("noise"), noise).unwrap();
    fs::write(tree.join("Procfile"), "web: run\n").unwrap();
    vr_tests::tar_gz(&tree, &dir.path().join("t.tar.gz")).unwrap();
    let md5 = vr_tests::md5_file(&dir.path().join("t.tar.gz")).unwrap();
    let server = vr_tests::HttpServer::serve(dir.path());
    (dir, server, md5)
}

#[test]
fn a_lying_content_length_is_not_kept_as_good() {
    let (_d, server, md5) = tarball_served();
    let cache = tempfile::tempdir().unwrap();
    let liar = server.url("lie/t.tar.gz");
    let tarball = cache.path().join("t.tar.gz");
    let contents = cache.path().join("contents");
    let unpack = UnpackOptions::default();
    // With a checksum the short file fails it and is never in place.
    let err = ensure_unpacked_with(
        &liar,
        &tarball,
        &contents,
        &with_md5(&md5),
        &unpack,
        &NoProgress,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Md5Mismatch { .. }), "{err:?}");
    assert!(!tarball.exists());
    // Without one, it does not unpack: it is removed, and the error says so.
    let opts = FetchOptions::default();
    let err =
        ensure_unpacked_with(&liar, &tarball, &contents, &opts, &unpack, &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Discarded { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{} does not unpack: removed from the cache, the next run fetches it again",
            tarball.display()
        )
    );
    assert!(!tarball.exists() && !contents.exists());
    assert_eq!(names(cache.path()), ["contents.lock", "t.tar.gz.lock"]);
    // The next run fetches it again instead of failing on the same bad copy.
    let app = cache.path().join("app");
    let err = fetch_and_unpack(&liar, &tarball, &app, &opts, &unpack, &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Discarded { .. }), "{err:?}");
    assert_eq!(server.bodies("/lie/t.tar.gz"), 3);
    // An honest server fills the same entry.
    let honest = server.url("t.tar.gz");
    let done =
        ensure_unpacked_with(&honest, &tarball, &contents, &opts, &unpack, &NoProgress).unwrap();
    assert!(
        matches!(done, Unpacked::Ensured { unpacked: true, .. }),
        "{done:?}"
    );
    assert_eq!(
        fs::read_to_string(contents.join("Procfile")).unwrap(),
        "web: run\n"
    );
    fetch_and_unpack(&honest, &tarball, &app, &opts, &unpack, &NoProgress).unwrap();
    assert!(app.join("noise").is_file());
}
