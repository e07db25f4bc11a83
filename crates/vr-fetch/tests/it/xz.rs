//! xz tarballs whose stream asks for a huge dictionary: liblzma would allocate (and touch, as
//! the output grows) up to 4 GiB for one, as root, from a file of a few hundred KB. Refused
//! before any of it is decoded, as a zstd frame asking for a huge window is.

use crate::support::names;
use std::fs;
use std::io::Write;
use vr_fetch::{unpack, UnpackOptions};

/// A small tar holding one file, as an xz stream of one block.
fn small_tar_xz() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    tar.append_data(&mut h, "f", &b"small"[..]).unwrap();
    let plain = tar.into_inner().unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 0);
    xz.write_all(&plain).unwrap();
    xz.finish().unwrap()
}

/// `xz` with its first block header's LZMA2 dictionary size set to `dict` (the props byte),
/// the header's CRC-32 made right again.
fn with_dictionary(mut xz: Vec<u8>, dict: u8) -> Vec<u8> {
    // Stream header: 12 bytes. Block header: size byte, flags (no sizes, one filter), filter
    // id 0x21 (LZMA2), 1 byte of properties (the dictionary size), padding, CRC-32.
    let size = (usize::from(xz[12]) + 1) * 4;
    assert_eq!(
        &xz[13..16],
        &[0x00, 0x21, 0x01],
        "an unexpected block header"
    );
    xz[16] = dict;
    let mut crc = flate2::Crc::new();
    crc.update(&xz[12..12 + size - 4]);
    xz[12 + size - 4..12 + size].copy_from_slice(&crc.sum().to_le_bytes());
    xz
}

#[test]
fn an_xz_stream_asking_for_a_huge_dictionary_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let parent = work.path().join("p");
    fs::create_dir_all(&parent).unwrap();
    // The patched stream is still a valid one: with a 1 MiB dictionary (18) it unpacks.
    let fine = work.path().join("fine.tar.xz");
    fs::write(&fine, with_dictionary(small_tar_xz(), 18)).unwrap();
    unpack(&fine, &parent.join("fine"), &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(parent.join("fine/f")).unwrap(), b"small");
    fs::remove_dir_all(parent.join("fine")).unwrap();
    // 40: 4 GiB - 1, the largest there is; 36: 1 GiB.
    for dict in [40, 36] {
        let huge = work.path().join(format!("huge-{dict}.tar.xz"));
        fs::write(&huge, with_dictionary(small_tar_xz(), dict)).unwrap();
        let err = unpack(&huge, &parent.join("t"), &UnpackOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot read tarball {}", huge.display())
        );
        let cause = std::error::Error::source(&err).map(|s| s.to_string());
        assert_eq!(
            cause.as_deref(),
            Some(
                "the xz stream needs more than 256 MiB of memory to decode (a dictionary \
                 larger than xz -9's 64 MiB can make it): refused"
            ),
        );
        assert!(names(&parent).is_empty(), "{:?}", names(&parent));
    }
}
