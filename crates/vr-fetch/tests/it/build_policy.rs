//! The build policy: app build tarballs from untrusted authors lose device nodes, setuid and
//! setgid bits and a writable top folder; OS images keep them.

use crate::support::{assert_refused, is_root, owner_mode, tarball, K, T};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use vr_fetch::{unpack, Policy, UnpackOptions};

fn build() -> UnpackOptions {
    UnpackOptions {
        policy: Policy::Build,
        ..Default::default()
    }
}

/// Needs no root: a build is refused a device node whoever unpacks.
#[test]
fn build_policy_refuses_device_nodes() {
    let cases = [
        (
            T("dev/null", K::Char(1, 3), 0o666, 0, 0),
            "a build may not contain device nodes (character device 1:3)",
        ),
        (
            T("sda", K::Block(8, 0), 0o660, 0, 6),
            "a build may not contain device nodes (block device 8:0)",
        ),
    ];
    let ok = T("app/run", K::File(b"#!/bin/sh"), 0o755, 0, 0);
    for (bad, reason) in cases {
        assert_refused(&build(), &[ok, bad], bad.0, reason);
        let with_owner = UnpackOptions {
            owner: Some((
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )),
            ..build()
        };
        assert_refused(&with_owner, &[ok, bad], bad.0, reason);
    }
}

#[test]
fn build_policy_keeps_fifos() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t.tar.gz");
    tarball(&t, &[T("run/fifo", K::Fifo, 0o640, 0, 0)]);
    let target = work.path().join("app");
    unpack(&t, &target, &build()).unwrap();
    let m = fs::symlink_metadata(target.join("run/fifo")).unwrap();
    assert!(m.file_type().is_fifo());
    assert_eq!(m.mode() & 0o7777, 0o640);
}

#[test]
fn build_policy_clears_setuid_and_setgid() {
    if !is_root("build_policy_clears_setuid_and_setgid") {
        return;
    }
    let entries = [
        T("su", K::File(b"setuid root"), 0o4755, 0, 0),
        T("sg", K::File(b"setgid"), 0o2755, 0, 42),
        T("both", K::File(b"both"), 0o6711, 0, 0),
        T("shared", K::Dir, 0o2775, 0, 0),
        T("tmp", K::Dir, 0o1777, 0, 0),
        T("odd", K::Dir, 0o7777, 0, 0),
    ];
    // As vrun unpacks builds (everything to the app's user), and keeping the stored owners.
    for owner in [Some((4242, 4343)), None] {
        let work = tempfile::tempdir().unwrap();
        let t = work.path().join("t.tar.gz");
        tarball(&t, &entries);
        let target = work.path().join("app");
        let opts = UnpackOptions { owner, ..build() };
        unpack(&t, &target, &opts).unwrap();
        let (u, g) = owner.unwrap_or((0, 0));
        let cases = [
            ("su", (u, g, 0o755)),
            ("sg", (u, owner.map_or(42, |o| o.1), 0o755)),
            ("both", (u, g, 0o711)),
            ("shared", (u, g, 0o775)),
            ("tmp", (u, g, 0o1777)),
            ("odd", (u, g, 0o1777)),
        ];
        for (rel, want) in cases {
            assert_eq!(owner_mode(&target.join(rel)), want, "{owner:?} {rel}");
        }
    }
}

/// Needs no root: modes only.
#[test]
fn build_policy_top_dir_is_never_group_or_other_writable() {
    // (stored mode of `./`, wanted mode of the root): build, then image.
    let cases = [
        (Some(0o777), 0o755, 0o777),
        (Some(0o775), 0o755, 0o775),
        (Some(0o757), 0o755, 0o757),
        (Some(0o1777), 0o1755, 0o1777),
        (Some(0o750), 0o750, 0o750),
        (None, 0o755, 0o755),
    ];
    for (root_mode, want_build, want_image) in cases {
        for (opts, want) in [
            (build(), want_build),
            (UnpackOptions::default(), want_image),
        ] {
            let work = tempfile::tempdir().unwrap();
            let t = work.path().join("t.tar.gz");
            let mut entries = vec![
                T("open", K::Dir, 0o777, 0, 0),
                T("open/f", K::File(b"x"), 0o666, 0, 0),
            ];
            if let Some(mode) = root_mode {
                entries.insert(0, T("./", K::Dir, mode, 0, 0));
            }
            tarball(&t, &entries);
            let target = work.path().join("app");
            unpack(&t, &target, &opts).unwrap();
            let mode = fs::metadata(&target).unwrap().mode() & 0o7777;
            assert_eq!(mode, want, "{root_mode:?} {:?}", opts.policy);
            // Only the top: what is inside keeps its mode.
            let open = fs::metadata(target.join("open")).unwrap().mode() & 0o7777;
            assert_eq!(open, 0o777, "{root_mode:?} {:?}", opts.policy);
        }
    }
}
