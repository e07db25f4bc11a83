//! xattrs in the archive: one PAX header (`SCHILY.xattr.*`, `SCHILY.acl.*`) before the entry,
//! read back by GNU tar and by the tar crate; file capabilities and ACL ids as the container
//! saw them.

use super::*;
use std::collections::BTreeMap;

/// `setcap cap_net_raw=ep` on a plain host: version 2, effective, bit 13.
fn v2_net_raw() -> Vec<u8> {
    let mut v = 0x0200_0001u32.to_le_bytes().to_vec();
    for w in [1u32 << 13, 0, 0, 0] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v
}

/// The same capability for the root `rootid` (version 3), as set inside a user namespace.
fn v3_net_raw(rootid: u32) -> Vec<u8> {
    let mut v = v2_net_raw();
    v[..4].copy_from_slice(&0x0300_0001u32.to_le_bytes());
    v.extend_from_slice(&rootid.to_le_bytes());
    v
}

/// Entry name -> its PAX records, read by the tar crate from a gzip tarball.
fn pax_of(tarball: &Path) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let file = File::open(tarball).unwrap();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let records: Vec<(String, Vec<u8>)> = match entry.pax_extensions().unwrap() {
            Some(exts) => exts
                .map(|e| {
                    let e = e.unwrap();
                    (e.key().unwrap().to_string(), e.value_bytes().to_vec())
                })
                .collect(),
            None => Vec::new(),
        };
        out.insert(name, records);
    }
    out
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn xattrs_and_capabilities_are_packed_and_gnu_tar_restores_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let ping = root.join("bin/ping");
    fs::write(&ping, "ping").unwrap();
    vr_fs::xattr::set(&ping, "user.test", b"hello").unwrap();
    vr_fs::xattr::set(&root.join("etc"), "user.dir", b"a folder's").unwrap();
    // A long name: the PAX header comes before the GNU long-name entry.
    let long = format!("{}/{}", "d".repeat(120), "g".repeat(150));
    fs::write(root.join(&long), "long").unwrap();
    vr_fs::xattr::set(&root.join(&long), "user.long", b"yes").unwrap();
    // Not carried: trusted.* (overlayfs reads trusted.overlay.* on a layer).
    if is_root() {
        vr_fs::xattr::set(&ping, "trusted.overlay.opaque", b"y").unwrap();
        run(Command::new("setcap").arg("cap_net_raw=ep").arg(&ping));
    }
    let out = tmp.path().join("img.tar.gz");
    pack(&root, &out, &PackOptions::default()).unwrap();

    // The tar crate reads one PAX header per entry that has xattrs, sorted by key.
    let pax = pax_of(&out);
    let mut want = vec![("SCHILY.xattr.user.test".to_string(), b"hello".to_vec())];
    if is_root() {
        want.insert(
            0,
            ("SCHILY.xattr.security.capability".to_string(), v2_net_raw()),
        );
    }
    assert_eq!(pax["./bin/ping"], want);
    assert_eq!(
        pax["./etc/"],
        [("SCHILY.xattr.user.dir".to_string(), b"a folder's".to_vec())]
    );
    assert_eq!(
        pax[&format!("./{long}")],
        [("SCHILY.xattr.user.long".to_string(), b"yes".to_vec())]
    );
    assert!(pax["./bin/tool"].is_empty(), "no xattrs, no PAX header");
    assert_eq!(pax.len(), listing(&out).lines().count(), "one entry each");

    // GNU tar puts them back.
    let back = tmp.path().join("back");
    fs::create_dir(&back).unwrap();
    run(Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "-xpzf"])
        .arg(&out)
        .arg("-C")
        .arg(&back));
    let got = run(Command::new("getfattr")
        .args(["--only-values", "-n", "user.test"])
        .arg(back.join("bin/ping")));
    assert_eq!(got, "hello");
    let got = run(Command::new("getfattr")
        .args(["--only-values", "-n", "user.dir"])
        .arg(back.join("etc")));
    assert_eq!(got, "a folder's");
    let got = run(Command::new("getfattr")
        .args(["--only-values", "-n", "user.long"])
        .arg(back.join(&long)));
    assert_eq!(got, "yes");
    if is_root() {
        let caps = run(Command::new("getcap").arg(back.join("bin/ping")));
        assert!(caps.trim_end().ends_with("cap_net_raw=ep"), "{caps}");
        let trusted = Command::new("getfattr")
            .args(["-n", "trusted.overlay.opaque"])
            .arg(back.join("bin/ping"))
            .output()
            .unwrap();
        assert!(!trusted.status.success(), "trusted.* is never packed");
    }
}

