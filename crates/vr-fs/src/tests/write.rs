//! `write_file`: planted symlinks and hard links are replaced, never written through.

use super::*;
use crate::{Error, Kind, Op};
use std::path::Path;

/// `env.sh -> outside/file` and `env.sh.tmp -> outside/file` (the fixed temp name the old
/// code used) are both planted; the write must replace `env.sh` and leave the host file be.
fn replaces_planted_symlinks(owner: Option<(u32, u32)>) {
    let fx = fixture();
    fx.link("env.sh", &fx.secret());
    fx.link("env.sh.tmp", &fx.secret());
    fx.beneath
        .write_file(Path::new("env.sh"), b"export A=1\n", 0o755, owner)
        .unwrap();
    fx.assert_outside_untouched();
    let written = fx.tree.join("env.sh");
    let meta = fs::symlink_metadata(&written).unwrap();
    assert!(meta.file_type().is_file(), "{:?}", meta.file_type());
    assert_eq!(fs::read(&written).unwrap(), b"export A=1\n");
    assert_eq!(mode_of(&written), 0o755);
    if let Some((uid, gid)) = owner {
        assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    }
    // No temp file is left behind; the planted temp-name link is left as it was.
    assert_eq!(names(&fx.tree), ["env.sh", "env.sh.tmp"]);
    assert!(fs::symlink_metadata(fx.tree.join("env.sh.tmp"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn write_file_replaces_planted_symlinks() {
    replaces_planted_symlinks(owner());
}

#[test]
fn write_file_replaces_planted_symlinks_as_user() {
    if rerun_as_nobody(
        module_path!(),
        "write_file_replaces_planted_symlinks_as_user",
    ) {
        return;
    }
    replaces_planted_symlinks(None);
}

#[test]
fn write_file_refuses_a_symlinked_directory_on_the_way() {
    let fx = fixture();
    fx.link("etc", &fx.outside);
    fs::create_dir(fx.tree.join("a")).unwrap();
    fx.link("a/dev", &fx.outside);
    for rel in [
        "etc/passwd",
        "etc/file",
        "a/dev/null",
        "etc/sub/inner",
        "etc/sub/new",
    ] {
        let err = fx
            .beneath
            .write_file(Path::new(rel), b"pwned\n", 0o644, owner())
            .unwrap_err();
        assert!(
            matches!(&err, Error::Symlink { op: Op::Write, path } if *path == fx.tree.join(rel)),
            "{rel}: {err:?}"
        );
    }
    fx.assert_outside_untouched();
}

#[test]
fn write_file_refuses_a_symlinked_directory_on_the_way_as_user() {
    if rerun_as_nobody(
        module_path!(),
        "write_file_refuses_a_symlinked_directory_on_the_way_as_user",
    ) {
        return;
    }
    let fx = fixture();
    fx.link("etc", &fx.outside);
    for rel in ["etc/passwd", "etc/sub/inner"] {
        let err = fx
            .beneath
            .write_file(Path::new(rel), b"pwned\n", 0o644, None)
            .unwrap_err();
        assert!(matches!(err, Error::Symlink { .. }), "{rel}: {err:?}");
    }
    fx.assert_outside_untouched();
}

#[test]
fn write_file_onto_a_hard_link_leaves_the_host_file_alone() {
    let fx = fixture();
    fs::hard_link(fx.secret(), fx.tree.join("x")).unwrap();
    fx.beneath
        .write_file(Path::new("x"), b"new\n", 0o600, None)
        .unwrap();
    fx.assert_outside_untouched();
    assert_eq!(fs::read(fx.tree.join("x")).unwrap(), b"new\n");
    assert_eq!(fs::metadata(fx.secret()).unwrap().nlink(), 1);
}

#[test]
fn write_file_in_a_subdirectory_replaces_an_existing_file() {
    let fx = fixture();
    fs::create_dir_all(fx.tree.join("etc/app")).unwrap();
    fs::write(fx.tree.join("etc/app/conf"), b"old").unwrap();
    fx.beneath
        .write_file(Path::new("./etc/app/conf"), b"new", 0o640, owner())
        .unwrap();
    assert_eq!(fs::read(fx.tree.join("etc/app/conf")).unwrap(), b"new");
    assert_eq!(mode_of(&fx.tree.join("etc/app/conf")), 0o640);
    assert_eq!(names(&fx.tree.join("etc/app")), ["conf"]);
}

#[test]
fn write_file_keeps_setuid_after_chown() {
    if !vr_tests::root_ready("vr-fs write_file_keeps_setuid_after_chown (chown)") {
        return;
    }
    let fx = fixture();
    fx.beneath
        .write_file(
            Path::new("tool"),
            b"#!/bin/sh\n",
            0o4755,
            Some(CONTAINER_ROOT),
        )
        .unwrap();
    let meta = fs::symlink_metadata(fx.tree.join("tool")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o4755);
    assert_eq!((meta.uid(), meta.gid()), CONTAINER_ROOT);
}

#[test]
fn write_file_onto_a_directory_is_an_error() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("env.sh")).unwrap();
    fs::write(fx.tree.join("env.sh/keep"), b"k").unwrap();
    let err = fx
        .beneath
        .write_file(Path::new("env.sh"), b"x", 0o644, None)
        .unwrap_err();
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
    assert_eq!(
        err.to_string(),
        format!(
            "cannot write {}: it is a directory, not a regular file",
            fx.tree.join("env.sh").display()
        )
    );
    assert_eq!(names(&fx.tree), ["env.sh"]);
    assert_eq!(names(&fx.tree.join("env.sh")), ["keep"]);
}

#[test]
fn write_file_with_a_missing_directory_is_an_error_and_creates_nothing() {
    let fx = fixture();
    let err = fx
        .beneath
        .write_file(Path::new("etc/passwd"), b"x", 0o644, None)
        .unwrap_err();
    assert!(matches!(err, Error::Io { op: Op::Write, .. }), "{err:?}");
    assert!(names(&fx.tree).is_empty());
}

#[test]
fn write_file_refuses_owner_minus_one() {
    let fx = fixture();
    let err = fx
        .beneath
        .write_file(Path::new("x"), b"x", 0o644, Some((u32::MAX, 0)))
        .unwrap_err();
    assert!(matches!(err, Error::BadOwner { .. }), "{err:?}");
    assert!(names(&fx.tree).is_empty());
}
