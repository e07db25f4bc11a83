//! vuptest is copied into arbitrary images, so the shipped build must be static: no ELF
//! interpreter (PT_INTERP), and it must run in a busybox rootfs that has no libc at all.
//!
//! The static build is `VR_STATIC_VUPTEST` (set by `cargo xtask test`); when that is not set,
//! these tests build it themselves the same way (crt-static glibc, its own target dir), once.

use crate::{fork_lock, json_line, write_files};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use vr_tests::{has_interp, program_header_types};

/// The static vuptest: `VR_STATIC_VUPTEST`, or built here once.
fn static_vuptest() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("VR_STATIC_VUPTEST") {
                return PathBuf::from(path);
            }
            build_static()
        })
        .clone()
}

/// Builds vuptest like `xtask::util::build_static_vuptest(false)`.
fn build_static() -> PathBuf {
    const TRIPLE: &str = "x86_64-unknown-linux-gnu";
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("static");
    eprintln!(
        "VR_STATIC_VUPTEST not set: building a static vuptest in {}",
        target.display()
    );
    let status = {
        let _lock = fork_lock();
        Command::new(env!("CARGO"))
            .current_dir(&root)
            .args([
                "build", "-p", "vuptest", "--bin", "vuptest", "--target", TRIPLE,
            ])
            .env("CARGO_TARGET_DIR", &target)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .spawn()
            .unwrap()
    }
    .wait()
    .unwrap();
    assert!(status.success(), "static build of vuptest failed: {status}");
    target.join(TRIPLE).join("debug").join("vuptest")
}

#[test]
fn elf_check_sees_the_interpreter_of_a_dynamic_build() {
    // The normal test build links glibc dynamically: the check must notice.
    assert!(has_interp(&crate::exe()));
    assert!(has_interp(Path::new("/bin/sh")));
}

#[test]
fn elf_check_rejects_what_is_not_elf() {
    let cases: &[(&[u8], &str)] = &[
        (b"#!/bin/sh\n", "not an ELF file"),
        (&[0x7f, b'E', b'L', b'F', 1, 1, 0, 0], "not an ELF file"),
    ];
    for (bytes, want) in cases {
        assert_eq!(program_header_types(bytes), Err(want.to_string()));
    }
    let mut elf32 = vec![0u8; 64];
    elf32[..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1]);
    assert_eq!(
        program_header_types(&elf32),
        Err("not a 64-bit little-endian ELF file".to_string())
    );
    let mut cut = fs::read(crate::exe()).unwrap();
    cut.truncate(70);
    assert!(program_header_types(&cut)
        .unwrap_err()
        .ends_with("lies past the end of the file"));
}

#[test]
fn the_static_build_has_no_interpreter() {
    let path = static_vuptest();
    assert!(
        !has_interp(&path),
        "{} has an ELF interpreter: it is not statically linked",
        path.display()
    );
}

#[test]
fn the_static_build_runs_in_a_busybox_chroot_without_libc() {
    if !vr_tests::e2e_ready("vuptest static build in a busybox chroot") {
        return;
    }
    let path = static_vuptest();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    {
        let _lock = fork_lock();
        vr_tests::busybox_rootfs(&root).unwrap();
        fs::copy(&path, root.join("vuptest")).unwrap();
        fs::copy(crate::exe(), root.join("vuptest-dynamic")).unwrap();
    }
    assert!(
        !root.join("lib").exists() && !root.join("lib64").exists(),
        "rootfs has a lib dir"
    );
    write_files(
        &root.join("uptests/web"),
        &[
            (
                "01_alive",
                "#!/bin/sh\necho \"alive $1 $2\"; echo warn >&2\n",
                0o755,
            ),
            ("02_down", "#!/bin/sh\nexit 5\n", 0o755),
            ("03_hang", "#!/bin/sh\necho waiting\nsleep 100\n", 0o755),
        ],
    );
    let out = crate::spawn(
        Command::new("chroot")
            .arg(&root)
            .args([
                "/vuptest",
                "--timeout",
                "1",
                "/uptests/web",
                "localhost",
                "8080",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .wait_with_output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let items = json_line(&out.stdout);
    let got: Vec<_> = items
        .iter()
        .map(|i| json!([i["Name"], i["Output"], i["Passed"], i["TimedOut"]]))
        .collect();
    assert_eq!(
        got,
        [
            json!(["01_alive", "alive localhost 8080\nwarn\n", true, false]),
            json!(["02_down", "exit status 5", false, false]),
            json!([
                "03_hang",
                "waiting\n[vuptest: timed out after 1 second, killed]",
                false,
                true
            ]),
        ]
    );

    // The rootfs really has no libc: the dynamic build cannot start there.
    let dynamic = crate::spawn(
        Command::new("chroot")
            .arg(&root)
            .args(["/vuptest-dynamic", "--version"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .wait_with_output()
    .unwrap();
    assert!(
        !dynamic.status.success(),
        "a dynamic binary ran without libc"
    );
}
