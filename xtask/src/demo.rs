//! `cargo xtask demo`: the built-in example flow, as far as the tools exist.

use crate::util;
use anyhow::Result;

pub fn run(_args: &[String]) -> Result<()> {
    util::ensure_tools(util::RUNTIME_TOOLS)?;
    let _static_vuptest = util::build_bins(true)?;
    eprintln!("demo: tools built; the example flow is added as the runner and imager land");
    Ok(())
}
