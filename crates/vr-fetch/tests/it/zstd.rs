//! `.tar.zst` and `.tzst` tarballs as the `zstd` CLI makes them (`tar --zstd` runs it): one
//! frame, several frames one after the other, and a frame asking for too big a window.

use crate::support::{gnu_tar, names, snapshot};
use crate::unpack::sample_tree;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use vr_fetch::{unpack, UnpackOptions};

fn zstd_ready(test: &str) -> bool {
    vr_tests::tools_ready(test, &["zstd"])
}

/// Runs `sh -c script` with `args` as $1.., failing the test if it fails.
fn sh(script: &str, args: &[&Path]) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "sh -c {script:?}: {status}");
}

#[test]
fn tarballs_made_by_the_zstd_cli_unpack_whole() {
    if !zstd_ready("vr-fetch tarballs_made_by_the_zstd_cli_unpack_whole") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    sample_tree(&src);
    let want = snapshot(&src);
    let plain = work.path().join("image.tar");
    gnu_tar(&[
        "--numeric-owner",
        "-cf",
        plain.to_str().unwrap(),
        "-C",
        src.to_str().unwrap(),
        ".",
    ]);
    // GNU tar's own --zstd, the CLI on a .tar, and two frames (the tar cut in the middle of
    // the big file, each half compressed on its own) concatenated.
    let by_tar = work.path().join("by-tar.tar.zst");
    gnu_tar(&[
        "--numeric-owner",
        "--zstd",
        "-cf",
        by_tar.to_str().unwrap(),
        "-C",
        src.to_str().unwrap(),
        ".",
    ]);
    let by_cli = work.path().join("by-cli.tzst");
    sh("zstd -q -19 -o \"$2\" \"$1\"", &[&plain, &by_cli]);
    let frames = work.path().join("frames.tar.zst");
    sh(
        "half=$(( $(wc -c < \"$1\") / 2 )); \
         { head -c \"$half\" \"$1\" | zstd -q -c; tail -c +$((half + 1)) \"$1\" | zstd -q -c; } > \"$2\"",
        &[&plain, &frames],
    );
    for tarball in [by_tar, by_cli, frames] {
        let target = work.path().join("out").join("contents");
        unpack(&tarball, &target, &UnpackOptions::default()).unwrap();
        assert_eq!(snapshot(&target), want, "{}", tarball.display());
        assert_eq!(names(target.parent().unwrap()), ["contents"]);
        fs::remove_dir_all(work.path().join("out")).unwrap();
    }
}

/// A frame declaring a 2 GiB window (`zstd --long=31` from a pipe) would make the decoder
/// allocate that much: it is refused like a corrupt stream, and nothing is left.
#[test]
fn a_zstd_frame_asking_for_a_huge_window_is_refused() {
    if !zstd_ready("vr-fetch a_zstd_frame_asking_for_a_huge_window_is_refused") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"small").unwrap();
    let plain = work.path().join("t.tar");
    gnu_tar(&[
        "-cf",
        plain.to_str().unwrap(),
        "-C",
        src.to_str().unwrap(),
        ".",
    ]);
    let huge = work.path().join("huge.tar.zst");
    sh("zstd -q --long=31 -c < \"$1\" > \"$2\"", &[&plain, &huge]);
    // The CLI itself refuses it without --memory: the frame really asks for the window.
    let cli = Command::new("zstd")
        .args(["-q", "-t"])
        .arg(&huge)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!cli.success(), "zstd -t accepted a --long=31 frame");
    let parent = work.path().join("p");
    fs::create_dir_all(&parent).unwrap();
    let err = unpack(&huge, &parent.join("t"), &UnpackOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot read tarball {}", huge.display())
    );
    let cause = std::error::Error::source(&err).map(|s| s.to_string());
    assert!(
        cause.as_deref().is_some_and(|c| c.contains("memory")),
        "{cause:?}"
    );
    assert!(names(&parent).is_empty(), "{:?}", names(&parent));
}

/// Needs no tool: corrupt and cut zstd streams, made with the zstd library.
#[test]
fn corrupt_and_truncated_zstd_tarballs_are_errors() {
    let work = tempfile::tempdir().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    // Incompressible, so that each cut or flip lands in the file's data.
    let data: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    tar.append_data(&mut h, "f", &data[..]).unwrap();
    let plain = tar.into_inner().unwrap();
    // With a checksum (as the CLI writes by default): a flipped byte cannot pass unseen.
    let mut enc = zstd::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    std::io::Write::write_all(&mut enc, &plain).unwrap();
    let good = enc.finish().unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    let cases = [
        ("cut.tar.zst", good[..good.len() / 2].to_vec()),
        ("flipped.tzst", flipped),
        ("junk.tar.zst", b"not zstd at all".to_vec()),
    ];
    let ok = work.path().join("good.tar.zst");
    fs::write(&ok, &good).unwrap();
    unpack(&ok, &work.path().join("good"), &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(work.path().join("good/f")).unwrap(), data);
    for (name, bytes) in cases {
        let tarball = work.path().join(name);
        fs::write(&tarball, bytes).unwrap();
        let parent = work.path().join("p");
        fs::create_dir_all(&parent).unwrap();
        let err = unpack(&tarball, &parent.join("t"), &UnpackOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot read tarball {}", tarball.display()),
            "{name}"
        );
        assert!(names(&parent).is_empty(), "{name}: {:?}", names(&parent));
    }
}
