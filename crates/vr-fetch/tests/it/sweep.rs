//! What a run killed with SIGKILL leaves (a half-written download or unpack) is removed by the
//! next fetch or unpack of the same entry, and what a live run is writing is left alone.

use crate::support::{names, vrfetch};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vr_fetch::{unpack, UnpackOptions};

/// A gzip tarball of `files` (name, bytes), as bytes.
fn tarball_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn kill9(mut child: Child) {
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

fn leftovers(dir: &Path, prefix: &str) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn a_killed_unpack_is_swept_by_the_next_and_a_live_one_is_not() {
    let work = tempfile::tempdir().unwrap();
    // The tarball comes through a named pipe, so the unpack stops half way, for as long as
    // the test wants.
    let fifo = work.path().join("slow.tar.gz");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let parent = work.path().join("parent");
    fs::create_dir(&parent).unwrap();
    let target = parent.join("target");
    let child = Command::new(vrfetch())
        .arg("unpack")
        .arg(&fifo)
        .arg(&target)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let noise: Vec<u8> = (0..4 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let bytes = tarball_bytes(&[("first", b"in place"), ("second", &noise)]);
    let mut pipe = File::options().write(true).open(&fifo).unwrap();
    pipe.write_all(&bytes[..bytes.len() / 2]).unwrap();
    pipe.flush().unwrap();
    vr_tests::until(Duration::from_secs(30), "the unpack started", || {
        leftovers(&parent, ".target.unpack-")
            .iter()
            .any(|d| parent.join(d).join("first").exists())
    });
    let live = leftovers(&parent, ".target.unpack-");
    // Another unpack of the same target meanwhile: it does its work and leaves the live
    // temp folder alone.
    let small = work.path().join("small.tar.gz");
    fs::write(&small, tarball_bytes(&[("f", b"small")])).unwrap();
    unpack(&small, &target, &UnpackOptions::default()).unwrap();
    assert_eq!(leftovers(&parent, ".target.unpack-"), live);
    // Killed outright: its temp folder stays behind, until the next unpack.
    kill9(child);
    drop(pipe);
    assert_eq!(leftovers(&parent, ".target.unpack-"), live);
    unpack(&small, &target, &UnpackOptions::default()).unwrap();
    assert_eq!(names(&parent), ["target"]);
    assert_eq!(fs::read(target.join("f")).unwrap(), b"small");
}

#[test]
fn a_killed_download_is_swept_by_the_next() {
    let www = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    fs::write(www.path().join("b.bin"), &body).unwrap();
    let server = vr_tests::HttpServer::serve(www.path());
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("b.bin");
    let child = Command::new(vrfetch())
        .arg("ensure")
        .arg(server.url("drip/50/b.bin"))
        .arg(&dest)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    vr_tests::until(Duration::from_secs(30), "the download started", || {
        !leftovers(cache.path(), ".b.bin.").is_empty()
    });
    kill9(child);
    assert_eq!(leftovers(cache.path(), ".b.bin.").len(), 1);
    vr_fetch::ensure(&server.url("b.bin"), &dest, None).unwrap();
    assert_eq!(names(cache.path()), ["b.bin", "b.bin.lock", "b.bin.meta"]);
    assert_eq!(fs::read(&dest).unwrap(), body);
}