#[test]
fn a_capability_set_in_the_container_is_packed_as_the_container_saw_it() {
    if !vr_tests::root_ready("vimage a_capability_set_in_the_container_is_packed_as_the_container_saw_it (a version 3 file capability)") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    fs::create_dir_all(root.join("bin")).unwrap();
    let map = vr_lxc::IdMap {
        host_uid: 100_000,
        host_gid: 100_000,
        count: 65_536,
    };
    // What setcap inside the container leaves on disk: v3 of the container's root (host uid
    // 100000); one of another namespace's root means nothing there and is left out.
    let ping = root.join("bin/ping");
    fs::write(&ping, "ping").unwrap();
    vr_fs::xattr::set(&ping, "security.capability", &v3_net_raw(100_000)).unwrap();
    let other = root.join("bin/other");
    fs::write(&other, "other").unwrap();
    vr_fs::xattr::set(&other, "security.capability", &v3_net_raw(300_000)).unwrap();
    // An ACL naming host uid 101000 (uid 1000 inside).
    let acl = root.join("bin/acl");
    fs::write(&acl, "acl").unwrap();
    let mut bin = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, 101_000),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        bin.extend_from_slice(&tag.to_le_bytes());
        bin.extend_from_slice(&perm.to_le_bytes());
        bin.extend_from_slice(&id.to_le_bytes());
    }
    vr_fs::xattr::set(&acl, "system.posix_acl_access", &bin).unwrap();
    let out = tmp.path().join("img.tar.gz");
    let opts = PackOptions {
        unshift: Some(map),
        ..PackOptions::default()
    };
    pack(&root, &out, &opts).unwrap();
    let pax = pax_of(&out);
    assert_eq!(
        pax["./bin/ping"],
        [("SCHILY.xattr.security.capability".to_string(), v2_net_raw())]
    );
    assert!(pax["./bin/other"].is_empty(), "{:?}", pax["./bin/other"]);
    assert_eq!(
        pax["./bin/acl"],
        [(
            "SCHILY.acl.access".to_string(),
            b"user::rw-,user:1000:r--,group::r--,mask::r--,other::---".to_vec()
        )]
    );
    // GNU tar (with --acls) restores the ACL with the container's ids.
    let back = tmp.path().join("back");
    fs::create_dir(&back).unwrap();
    run(Command::new("tar")
        .args(["--acls", "--xattrs", "--xattrs-include=*", "-xpzf"])
        .arg(&out)
        .arg("-C")
        .arg(&back));
    let caps = run(Command::new("getcap").arg(back.join("bin/ping")));
    assert!(caps.trim_end().ends_with("cap_net_raw=ep"), "{caps}");
    assert_eq!(
        vr_fs::xattr::read(&back.join("bin/acl")).unwrap(),
        [(
            "system.posix_acl_access".to_string(),
            bin.iter()
                .copied()
                .enumerate()
                // 101000 -> 1000 in the fourth entry's id (bytes 4 + 8 + 4 ..).
                .map(|(i, b)| if (16..20).contains(&i) {
                    1000u32.to_le_bytes()[i - 16]
                } else {
                    b
                })
                .collect::<Vec<u8>>()
        )]
    );
}

#[test]
fn the_same_xattrs_give_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let tool = root.join("bin/tool");
    // Set in one order here and in the other on the copy: the archive does not care.
    vr_fs::xattr::set(&tool, "user.b", b"2").unwrap();
    vr_fs::xattr::set(&tool, "user.a", &[0, 255, b'\n', b'=']).unwrap();
    let one = tmp.path().join("one.tar.zst");
    let opts = PackOptions {
        format: ImageFormat::Zstd,
        ..PackOptions::default()
    };
    pack(&root, &one, &opts).unwrap();
    vr_fs::xattr::set(&tool, "user.a", &[0, 255, b'\n', b'=']).unwrap();
    let two = tmp.path().join("two.tar.zst");
    pack(&root, &two, &opts).unwrap();
    assert_eq!(fs::read(&one).unwrap(), fs::read(&two).unwrap());
    // Binary values survive: records are length-prefixed, a newline in a value is data.
    // (The tar crate's reader splits records at newlines: GNU tar reads them.)
    let back = tmp.path().join("back");
    fs::create_dir(&back).unwrap();
    run(Command::new("tar")
        .args(["--zstd", "--xattrs", "--xattrs-include=*", "-xpf"])
        .arg(&one)
        .arg("-C")
        .arg(&back));
    let got = run(Command::new("getfattr")
        .args(["-e", "hex", "-n", "user.a"])
        .arg(back.join("bin/tool")));
    assert!(got.contains("user.a=0x00ff0a3d"), "{got}");
}
