//! `read_file` and `entry_kind`: no symlink is followed, only regular files are read.

use super::*;
use crate::{Error, Kind, Op};
use rustix::fs::{FileType, Mode, CWD};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn read_file_returns_the_content_of_a_regular_file() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("etc")).unwrap();
    fs::write(fx.tree.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
    let got = fx.beneath.read_file(Path::new("etc/passwd"), 1024).unwrap();
    assert_eq!(got.as_deref(), Some(&b"root:x:0:0::/root:/bin/sh\n"[..]));
}

#[test]
fn read_file_of_a_missing_file_or_directory_is_none() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("etc")).unwrap();
    for rel in ["passwd", "etc/passwd", "nothere/passwd"] {
        assert_eq!(
            fx.beneath.read_file(Path::new(rel), 10).unwrap(),
            None,
            "{rel}"
        );
    }
}

#[test]
fn read_file_refuses_a_symlink_as_the_last_component() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("etc")).unwrap();
    fx.link("etc/passwd", &fx.secret());
    let err = fx
        .beneath
        .read_file(Path::new("etc/passwd"), 1024)
        .unwrap_err();
    assert!(
        matches!(err, Error::Symlink { op: Op::Read, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read {}: a path component is a symlink (refused: this tree is writable by a container)",
            fx.tree.join("etc/passwd").display()
        )
    );
}

#[test]
fn read_file_refuses_a_symlinked_directory_on_the_way() {
    let fx = fixture();
    fx.link("etc", &fx.outside);
    for rel in ["etc/file", "etc/sub/inner"] {
        let err = fx.beneath.read_file(Path::new(rel), 1024).unwrap_err();
        assert!(matches!(err, Error::Symlink { .. }), "{rel}: {err:?}");
    }
    // A relative link that stays inside the tree is refused too: no symlink is followed.
    fs::create_dir(fx.tree.join("real")).unwrap();
    fs::write(fx.tree.join("real/file"), b"inside").unwrap();
    fx.link("alias", Path::new("real"));
    let err = fx
        .beneath
        .read_file(Path::new("alias/file"), 1024)
        .unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err:?}");
    fx.assert_outside_untouched();
}

#[test]
fn read_file_of_a_named_pipe_fails_without_blocking() {
    let fx = fixture();
    let fifo = fx.tree.join("passwd");
    rustix::fs::mknodat(CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
    let (send, receive) = mpsc::channel();
    let beneath = fx.beneath;
    std::thread::spawn(move || {
        let _ = send.send(beneath.read_file(Path::new("passwd"), 1024));
    });
    let result = receive
        .recv_timeout(Duration::from_secs(10))
        .expect("read_file blocked on a named pipe");
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongKind {
                found: Kind::Fifo,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with(": it is a named pipe, not a regular file"),
        "{err}"
    );
}

#[test]
fn read_file_of_a_device_is_an_error() {
    if !vr_tests::root_ready("vr-fs read_file_of_a_device_is_an_error (mknod)") {
        return;
    }
    let fx = fixture();
    let dev = rustix::fs::makedev(1, 3); // /dev/null
    let path = fx.tree.join("null");
    rustix::fs::mknodat(
        CWD,
        &path,
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        dev,
    )
    .unwrap();
    let err = fx.beneath.read_file(Path::new("null"), 1024).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongKind {
                found: Kind::CharDevice,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn read_file_of_a_directory_is_an_error() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("etc")).unwrap();
    let err = fx.beneath.read_file(Path::new("etc"), 1024).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongKind {
                found: Kind::Dir,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn read_file_over_the_limit_is_an_error() {
    let fx = fixture();
    fs::write(fx.tree.join("big"), vec![b'x'; 101]).unwrap();
    fs::write(fx.tree.join("fits"), vec![b'x'; 100]).unwrap();
    let err = fx.beneath.read_file(Path::new("big"), 100).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 100, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read {}: it is larger than 100 bytes",
            fx.tree.join("big").display()
        )
    );
    let fits = fx.beneath.read_file(Path::new("fits"), 100).unwrap();
    assert_eq!(fits.map(|b| b.len()), Some(100));
}

#[test]
fn entry_kind_does_not_follow_symlinks() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("dir")).unwrap();
    fs::write(fx.tree.join("dir/file"), b"").unwrap();
    fx.link("link", &fx.outside);
    let kind = |rel: &str| fx.beneath.entry_kind(Path::new(rel));
    assert_eq!(kind("dir").unwrap(), Some(Kind::Dir));
    assert_eq!(kind("dir/file").unwrap(), Some(Kind::File));
    assert_eq!(kind("link").unwrap(), Some(Kind::Symlink));
    assert_eq!(kind("missing").unwrap(), None);
    assert_eq!(kind("missing/deeper").unwrap(), None);
    for rel in ["link/file", "link/sub/inner"] {
        let err = kind(rel).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Symlink {
                    op: Op::Inspect,
                    ..
                }
            ),
            "{rel}: {err:?}"
        );
    }
}

#[test]
fn metadata_describes_the_entry_itself_never_a_links_target() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("etc")).unwrap();
    fs::write(fx.tree.join("etc/hosts"), b"12345").unwrap();
    set_mode(&fx.tree.join("etc/hosts"), 0o4751);
    fx.link("etc/link", &fx.secret());
    let meta = fx
        .beneath
        .metadata(Path::new("etc/hosts"))
        .unwrap()
        .unwrap();
    assert_eq!((meta.kind, meta.size, meta.mode), (Kind::File, 5, 0o4751));
    let link = fx.beneath.metadata(Path::new("etc/link")).unwrap().unwrap();
    assert_eq!(link.kind, Kind::Symlink);
    assert_eq!(fx.beneath.metadata(Path::new("etc/none")).unwrap(), None);
    assert_eq!(fx.beneath.metadata(Path::new("no/none")).unwrap(), None);
    let root = fx.beneath.metadata(Path::new("")).unwrap().unwrap();
    assert_eq!(root.kind, Kind::Dir);
    // A link on the way is refused, not followed into `outside`.
    fx.link("out", &fx.outside);
    assert!(fx.beneath.metadata(Path::new("out/file")).is_err());
    fx.assert_outside_untouched();
}

#[test]
fn set_mtime_changes_the_entry_itself_never_a_links_target() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("etc")).unwrap();
    fx.link("etc/link", &fx.secret());
    let before = fs::metadata(fx.secret()).unwrap().mtime();
    fx.beneath
        .set_mtime(Path::new("etc/link"), (1_000_000, 5))
        .unwrap();
    let link = fs::symlink_metadata(fx.tree.join("etc/link")).unwrap();
    assert_eq!((link.mtime(), link.mtime_nsec()), (1_000_000, 5));
    assert_eq!(fs::metadata(fx.secret()).unwrap().mtime(), before);
    fx.beneath.set_mtime(Path::new(""), (2_000_000, 0)).unwrap();
    assert_eq!(fs::metadata(&fx.tree).unwrap().mtime(), 2_000_000);
    fx.beneath
        .set_mtime(Path::new("etc"), (3_000_000, 0))
        .unwrap();
    assert_eq!(
        fx.beneath
            .metadata(Path::new("etc"))
            .unwrap()
            .unwrap()
            .mtime,
        (3_000_000, 0)
    );
    fx.link("out", &fx.outside);
    assert!(fx.beneath.set_mtime(Path::new("out/file"), (1, 0)).is_err());
    fx.assert_outside_untouched();
}
