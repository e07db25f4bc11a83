//! `cargo xtask bench uptest`.

use super::Report;
use anyhow::{bail, Result};

pub fn bench(_report: &mut Report) -> Result<()> {
    bail!("bench uptest is not written yet")
}
