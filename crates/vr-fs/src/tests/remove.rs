//! `remove_tree`: symlinks inside (or at) the tree are removed as entries, never followed.

use super::*;
use crate::{Error, Op};
use std::path::Path;

fn removes_without_following(fx: &Fixture) {
    fs::create_dir_all(fx.tree.join("a/b/c")).unwrap();
    fs::write(fx.tree.join("a/b/c/file"), b"x").unwrap();
    fs::write(fx.tree.join("a/top"), b"x").unwrap();
    fx.link("a/dirlink", &fx.outside);
    fx.link("a/b/filelink", &fx.secret());
    fs::hard_link(fx.secret(), fx.tree.join("a/b/hardlink")).unwrap();
    fs::write(fx.tree.join("keep"), b"k").unwrap();
    fx.beneath.remove_tree(Path::new("a")).unwrap();
    assert_eq!(names(&fx.tree), ["keep"]);
    fx.assert_outside_untouched();
}

#[test]
fn remove_tree_never_follows_symlinks() {
    removes_without_following(&fixture());
}

#[test]
fn remove_tree_never_follows_symlinks_as_user() {
    if rerun_as_nobody(module_path!(), "remove_tree_never_follows_symlinks_as_user") {
        return;
    }
    removes_without_following(&fixture());
}

#[test]
fn remove_tree_of_a_symlink_removes_the_link_only() {
    let fx = fixture();
    fx.link("var", &fx.outside);
    fx.beneath.remove_tree(Path::new("var")).unwrap();
    assert!(names(&fx.tree).is_empty());
    fx.assert_outside_untouched();
}

#[test]
fn remove_tree_refuses_a_symlinked_directory_on_the_way() {
    let fx = fixture();
    fx.link("var", &fx.outside);
    for rel in ["var/file", "var/sub", "var/sub/inner"] {
        let err = fx.beneath.remove_tree(Path::new(rel)).unwrap_err();
        assert!(
            matches!(err, Error::Symlink { op: Op::Remove, .. }),
            "{rel}: {err:?}"
        );
    }
    fx.assert_outside_untouched();
}

#[test]
fn remove_tree_of_something_missing_is_fine() {
    let fx = fixture();
    fx.beneath.remove_tree(Path::new("nothing")).unwrap();
    fx.beneath.remove_tree(Path::new("no/such/dir")).unwrap();
}

#[test]
fn remove_tree_removes_a_single_file() {
    let fx = fixture();
    fs::write(fx.tree.join("f"), b"x").unwrap();
    fx.beneath.remove_tree(Path::new("f")).unwrap();
    assert!(names(&fx.tree).is_empty());
}

/// Deeper than the number of directory descriptors kept open, with files and outside links at
/// several depths and siblings on the way back up (so reopened listings are read on).
#[test]
fn remove_tree_handles_a_tree_deeper_than_the_descriptor_window() {
    let fx = fixture();
    let mut dir = fx.tree.join("deep");
    fs::create_dir(&dir).unwrap();
    for depth in 0..300 {
        fs::write(dir.join("file"), b"x").unwrap();
        if depth % 37 == 0 {
            std::os::unix::fs::symlink(&fx.outside, dir.join("out")).unwrap();
            fs::create_dir(dir.join("sibling")).unwrap();
            fs::write(dir.join("sibling/file"), b"x").unwrap();
        }
        dir = dir.join("d");
        fs::create_dir(&dir).unwrap();
    }
    fx.beneath.remove_tree(Path::new("deep")).unwrap();
    assert!(names(&fx.tree).is_empty());
    fx.assert_outside_untouched();
}
