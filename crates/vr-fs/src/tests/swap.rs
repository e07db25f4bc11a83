//! `swap_in`: a staged tree replaces an entry in one rename; a link there is exchanged as
//! itself and never followed.

use super::*;
use crate::Error;
use std::ffi::OsStr;
use std::path::Path;

/// A staging folder beside the tree with `new/marker` in it.
fn staged(fx: &Fixture) -> (PathBuf, Beneath) {
    let staging = fx.tree.parent().unwrap().join("staging");
    fs::create_dir_all(staging.join("new")).unwrap();
    fs::write(staging.join("new/marker"), b"new").unwrap();
    let handle = Beneath::open(&staging).unwrap();
    (staging, handle)
}

#[test]
fn swap_in_moves_into_an_empty_place() {
    let fx = fixture();
    let (staging, from) = staged(&fx);
    fs::create_dir(fx.tree.join("sub")).unwrap();
    let exchanged = fx
        .beneath
        .swap_in(Path::new("sub/app"), &from, OsStr::new("new"))
        .unwrap();
    assert!(!exchanged);
    assert_eq!(fs::read(fx.tree.join("sub/app/marker")).unwrap(), b"new");
    assert!(!staging.join("new").exists());
}

#[test]
fn swap_in_exchanges_and_can_swap_back() {
    let fx = fixture();
    let (staging, from) = staged(&fx);
    fs::create_dir(fx.tree.join("app")).unwrap();
    fs::write(fx.tree.join("app/marker"), b"old").unwrap();
    assert!(fx
        .beneath
        .swap_in(Path::new("app"), &from, OsStr::new("new"))
        .unwrap());
    assert_eq!(fs::read(fx.tree.join("app/marker")).unwrap(), b"new");
    assert_eq!(fs::read(staging.join("new/marker")).unwrap(), b"old");
    // A rollback is the same call again.
    assert!(fx
        .beneath
        .swap_in(Path::new("app"), &from, OsStr::new("new"))
        .unwrap());
    assert_eq!(fs::read(fx.tree.join("app/marker")).unwrap(), b"old");
}

#[test]
fn swap_in_exchanges_a_planted_link_as_itself() {
    let fx = fixture();
    let (staging, from) = staged(&fx);
    fx.link("app", &fx.outside);
    assert!(fx
        .beneath
        .swap_in(Path::new("app"), &from, OsStr::new("new"))
        .unwrap());
    assert_eq!(fs::read(fx.tree.join("app/marker")).unwrap(), b"new");
    assert!(staging.join("new").is_symlink(), "the link moved out");
    fx.assert_outside_untouched();
}

#[test]
fn swap_in_refuses_a_link_on_the_way() {
    let fx = fixture();
    let (staging, from) = staged(&fx);
    fx.link("sub", &fx.outside);
    let err = fx
        .beneath
        .swap_in(Path::new("sub/app"), &from, OsStr::new("new"))
        .unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err:?}");
    assert!(staging.join("new/marker").exists(), "nothing moved");
    fx.assert_outside_untouched();
}
