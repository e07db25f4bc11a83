//! `cargo xtask bench run`.

use super::Report;
use anyhow::{bail, Result};

pub fn bench(_report: &mut Report) -> Result<()> {
    bail!("bench run is not written yet")
}
