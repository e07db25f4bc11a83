//! vrun: placeholder until its issue lands.
use clap::Parser;

/// vrun (not yet implemented)
#[derive(Parser)]
#[command(version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("vrun is not implemented yet")
}
