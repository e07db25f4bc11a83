//! `cargo xtask test`: installs what the tests need, builds every binary (and a static
//! vuptest), builds the packages (`dist`, for the package tests), runs the demo (recording the
//! commands it runs, for the docs test), then runs every test of the workspace. Extra arguments
//! go to `cargo test`.

use crate::util;
use anyhow::{Context, Result};

/// Where the tests list the e2e tests they skipped (see `vr_tests::e2e_ready`).
const SKIP_LOG: &str = "xtask-skipped-tests.log";

pub fn run(args: &[String]) -> Result<()> {
    util::ensure_tools(util::RUNTIME_TOOLS)?;
    util::ensure_subids()?;
    let static_vuptest = util::build_bins(false)?;
    crate::dist::run(&[])?;
    // The demo first, recording the commands it runs: the docs test checks the docs' commands
    // against that record, so a command counts as run only when it was.
    let record = util::target_dir().join("demo-commands.txt");
    remove_if_there(&record)?;
    std::env::set_var(crate::demo::RECORD_ENV, &record);
    crate::demo::run(&[])?;
    let skip_log = util::target_dir().join(SKIP_LOG);
    remove_if_there(&skip_log)?;
    let mut cargo = util::cargo();
    cargo
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(args)
        .env("VR_UPTESTER", &static_vuptest)
        .env("VR_STATIC_VUPTEST", &static_vuptest)
        .env("VR_DIST_DIR", crate::dist::dist_dir())
        .env("VR_SKIP_LOG", &skip_log);
    let result = util::run(&mut cargo);
    report_skipped(&skip_log);
    result
}

fn remove_if_there(path: &std::path::Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Prints the e2e tests that skipped (shown as `ok` by libtest) after the run's summary.
fn report_skipped(log: &std::path::Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let skipped: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    if skipped.is_empty() {
        eprintln!("xtask: test: no end-to-end test was skipped");
        return;
    }
    eprintln!(
        "xtask: test: {} end-to-end test(s) SKIPPED, shown as `ok` above (VR_REQUIRE_E2E=1 makes them fail):",
        skipped.len()
    );
    for why in skipped {
        eprintln!("xtask: test:   SKIPPED: {why}");
    }
}
