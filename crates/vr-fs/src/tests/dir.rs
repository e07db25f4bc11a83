//! `ensure_dir` and `open_dir`: a planted symlink is replaced, never followed.

use super::*;
use crate::{Error, Kind, Op};
use std::path::Path;

fn replaces_a_symlink_with_a_real_directory(owner: Option<(u32, u32)>) {
    let fx = fixture();
    fx.link("dev", &fx.outside);
    fx.beneath
        .ensure_dir(Path::new("dev"), 0o755, owner)
        .unwrap();
    fx.assert_outside_untouched();
    let dev = fx.tree.join("dev");
    let meta = fs::symlink_metadata(&dev).unwrap();
    assert!(meta.file_type().is_dir(), "{:?}", meta.file_type());
    assert_eq!(meta.mode() & 0o7777, 0o755);
    if let Some((uid, gid)) = owner {
        assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    }
    assert!(names(&dev).is_empty());
}

#[test]
fn ensure_dir_replaces_a_symlink_with_a_real_directory() {
    replaces_a_symlink_with_a_real_directory(owner());
}

#[test]
fn ensure_dir_replaces_a_symlink_with_a_real_directory_as_user() {
    if rerun_as_nobody(
        module_path!(),
        "ensure_dir_replaces_a_symlink_with_a_real_directory_as_user",
    ) {
        return;
    }
    replaces_a_symlink_with_a_real_directory(None);
}

#[test]
fn ensure_dir_replaces_a_file_and_keeps_an_existing_directory() {
    let fx = fixture();
    fs::write(fx.tree.join("run"), b"planted").unwrap();
    fs::create_dir(fx.tree.join("tmp")).unwrap();
    fs::write(fx.tree.join("tmp/keep"), b"k").unwrap();
    fx.beneath
        .ensure_dir(Path::new("run"), 0o755, owner())
        .unwrap();
    fx.beneath
        .ensure_dir(Path::new("tmp"), 0o1777, owner())
        .unwrap();
    assert_eq!(
        fx.beneath.entry_kind(Path::new("run")).unwrap(),
        Some(Kind::Dir)
    );
    assert_eq!(mode_of(&fx.tree.join("tmp")), 0o1777);
    assert_eq!(names(&fx.tree.join("tmp")), ["keep"]);
}

#[test]
fn ensure_dir_refuses_a_symlinked_directory_on_the_way() {
    let fx = fixture();
    fx.link("etc", &fx.outside);
    for rel in ["etc/new", "etc/sub", "etc/sub/new"] {
        let err = fx
            .beneath
            .ensure_dir(Path::new(rel), 0o700, owner())
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Symlink {
                    op: Op::CreateDir,
                    ..
                }
            ),
            "{rel}: {err:?}"
        );
    }
    fx.assert_outside_untouched();
    assert!(fs::symlink_metadata(fx.tree.join("etc"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn ensure_dir_with_a_missing_directory_on_the_way_is_an_error() {
    let fx = fixture();
    let err = fx
        .beneath
        .ensure_dir(Path::new("a/b"), 0o755, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                op: Op::CreateDir,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(names(&fx.tree).is_empty());
}

#[test]
fn open_dir_gives_a_handle_that_is_just_as_strict() {
    let fx = fixture();
    fs::create_dir_all(fx.tree.join("var/lib")).unwrap();
    fx.link("var/lib/link", &fx.outside);
    let sub = fx.beneath.open_dir(Path::new("var")).unwrap();
    assert_eq!(sub.path(), fx.tree.join("var"));
    let err = sub.read_file(Path::new("lib/link/file"), 100).unwrap_err();
    assert!(
        matches!(&err, Error::Symlink { path, .. } if *path == fx.tree.join("var/lib/link/file")),
        "{err:?}"
    );
    sub.write_file(Path::new("lib/x"), b"x", 0o644, None)
        .unwrap();
    assert_eq!(fs::read(fx.tree.join("var/lib/x")).unwrap(), b"x");
    for rel in ["var/lib/link", "var/lib/link/sub"] {
        let err = fx.beneath.open_dir(Path::new(rel)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Symlink {
                    op: Op::OpenDir,
                    ..
                }
            ),
            "{rel}: {err:?}"
        );
    }
    fx.assert_outside_untouched();
}

#[test]
fn names_lists_a_directory_without_following_links() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("d")).unwrap();
    fs::write(fx.tree.join("d/a"), b"a").unwrap();
    fx.link("d/b", &fx.outside);
    let mut names = fx
        .beneath
        .open_dir(Path::new("d"))
        .unwrap()
        .names()
        .unwrap();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    fx.link("e", &fx.outside);
    assert!(
        fx.beneath.open_dir(Path::new("e")).is_err(),
        "a link is not listed through"
    );
}
