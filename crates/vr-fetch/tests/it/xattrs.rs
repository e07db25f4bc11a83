//! Extended attributes from pax records: what an image keeps (`user.*`, file capabilities as
//! v3 of the container's root, ACLs with shifted ids), what a build keeps (`user.*`), and
//! what nobody gets (`trusted.*`, which overlayfs obeys on a lower layer, and the other
//! `security.*`). Hostile tarballs are made with the tar crate; a real one with GNU tar
//! `--xattrs --acls` over files given them by setcap, setfacl and setfattr.

use crate::support::{gnu_tar, is_root, snapshot};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use vr_fetch::{unpack, Error, IdShift, Policy, UnpackOptions};

const SHIFT: IdShift = IdShift {
    uid_base: 100_000,
    gid_base: 100_000,
    count: 65536,
};

fn opts(policy: Policy, shift: Option<IdShift>) -> UnpackOptions {
    UnpackOptions {
        policy,
        shift,
        ..UnpackOptions::default()
    }
}

/// `setcap cap_net_raw=ep` as stored on a plain host: version 2, effective, bit 13.
const V2_NET_RAW: [u8; 20] = [
    0x01, 0, 0, 0x02, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The same capability as version 3 of the root `rootid`.
fn v3_net_raw(rootid: u32) -> Vec<u8> {
    let mut v = V2_NET_RAW.to_vec();
    v[3] = 0x03;
    v.extend_from_slice(&rootid.to_le_bytes());
    v
}

/// An entry of a [`pax_tarball`]: name, is it a folder, pax records.
type Px<'a> = (&'a str, bool, Vec<(&'a str, Vec<u8>)>);

/// Writes `entries` (root's, mode 0755 folders and 0644 files holding their name) with their
/// pax records as a gzip tarball at `out`.
fn pax_tarball(out: &Path, entries: &[Px]) {
    let file = fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (name, dir, records) in entries {
        if !records.is_empty() {
            b.append_pax_extensions(records.iter().map(|(k, v)| (*k, &v[..])))
                .unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        let data: &[u8] = if *dir { b"" } else { name.as_bytes() };
        h.set_entry_type(if *dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_mode(if *dir { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    use std::io::Write;
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

/// Every xattr name of `path` itself, sorted: trusted.* too (as root), not only what
/// vr_fs::xattr::read shows.
fn all_names(path: &Path) -> Vec<String> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = rustix::fs::llistxattr(path, &mut buf[..]).unwrap();
    let mut v: Vec<String> = buf[..n]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    v.sort();
    v
}

/// The raw value of the xattr `name` of `path` itself.
fn value(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(e) if e == rustix::io::Errno::NODATA => None,
        Err(e) => panic!("getxattr {name} of {}: {e}", path.display()),
    }
}

/// The xattrs overlayfs, SELinux and IMA act on, on one file and one folder, beside a
/// `user.ok` that is carried.
fn hostile_records<'a>() -> Vec<(&'a str, Vec<u8>)> {
    vec![
        ("SCHILY.xattr.trusted.overlay.redirect", b"/etc".to_vec()),
        ("SCHILY.xattr.trusted.overlay.opaque", b"y".to_vec()),
        ("SCHILY.xattr.trusted.overlay.metacopy", Vec::new()),
        ("SCHILY.xattr.trusted.overlay.origin", b"\x00\xfb".to_vec()),
        // What overlayfs reads instead under `userxattr`.
        ("SCHILY.xattr.user.overlay.redirect", b"/etc".to_vec()),
        ("SCHILY.xattr.user.overlay.opaque", b"y".to_vec()),
        (
            "SCHILY.xattr.security.selinux",
            b"system_u:object_r:shadow_t:s0".to_vec(),
        ),
        ("SCHILY.xattr.security.ima", b"\x03\x02\x04".to_vec()),
        ("SCHILY.xattr.security.evm", b"\x03".to_vec()),
        ("SCHILY.xattr.user.ok", b"carried".to_vec()),
        // A value holding what looks like another record: it is one value (the tar crate's
        // own record splitter would see a trusted.overlay.opaque record in it).
        ("SCHILY.xattr.user.nl", NL_VALUE.to_vec()),
    ]
}

const NL_VALUE: &[u8] = b"a\n39 SCHILY.xattr.trusted.overlay.opaque=y\n";

#[test]
fn trusted_and_other_security_xattrs_are_never_set() {
    if !is_root("trusted_and_other_security_xattrs_are_never_set") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // The check can fail: as root, a trusted.overlay.* xattr set here is listed.
    let control = work.path().join("control");
    fs::write(&control, b"").unwrap();
    vr_fs::xattr::set(&control, "trusted.overlay.opaque", b"y").unwrap();
    assert_eq!(all_names(&control), ["trusted.overlay.opaque"]);

    let t = work.path().join("image.tar.gz");
    pax_tarball(
        &t,
        &[
            ("etc", true, hostile_records()),
            ("etc/shadow", false, hostile_records()),
        ],
    );
    for (policy, shift) in [
        (Policy::Image, Some(SHIFT)),
        (Policy::Image, None),
        (Policy::Build, None),
    ] {
        let target = work.path().join("contents");
        unpack(&t, &target, &opts(policy, shift)).unwrap();
        for rel in ["etc", "etc/shadow"] {
            assert_eq!(
                all_names(&target.join(rel)),
                ["user.nl", "user.ok"],
                "{rel} {policy:?} {shift:?}"
            );
            assert_eq!(
                value(&target.join(rel), "user.ok").as_deref(),
                Some(&b"carried"[..])
            );
            assert_eq!(
                value(&target.join(rel), "user.nl").as_deref(),
                Some(NL_VALUE)
            );
        }
        assert_eq!(fs::read(target.join("etc/shadow")).unwrap(), b"etc/shadow");
        fs::remove_dir_all(&target).unwrap();
    }
}

/// A refused tarball leaves the parent folder as it was: no target, no temp dir.
fn assert_refused(opts: &UnpackOptions, entries: &[Px], entry: &str, reason: &str) {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t.tar.gz");
    pax_tarball(&t, entries);
    let parent = work.path().join("parent");
    fs::create_dir_all(parent.join("beside")).unwrap();
    let before = snapshot(&parent);
    let err = unpack(&t, &parent.join("target"), opts).unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("refusing entry {entry:?} of {}: {reason}", t.display())
    );
    assert_eq!(snapshot(&parent), before, "{entry}: the parent changed");
}

/// Needs no root: ids outside the map refuse the tarball whoever unpacks, as owners do.
#[test]
fn a_capability_or_acl_outside_the_map_refuses_the_tarball() {
    let ok: Px = ("bin/ok", false, vec![]);
    let cap = |rootid| vec![("SCHILY.xattr.security.capability", v3_net_raw(rootid))];
    let acl = |text: &str| vec![("SCHILY.acl.access", text.as_bytes().to_vec())];
    let outside = "outside the 65536 ids of the containers' user namespace";
    let cases: Vec<(Px, String)> = vec![
        (
            ("bin/ping", false, cap(65536)),
            format!("its file capability names root id 65536, {outside}"),
        ),
        (
            ("bin/ping", false, cap(u32::MAX)),
            format!("its file capability names root id 4294967295, {outside}"),
        ),
        (
            (
                "etc/secret",
                false,
                acl("user::rw-,user:70000:r--,group::r--,mask::r--,other::---"),
            ),
            format!("its ACL names user id 70000, {outside}"),
        ),
        (
            (
                "srv",
                true,
                vec![(
                    "SCHILY.acl.default",
                    b"user::rwx,group::r-x,group:65536:r-x,mask::r-x,other::---".to_vec(),
                )],
            ),
            format!("its ACL names group id 65536, {outside}"),
        ),
        (
            (
                "bin/bad",
                false,
                vec![("SCHILY.xattr.security.capability", vec![1, 2, 3])],
            ),
            "its file capability is refused: 3 bytes is too short".to_string(),
        ),
    ];
    for policy in [Policy::Image, Policy::Build] {
        for (bad, reason) in &cases {
            let o = opts(policy, Some(SHIFT));
            assert_refused(&o, &[ok.clone(), bad.clone()], bad.0, reason);
        }
    }
}

#[test]
fn a_build_keeps_user_xattrs_only() {
    if !is_root("a_build_keeps_user_xattrs_only") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("build.tar.gz");
    let records = vec![
        ("SCHILY.xattr.security.capability", V2_NET_RAW.to_vec()),
        (
            "SCHILY.acl.access",
            b"user::rw-,user:1000:rw-,group::r--,mask::rw-,other::r--".to_vec(),
        ),
        (
            "SCHILY.xattr.user.mime_type",
            b"text/x-shellscript".to_vec(),
        ),
    ];
    pax_tarball(&t, &[("bin/run", false, records.clone())]);
    let target = work.path().join("app");
    let build = UnpackOptions {
        owner: Some((1000, 1000)),
        ..opts(Policy::Build, None)
    };
    unpack(&t, &target, &build).unwrap();
    assert_eq!(all_names(&target.join("bin/run")), ["user.mime_type"]);
    // The same tarball as an image keeps all three.
    let image = work.path().join("image");
    unpack(&t, &image, &opts(Policy::Image, Some(SHIFT))).unwrap();
    assert_eq!(
        all_names(&image.join("bin/run")),
        [
            "security.capability",
            "system.posix_acl_access",
            "user.mime_type"
        ]
    );
}

/// Runs `tool args` and returns its stdout, failing the test if it fails.
fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A tree given xattrs by the tools: a setcap'd file, a file with an ACL for uid 1000, a
/// folder with a default ACL (and a file in it made before, without an ACL), a file with a
/// user xattr. Returns its root.
fn tools_tree(work: &Path) -> PathBuf {
    let src = work.join("src");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::create_dir_all(src.join("srv")).unwrap();
    for f in ["bin/ping", "etc-secret", "notes", "srv/plain"] {
        fs::write(src.join(f), f).unwrap();
    }
    run("setcap", &["cap_net_raw+ep", s(&src.join("bin/ping"))]);
    run("setfacl", &["-m", "u:1000:r", s(&src.join("etc-secret"))]);
    run("setfacl", &["-d", "-m", "u:1000:rx", s(&src.join("srv"))]);
    run(
        "setfattr",
        &["-n", "user.x", "-v", "y", s(&src.join("notes"))],
    );
    src
}

/// Packs `src` with GNU tar carrying xattrs and ACLs (numeric ids) into `out`.
fn gnu_tar_xattrs(src: &Path, out: &Path) {
    gnu_tar(&[
        "--xattrs",
        "--xattrs-include=*",
        "--acls",
        "--numeric-owner",
        "-czf",
        s(out),
        "-C",
        s(src),
        ".",
    ]);
}

fn tools_ready(test: &str) -> bool {
    is_root(test)
        && vr_tests::tools_ready(
            test,
            &["setcap", "getcap", "setfacl", "getfacl", "setfattr"],
        )
}

#[test]
fn a_setcap_file_comes_back_as_a_v3_capability_of_the_containers_root() {
    let test = "a_setcap_file_comes_back_as_a_v3_capability_of_the_containers_root";
    if !tools_ready(test) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = tools_tree(work.path());
    assert_eq!(
        value(&src.join("bin/ping"), "security.capability"),
        Some(V2_NET_RAW.to_vec())
    );
    let t = work.path().join("image.tar.gz");
    gnu_tar_xattrs(&src, &t);
    let target = work.path().join("contents");
    unpack(&t, &target, &opts(Policy::Image, Some(SHIFT))).unwrap();
    let ping = target.join("bin/ping");
    // Honoured for the namespace whose root is host uid 100000 only, not for the host's root.
    assert_eq!(
        value(&ping, "security.capability"),
        Some(v3_net_raw(100_000))
    );
    assert_eq!(
        run("getcap", &["-n", s(&ping)]).trim(),
        format!("{} cap_net_raw=ep [rootid=100000]", ping.display())
    );
}

#[test]
fn gnu_tar_xattrs_and_acls_come_back() {
    let test = "gnu_tar_xattrs_and_acls_come_back";
    if !tools_ready(test) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = tools_tree(work.path());
    let t = work.path().join("image.tar.gz");
    gnu_tar_xattrs(&src, &t);

    // Unshifted: what the source has, but the capability: stored as it is, a v2 capability
    // would be the host root's, so without a shift none is written.
    let plain = work.path().join("plain");
    unpack(&t, &plain, &opts(Policy::Image, None)).unwrap();
    let mut carried = 0;
    for rel in ["bin/ping", "etc-secret", "srv", "notes"] {
        let mut want = vr_fs::xattr::read(&src.join(rel)).unwrap();
        assert!(!want.is_empty(), "{rel}: the source has no xattr");
        carried += want.len();
        want.retain(|(name, _)| name != "security.capability");
        assert_eq!(vr_fs::xattr::read(&plain.join(rel)).unwrap(), want, "{rel}");
    }
    assert_eq!(
        carried, 4,
        "a capability, an access and a default ACL, a user xattr"
    );
    assert_eq!(value(&plain.join("bin/ping"), "security.capability"), None);
    assert_eq!(vr_fs::xattr::read(&src.join("srv/plain")).unwrap(), vec![]);

    // Shifted, as vrun unpacks an image: ids inside the ACLs move with the owners.
    let shifted = work.path().join("shifted");
    unpack(&t, &shifted, &opts(Policy::Image, Some(SHIFT))).unwrap();
    let acl = |path: &Path| run("getfacl", &["-n", "-c", "-p", s(path)]);
    assert!(
        acl(&shifted.join("etc-secret")).contains("user:101000:r--\n"),
        "{}",
        acl(&shifted.join("etc-secret"))
    );
    let srv = acl(&shifted.join("srv"));
    assert!(srv.contains("default:user:101000:r-x\n"), "{srv}");
    assert_eq!(
        value(&shifted.join("notes"), "user.x").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        value(&shifted.join("bin/ping"), "security.capability"),
        Some(v3_net_raw(100_000))
    );
    // srv's default ACL is set once its contents are in: srv/plain did not inherit it.
    for tree in [&plain, &shifted] {
        assert_eq!(
            vr_fs::xattr::read(&tree.join("srv/plain")).unwrap(),
            vec![],
            "{}",
            tree.display()
        );
    }
}
