//! `cargo xtask bench image`.

use super::Report;
use anyhow::{bail, Result};

pub fn bench(_report: &mut Report) -> Result<()> {
    bail!("bench image is not written yet")
}
