//! Servers that misbehave: redirects to other schemes and in loops, malformed responses, and
//! URLs with credentials and tokens that must never show in an error or a progress line.

use crate::support::{names, quick};
use std::error::Error as _;
use std::fs;
use std::sync::Mutex;
use vr_fetch::{fetch, Error, FetchOptions, NoProgress, Progress};

const BODY: &[u8] = b"the build tarball, or close enough\n";
const BODY_MD5: &str = "91dea1bba870a470191196d5100d8873";

fn served() -> (tempfile::TempDir, vr_tests::HttpServer) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("build.tar.gz"), BODY).unwrap();
    let big: Vec<u8> = (0..64 << 10).map(|i: u32| (i % 251) as u8).collect();
    fs::write(dir.path().join("big.bin"), big).unwrap();
    let server = vr_tests::HttpServer::serve(dir.path());
    (dir, server)
}

/// Fetches `url` into a fresh cache; on an error, checks that nothing but the lock is left.
fn try_fetch(url: &str, opts: &FetchOptions) -> Result<Vec<u8>, Error> {
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("e.bin");
    match fetch(url, &dest, opts, &NoProgress) {
        Ok(_) => Ok(fs::read(&dest).unwrap()),
        Err(err) => {
            assert_eq!(names(cache.path()), ["e.bin.lock"], "{url}: {err}");
            Err(err)
        }
    }
}

#[test]
fn a_redirect_is_followed_within_http() {
    let (_d, server) = served();
    let got = try_fetch(&server.url("redirect/build.tar.gz"), &quick()).unwrap();
    assert_eq!(got, BODY);
    let twice = try_fetch(&server.url("redirect/redirect/build.tar.gz"), &quick()).unwrap();
    assert_eq!(twice, BODY);
}

#[test]
fn redirects_to_other_schemes_and_loops_are_errors_not_panics() {
    let (_d, server) = served();
    let cases = [
        (
            "redirect-file",
            "a redirect to a file: URL is not followed (only http and https are)",
        ),
        (
            "redirect-ftp",
            "a redirect to a ftp: URL is not followed (only http and https are)",
        ),
        ("loop", "more than 5 redirects"),
        ("bad/nolocation", "a redirect without a Location"),
        ("bad/location", "a redirect to an invalid URL"),
    ];
    for (path, reason) in cases {
        let url = server.url(path);
        let err = try_fetch(&url, &quick()).unwrap_err();
        assert!(matches!(err, Error::Redirect { .. }), "{path}: {err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("GET {url} failed: {reason}")),
            "{path}: {text}"
        );
    }
    assert_eq!(server.requests("/loop"), 6);
}

#[test]
fn malformed_responses_are_errors_not_panics() {
    let (_d, server) = served();
    // Junk that leaves the body well delimited is tolerated (as curl does); anything else is
    // an error.
    let tolerated = ["header", "binary", "encoding"];
    for kind in vr_tests::BAD_KINDS {
        let url = server.url(&format!("bad/{kind}"));
        match try_fetch(&url, &quick()) {
            Ok(body) => {
                assert!(tolerated.contains(kind), "{kind}: accepted");
                assert_eq!(body, b"hello", "{kind}");
            }
            Err(err) => {
                assert!(!tolerated.contains(kind), "{kind}: {}", chain(&err));
                assert!(
                    chain(&err).contains(&format!("{url} ")),
                    "{kind}: {}",
                    chain(&err)
                );
            }
        }
    }
}

/// An error's text with all its causes.
fn chain(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Records what a download reports.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn start(&self, source: &str, total: Option<u64>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {source} {total:?}"));
    }
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}

const SECRETS: [&str; 3] = [vr_tests::AUTH_USER, vr_tests::AUTH_PASSWORD, "T0ken"];

/// Asserts that no secret is in `text`.
#[track_caller]
fn clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what}: {secret} in {text}");
    }
}

#[test]
fn credentials_and_queries_never_show_in_errors_or_progress() {
    let (_d, server) = served();
    let port = server.port();
    let creds = format!("{}:{}", vr_tests::AUTH_USER, vr_tests::AUTH_PASSWORD);
    let at = |path: &str| format!("http://{creds}@127.0.0.1:{port}/{path}?token=T0ken");
    let refused = format!(
        "http://{creds}@127.0.0.1:{}/b.tar.gz?token=T0ken",
        vr_tests::free_port()
    );
    let wrong = Some("0123456789abcdef0123456789abcdef".to_string());
    // (case, source, md5)
    let cases = [
        ("404", at("auth/missing.tar.gz"), None),
        (
            "401",
            format!("http://127.0.0.1:{port}/auth/build.tar.gz?token=T0ken"),
            None,
        ),
        ("md5", at("auth/build.tar.gz"), wrong.clone()),
        (
            "invalid md5",
            at("auth/build.tar.gz"),
            Some("not hex".to_string()),
        ),
        ("refused", refused, None),
        ("truncated", at("truncate/big.bin"), None),
        ("drip", at("drip/100/big.bin"), None),
        ("file redirect", at("redirect-file"), None),
        ("loop", at("loop"), None),
        ("chunked", at("bad/chunked"), None),
        ("length", at("bad/length"), None),
        ("huge header", at("bad/huge-header"), None),
        ("silent", at("silent"), None),
        (
            "ftp",
            format!("ftp://{creds}@127.0.0.1/x.tar.gz?token=T0ken"),
            None,
        ),
        (
            "garbled",
            format!("http://{creds}@127.0.0.1:{port}:99/x?token=T0ken"),
            None,
        ),
    ];
    for (case, source, md5) in cases {
        let cache = tempfile::tempdir().unwrap();
        let rec = Recorder::default();
        let opts = FetchOptions { md5, ..quick() };
        let err = fetch(&source, &cache.path().join("e"), &opts, &rec).unwrap_err();
        clean(case, &chain(&err));
        clean(case, &format!("{err:?}"));
        for line in rec.0.lock().unwrap().iter() {
            clean(case, line);
        }
    }
    // A download with credentials works, and its progress line shows them as ***.
    let cache = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let url = format!("{}?token=T0ken", server.auth_url("build.tar.gz"));
    let got = fetch(
        &url,
        &cache.path().join("e"),
        &FetchOptions::default(),
        &rec,
    )
    .unwrap();
    assert_eq!(got.md5, BODY_MD5);
    assert_eq!(
        *rec.0.lock().unwrap(),
        [format!(
            "start http://***@127.0.0.1:{port}/auth/build.tar.gz?*** Some({})",
            BODY.len()
        )]
    );
    // The warning of an unreachable server is clean too.
    server.stop();
    let got = fetch(
        &url,
        &cache.path().join("e"),
        &FetchOptions::default(),
        &rec,
    )
    .unwrap();
    let warning = got.warning.unwrap();
    clean("warning", &warning.to_string());
    clean("warning", &format!("{warning:?}"));
}
