use super::acl::{
    ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_UNDEFINED_ID, ACL_USER, ACL_USER_OBJ,
};
use super::cap::{CAP_FLAGS_EFFECTIVE, CAP_V2, CAP_V3};
use super::*;

const SHIFT: Shift = Shift {
    uid_base: 100_000,
    gid_base: 200_000,
    count: 65_536,
};

/// `setcap cap_net_raw=ep` on a plain host: v2, effective, bit 13.
fn v2_net_raw() -> Vec<u8> {
    let mut v = (CAP_V2 | CAP_FLAGS_EFFECTIVE).to_le_bytes().to_vec();
    for w in [1u32 << 13, 0, 0, 0] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v
}

fn v3(rootid: u32) -> Vec<u8> {
    let mut v = v2_net_raw();
    v[..4].copy_from_slice(&(CAP_V3 | CAP_FLAGS_EFFECTIVE).to_le_bytes());
    v.extend_from_slice(&rootid.to_le_bytes());
    v
}

#[test]
fn portable_names() {
    for yes in ["user.x", CAP, ACL_ACCESS, ACL_DEFAULT] {
        assert!(portable(yes), "{yes}");
    }
    for no in [
        "trusted.overlay.redirect",
        "trusted.overlay.opaque",
        "trusted.overlay.metacopy",
        "user.overlay.redirect",
        "user.overlay.opaque",
        "user.overlay.metacopy",
        "security.selinux",
        "security.ima",
        "security.evm",
        "system.nfs4_acl",
        "user",
        "",
    ] {
        assert!(!portable(no), "{no}");
    }
}

#[test]
fn a_capability_goes_to_disk_as_v3_of_the_containers_root() {
    let got = from_pax(
        "SCHILY.xattr.security.capability",
        &v2_net_raw(),
        Some(SHIFT),
    );
    assert_eq!(got, Ok(Some((CAP.to_string(), v3(100_000)))));
    // A v3 record of the container's uid 5 (a nested namespace's root).
    let got = from_pax("SCHILY.xattr.security.capability", &v3(5), Some(SHIFT));
    assert_eq!(got, Ok(Some((CAP.to_string(), v3(100_005)))));
    // Without a shift it is written as stored.
    let got = from_pax("SCHILY.xattr.security.capability", &v2_net_raw(), None);
    assert_eq!(got, Ok(Some((CAP.to_string(), v2_net_raw()))));
}

#[test]
fn a_capability_of_a_root_outside_the_map_is_refused() {
    let err = from_pax("SCHILY.xattr.security.capability", &v3(65_536), Some(SHIFT));
    assert!(err.unwrap_err().contains("root id 65536"));
}

#[test]
fn malformed_capabilities_are_refused() {
    for bad in [
        vec![],
        vec![1, 2, 3],
        v2_net_raw()[..19].to_vec(),
        {
            let mut v = v2_net_raw();
            v[..4].copy_from_slice(&0x0400_0000u32.to_le_bytes());
            v
        },
        {
            let mut v = v2_net_raw();
            v[..4].copy_from_slice(&(CAP_V2 | 0x10).to_le_bytes());
            v
        },
    ] {
        let got = from_pax("SCHILY.xattr.security.capability", &bad, Some(SHIFT));
        assert!(got.is_err(), "{bad:?}: {got:?}");
    }
}

#[test]
fn a_capability_comes_back_to_the_archive_as_the_container_saw_it() {
    assert_eq!(
        to_pax(CAP, &v3(100_000), Some(SHIFT)),
        Some(("SCHILY.xattr.security.capability".to_string(), v2_net_raw()))
    );
    assert_eq!(
        to_pax(CAP, &v3(100_007), Some(SHIFT)).map(|p| p.1),
        Some(v3(7))
    );
    // Host root's capability (v2) or another namespace's root: not the container's.
    assert_eq!(to_pax(CAP, &v2_net_raw(), Some(SHIFT)), None);
    assert_eq!(to_pax(CAP, &v3(99_999), Some(SHIFT)), None);
    assert_eq!(to_pax(CAP, &v3(165_536), Some(SHIFT)), None);
    // No namespace: as it is.
    assert_eq!(
        to_pax(CAP, &v2_net_raw(), None).map(|p| p.1),
        Some(v2_net_raw())
    );
}

#[test]
fn capabilities_round_trip() {
    for cap in [v2_net_raw(), v3(3)] {
        let (key, value) = to_pax(
            CAP,
            &from_pax(&format!("SCHILY.xattr.{CAP}"), &cap, Some(SHIFT))
                .unwrap()
                .unwrap()
                .1,
            Some(SHIFT),
        )
        .unwrap();
        assert_eq!(
            (key.as_str(), value),
            ("SCHILY.xattr.security.capability", cap)
        );
    }
}

#[test]
fn a_capability_is_never_moved_to_the_host_root() {
    let identity = Shift {
        uid_base: 0,
        gid_base: 0,
        count: 65536,
    };
    assert_eq!(
        from_pax(
            "SCHILY.xattr.security.capability",
            &v2_net_raw(),
            Some(identity)
        ),
        Err("its file capability would be the host root's".to_string())
    );
}

#[test]
fn to_pax_writes_only_what_vr_carries() {
    for name in [
        "user.overlay.redirect",
        "trusted.overlay.opaque",
        "security.ima",
    ] {
        assert_eq!(to_pax(name, b"y", None), None, "{name}");
    }
    assert!(to_pax("user.x", b"y", None).is_some());
}

