//! vuptest: placeholder until its issue lands.
use clap::Parser;

/// vuptest (not yet implemented)
#[derive(Parser)]
#[command(version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("vuptest is not implemented yet")
}
