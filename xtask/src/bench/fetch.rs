//! `cargo xtask bench fetch`.

use super::Report;
use anyhow::{bail, Result};

pub fn bench(_report: &mut Report) -> Result<()> {
    bail!("bench fetch is not written yet")
}
