//! `cargo xtask test`: installs what the tests need, builds every binary (and a static
//! vuptest), builds the packages (`dist`, for the package tests), then runs every test of the
//! workspace. Extra arguments go to `cargo test`.

use crate::util;
use anyhow::Result;

pub fn run(args: &[String]) -> Result<()> {
    util::ensure_tools(util::RUNTIME_TOOLS)?;
    util::ensure_subids()?;
    let static_vuptest = util::build_bins(false)?;
    crate::dist::run(&[])?;
    let mut cargo = util::cargo();
    cargo
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(args)
        .env("VR_UPTESTER", &static_vuptest)
        .env("VR_STATIC_VUPTEST", &static_vuptest)
        .env("VR_DIST_DIR", crate::dist::dist_dir());
    util::run(&mut cargo)
}
