//! vr-tests: helpers shared by every crate's tests, and the cross-tool end-to-end tests.
//!
//! - [`e2e_ready`]: the gate for tests that need root and LXC (loud SKIP, or a failure when
//!   `VR_REQUIRE_E2E=1`); [`tools_ready`]: the same for other tools on PATH; [`root_ready`]:
//!   for root alone.
//! - [`busybox_rootfs`] / [`busybox_image`]: a tiny OS image made at test time from
//!   busybox-static.
//! - [`HttpServer`]: a local HTTP server over a folder that counts requests, answers conditional
//!   GETs and can misbehave on purpose (status codes, bodies cut short, dripping, endless or
//!   lying bodies, bad redirects, malformed responses, basic auth).
//! - [`bin`]: the path of a workspace binary (built by `cargo xtask test` before the tests run);
//!   [`static_vuptest`]: the static vuptest.
//! - [`ok`], [`stdout`], [`stderr`], [`wait_for`], [`with_stdin`], [`free_port`]: running
//!   processes; [`nothing_left`]: a container left no process, mount or cgroup behind;
//!   [`Terminal`]: a program on a pseudo-terminal of its own.
//! - [`has_interp`] / [`program_header_types`]: is an executable statically linked?
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod elf;
mod http;
mod image;
mod probe;
mod proc;
mod tty;
pub use probe::{probe_binary, PROBE_C};
pub use tty::Terminal;

pub use elf::{has_interp, program_header_types, PT_INTERP};
pub use http::{HttpServer, AUTH_PASSWORD, AUTH_USER, BAD_KINDS};
pub use image::{
    busybox_image, busybox_rootfs, debian_base, md5_file, shift_tree, tar_gz, DEBIAN_CACHE,
};
pub use proc::{
    free_port, has_entry_ending, names, nothing_left, ok, pids_of, running, static_vuptest, stderr,
    stdout, until, wait_for, with_inherited_dir, with_stdin,
};

use std::path::PathBuf;

/// True when this process may run tests that need root and LXC. Otherwise prints a loud SKIP
/// line naming `test` and returns false, or panics when `VR_REQUIRE_E2E=1`.
pub fn e2e_ready(test: &str) -> bool {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root".to_string());
    }
    for tool in ["lxc-execute", "lxc-start", "busybox"] {
        if which(tool).is_none() {
            missing.push(format!("`{tool}` on PATH"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!("{test} needs {}", missing.join(", "));
    skip(&why)
}

/// True when this process is root (for tests that chown, mknod or write root-only xattrs).
/// Otherwise prints a loud SKIP line naming `test` and returns false, or panics when
/// `VR_REQUIRE_E2E=1`.
pub fn root_ready(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let why = format!("{test} needs root");
    skip(&why)
}

/// True when every tool in `tools` is on PATH. Otherwise prints a loud SKIP line naming `test`
/// and the missing tools and returns false, or panics when `VR_REQUIRE_E2E=1`.
pub fn tools_ready(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("{test} needs {} on PATH", missing.join(", "));
    skip(&why)
}

/// A test that cannot run here: a loud SKIP line saying `why`, recorded for `cargo xtask
/// test` to list, and false; or a panic when `VR_REQUIRE_E2E=1`.
fn skip(why: &str) -> bool {
    if std::env::var("VR_REQUIRE_E2E").as_deref() == Ok("1") {
        panic!("VR_REQUIRE_E2E=1 but {why}");
    }
    eprintln!(
        "\n========== SKIP: {why} (set VR_REQUIRE_E2E=1 to make this a failure) ==========\n"
    );
    record_skip(why);
    false
}

/// The environment variable naming the file where skipped e2e tests are listed, one per line
/// (`cargo xtask test` sets it and prints the list after the run: libtest shows a skipped test
/// as `ok`, its SKIP line hidden in the captured output).
pub const SKIP_LOG_ENV: &str = "VR_SKIP_LOG";

fn record_skip(why: &str) {
    use std::io::Write;
    let Some(path) = std::env::var_os(SKIP_LOG_ENV) else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{why}");
    }
}

/// Finds `tool` on PATH.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Path of a binary of this workspace in the same target profile folder as the running test
/// (e.g. `target/debug/vrun`). `cargo xtask test` builds all binaries before running tests.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test-binary>
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first (cargo build --bins, done by `cargo xtask test`)",
        path.display()
    );
    path
}
