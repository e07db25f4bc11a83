//! vimage: placeholder until its issue lands.
use clap::Parser;

/// vimage (not yet implemented)
#[derive(Parser)]
#[command(version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("vimage is not implemented yet")
}
