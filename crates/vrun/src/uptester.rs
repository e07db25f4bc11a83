//! Finding a vuptest that can run inside any image: a statically linked one (no ELF
//! interpreter), looked for next to vrun, then on PATH, then at `$VR_UPTESTER`.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// PT_INTERP: the program header of a dynamically linked executable.
const PT_INTERP: u32 = 3;

/// Why an ELF file cannot run in an arbitrary image, or None when it can.
pub fn static_problem(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Some("not an ELF executable");
    }
    let little = match bytes[5] {
        1 => true,
        2 => false,
        _ => return Some("not an ELF executable"),
    };
    let u16_at = |o: usize| -> Option<u64> {
        let b: [u8; 2] = bytes.get(o..o + 2)?.try_into().ok()?;
        Some(u64::from(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }))
    };
    let u32_at = |o: usize| -> Option<u64> {
        let b: [u8; 4] = bytes.get(o..o + 4)?.try_into().ok()?;
        Some(u64::from(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }))
    };
    let u64_at = |o: usize| -> Option<u64> {
        let b: [u8; 8] = bytes.get(o..o + 8)?.try_into().ok()?;
        Some(if little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    };
    let headers = match bytes[4] {
        // ELF64: e_phoff at 32, e_phentsize at 54, e_phnum at 56
        2 => (u64_at(32), u16_at(54), u16_at(56)),
        // ELF32: e_phoff at 28, e_phentsize at 42, e_phnum at 44
        1 => (u32_at(28), u16_at(42), u16_at(44)),
        _ => return Some("not an ELF executable"),
    };
    let (Some(phoff), Some(entsize), Some(count)) = headers else {
        return Some("a truncated ELF file");
    };
    for i in 0..count {
        let Some(off) = usize::try_from(phoff + i * entsize).ok() else {
            return Some("a truncated ELF file");
        };
        match u32_at(off) {
            Some(t) if t == u64::from(PT_INTERP) => {
                return Some("dynamically linked (it has an ELF interpreter)")
            }
            Some(_) => {}
            None => return Some("a truncated ELF file"),
        }
    }
    None
}

/// The candidates in order: beside `exe`, each PATH folder, then `env_value`.
pub fn candidates(
    exe: Option<&Path>,
    path: Option<&std::ffi::OsStr>,
    env_value: Option<&std::ffi::OsStr>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = exe.and_then(Path::parent) {
        out.push(dir.join("vuptest"));
    }
    if let Some(path) = path {
        out.extend(std::env::split_paths(path).map(|d| d.join("vuptest")));
    }
    if let Some(v) = env_value.filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(v));
    }
    out
}

/// The first usable candidate, or an error that lists where it looked and why each failed.
pub fn choose(
    candidates: &[PathBuf],
    read: impl Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<PathBuf> {
    let mut tried = Vec::new();
    for c in candidates {
        let why = match read(c) {
            Ok(bytes) => match static_problem(&bytes) {
                None => return Ok(c.clone()),
                Some(why) => why.to_string(),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "not found".to_string(),
            Err(e) => e.to_string(),
        };
        tried.push(format!("{}: {why}", c.display()));
    }
    bail!(
        "no statically linked vuptest found (looked next to vrun, on PATH, then at $VR_UPTESTER): {}",
        tried.join("; ")
    )
}

/// Finds vuptest for this process.
pub fn find() -> Result<PathBuf> {
    let exe = std::env::current_exe().ok();
    let path = std::env::var_os("PATH");
    let env_value = std::env::var_os("VR_UPTESTER");
    let list = candidates(exe.as_deref(), path.as_deref(), env_value.as_deref());
    choose(&list, |p| std::fs::read(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf64(headers: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56 * headers.len()];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        for (i, t) in headers.iter().enumerate() {
            let o = 64 + 56 * i;
            b[o..o + 4].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    #[test]
    fn elf_checks() {
        let cases: [(&str, Vec<u8>, Option<&str>); 4] = [
            ("static", elf64(&[6, 1, 1]), None),
            (
                "dynamic",
                elf64(&[6, 3, 1]),
                Some("dynamically linked (it has an ELF interpreter)"),
            ),
            (
                "script",
                b"#!/bin/sh\necho hi\n".to_vec(),
                Some("not an ELF executable"),
            ),
            (
                "truncated",
                elf64(&[1, 1])[..100].to_vec(),
                Some("a truncated ELF file"),
            ),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(static_problem(&bytes), want, "{name}");
        }
    }

    #[test]
    fn real_binaries() {
        // This test binary is dynamically linked.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(
            static_problem(&me),
            Some("dynamically linked (it has an ELF interpreter)")
        );
    }

    #[test]
    fn order_and_error() {
        let list = candidates(
            Some(Path::new("/opt/vr/bin/vrun")),
            Some(std::ffi::OsStr::new("/usr/bin:/bin")),
            Some(std::ffi::OsStr::new("/x/vuptest")),
        );
        assert_eq!(
            list,
            [
                "/opt/vr/bin/vuptest",
                "/usr/bin/vuptest",
                "/bin/vuptest",
                "/x/vuptest"
            ]
            .map(PathBuf::from)
        );
        let pick = choose(&list, |p| match p.to_str() {
            Some("/usr/bin/vuptest") => Ok(elf64(&[3])),
            Some("/x/vuptest") => Ok(elf64(&[1])),
            _ => Err(std::io::ErrorKind::NotFound.into()),
        })
        .unwrap();
        assert_eq!(pick, PathBuf::from("/x/vuptest"));
        let err = choose(&list[..3], |p| match p.to_str() {
            Some("/usr/bin/vuptest") => Ok(elf64(&[3])),
            _ => Err(std::io::ErrorKind::NotFound.into()),
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no statically linked vuptest found (looked next to vrun, on PATH, then at $VR_UPTESTER): \
             /opt/vr/bin/vuptest: not found; /usr/bin/vuptest: dynamically linked (it has an ELF interpreter); \
             /bin/vuptest: not found"
        );
    }
}