#[test]
fn xattrs_vr_does_not_carry_are_dropped() {
    for key in [
        "SCHILY.xattr.trusted.overlay.redirect",
        "SCHILY.xattr.trusted.overlay.opaque",
        "SCHILY.xattr.user.overlay.redirect",
        "SCHILY.xattr.user.overlay.whiteout",
        "SCHILY.xattr.security.selinux",
        "SCHILY.xattr.security.ima",
        "SCHILY.xattr.system.nfs4_acl",
        "path",
        "mtime",
        "SCHILY.acl.ace",
    ] {
        assert_eq!(from_pax(key, b"y", Some(SHIFT)), Ok(None), "{key}");
    }
    assert_eq!(to_pax("trusted.overlay.opaque", b"y", None), None);
    assert_eq!(to_pax("security.selinux", b"x", None), None);
}

#[test]
fn user_xattrs_pass_as_they_are() {
    assert_eq!(
        from_pax("SCHILY.xattr.user.mime_type", b"text/plain", Some(SHIFT)),
        Ok(Some(("user.mime_type".to_string(), b"text/plain".to_vec())))
    );
    assert_eq!(
        to_pax("user.mime_type", b"text/plain", Some(SHIFT)),
        Some((
            "SCHILY.xattr.user.mime_type".to_string(),
            b"text/plain".to_vec()
        ))
    );
}

fn acl_bin(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    Acl(entries.to_vec()).encode()
}

#[test]
fn acl_text_is_shifted_onto_disk() {
    let text = b"user::rw-,user:1000:r--,group::r--,group:50:rw-,mask::rw-,other::---";
    let got = from_pax("SCHILY.acl.access", text, Some(SHIFT))
        .unwrap()
        .unwrap();
    assert_eq!(got.0, ACL_ACCESS);
    assert_eq!(
        got.1,
        acl_bin(&[
            (ACL_USER_OBJ, 6, ACL_UNDEFINED_ID),
            (ACL_USER, 4, 101_000),
            (ACL_GROUP_OBJ, 4, ACL_UNDEFINED_ID),
            (ACL_GROUP, 6, 200_050),
            (ACL_MASK, 6, ACL_UNDEFINED_ID),
            (ACL_OTHER, 0, ACL_UNDEFINED_ID),
        ])
    );
    // And back, as GNU tar writes it.
    assert_eq!(
        to_pax(ACL_ACCESS, &got.1, Some(SHIFT)),
        Some(("SCHILY.acl.access".to_string(), text.to_vec()))
    );
}

#[test]
fn acl_text_as_getfacl_prints_it_is_read() {
    let text = b"user::rwx\nuser:7:r-x\t#effective:r--\ngroup::r-x\nmask::r--\nother::r-x\n";
    let got = from_pax("SCHILY.acl.default", text, None).unwrap().unwrap();
    assert_eq!(got.0, ACL_DEFAULT);
    assert_eq!(
        Acl::parse(&got.1).unwrap().to_text(),
        "user::rwx,user:7:r-x,group::r-x,mask::r--,other::r-x"
    );
}

#[test]
fn acls_naming_ids_outside_the_map_are_refused() {
    let err = from_pax(
        "SCHILY.acl.access",
        b"user::rw-,user:70000:r--,group::r--,mask::r--,other::---",
        Some(SHIFT),
    );
    assert!(err.unwrap_err().contains("user id 70000"));
    let bin = acl_bin(&[(ACL_USER_OBJ, 6, ACL_UNDEFINED_ID), (ACL_GROUP, 4, 65_536)]);
    let err = from_pax("SCHILY.xattr.system.posix_acl_access", &bin, Some(SHIFT));
    assert!(err.unwrap_err().contains("group id 65536"));
}

#[test]
fn acls_naming_users_by_name_are_dropped_and_bad_ones_refused() {
    assert_eq!(
        from_pax(
            "SCHILY.acl.access",
            b"user::rw-,user:app:r--,group::r--,mask::r--,other::---",
            Some(SHIFT)
        ),
        Ok(None)
    );
    for bad in [
        &b""[..],
        b"user::rwq",
        b"user:1:2:3",
        b"wheel::rw-",
        b"user:4294967296:r--",
        b"\xff",
    ] {
        assert!(
            from_pax("SCHILY.acl.access", bad, Some(SHIFT)).is_err(),
            "{bad:?}"
        );
    }
    assert!(from_pax(
        "SCHILY.xattr.system.posix_acl_access",
        &[2, 0, 0, 0, 1],
        None
    )
    .is_err());
    let unknown_tag = acl_bin(&[(0x40, 6, ACL_UNDEFINED_ID)]);
    assert!(from_pax("SCHILY.xattr.system.posix_acl_access", &unknown_tag, None).is_err());
}

#[test]
fn host_acl_ids_outside_the_map_show_as_overflow() {
    let bin = acl_bin(&[(ACL_USER_OBJ, 6, ACL_UNDEFINED_ID), (ACL_USER, 4, 5)]);
    assert_eq!(
        to_pax(ACL_ACCESS, &bin, Some(SHIFT)).map(|p| p.1),
        Some(b"user::rw-,user:65534:r--".to_vec())
    );
}

#[test]
fn read_gives_portable_xattrs_sorted_and_never_follows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    set(&file, "user.b", b"2").unwrap();
    set(&file, "user.a", b"1").unwrap();
    let link = dir.path().join("l");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    assert_eq!(
        read(&file).unwrap(),
        vec![
            ("user.a".to_string(), b"1".to_vec()),
            ("user.b".to_string(), b"2".to_vec())
        ]
    );
    assert_eq!(read(&link).unwrap(), vec![]);
    let f = std::fs::File::open(&file).unwrap();
    fset(&f, "user.c", b"3").unwrap();
    assert_eq!(read(&file).unwrap().len(), 3);
}
