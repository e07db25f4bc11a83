//! The command line of `vrun`, shared by the binary and by `cargo xtask dist` (man page and
//! shell completions are generated from it).

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

/// Set up, run, uptest, open a shell in, or tear down a proc's LXC container.
///
/// The host layout lives under $VR_ROOT (default /apps).
#[derive(Parser, Debug)]
#[command(name = "vrun", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

/// The verbs of vrun.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Fetch the image and build, write the proc's files and LXC config.
    Setup {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
    /// Run the proc in the foreground; exits with the proc's status.
    Run {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
    /// Run the proc's uptests in a container like the proc's; prints their JSON.
    Uptest {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
    /// Remove the proc's folder.
    Teardown {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
    /// An interactive shell in a container like the proc's.
    Shell {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
}

/// The clap command of `vrun` (for man pages and completions).
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        super::command().debug_assert();
    }
}
