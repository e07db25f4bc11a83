//! Path checks shared by every method, and opening the root.

use super::*;
use crate::{Beneath, Error, Op};
use std::path::Path;

#[test]
fn absolute_dotdot_and_empty_paths_are_refused_by_every_method() {
    let fx = fixture();
    fs::create_dir(fx.tree.join("a")).unwrap();
    let cases = [
        ("/etc/passwd", "the path is absolute"),
        ("../outside/file", "the path has a `..` component"),
        ("a/../../outside/file", "the path has a `..` component"),
        ("a/..", "the path has a `..` component"),
        ("", "the path names no entry below the root"),
        (".", "the path names no entry below the root"),
    ];
    let b = &fx.beneath;
    for (rel, want) in cases {
        let rel = Path::new(rel);
        let results = [
            (Op::Read, b.read_file(rel, 100).map(|_| ())),
            (Op::Write, b.write_file(rel, b"x", 0o644, None)),
            (Op::CreateDir, b.ensure_dir(rel, 0o755, None)),
            (Op::Remove, b.remove_tree(rel)),
            (Op::OpenDir, b.open_dir(rel).map(|_| ())),
            (Op::Inspect, b.entry_kind(rel).map(|_| ())),
        ];
        for (op, result) in results {
            let err = result.unwrap_err();
            assert!(
                matches!(&err, Error::BadPath { op: o, problem, .. } if *o == op && *problem == want),
                "{rel:?} {op}: {err:?}"
            );
        }
    }
    fx.assert_outside_untouched();
    assert_eq!(names(&fx.tree), ["a"]);
}

#[test]
fn bad_path_message_names_the_root() {
    let fx = fixture();
    let err = fx
        .beneath
        .write_file(Path::new("/etc/shadow"), b"x", 0o600, None)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot write /etc/shadow: the path is absolute (paths are relative to {})",
            fx.tree.display()
        )
    );
}

#[test]
fn open_refuses_a_symlink_or_a_file_as_the_root() {
    let fx = fixture();
    fx.link("rootfs", &fx.outside);
    let err = Beneath::open(&fx.tree.join("rootfs")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Symlink {
                op: Op::OpenDir,
                ..
            }
        ),
        "{err:?}"
    );
    let err = Beneath::open(&fx.secret()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                op: Op::OpenDir,
                ..
            }
        ),
        "{err:?}"
    );
    let err = Beneath::open(&fx.tree.join("missing")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                op: Op::OpenDir,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fx.beneath.path(), fx.tree);
}
