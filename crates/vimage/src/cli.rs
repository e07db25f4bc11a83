//! The command line of `vimage`, shared by the binary and by `cargo xtask dist` (man page and
//! shell completions are generated from it).

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

/// Build OS image tarballs from a base image and a provisioning script, in an LXC container.
///
/// The base image (`base_image_url`, md5-checked) is cached under $VR_ROOT/images (default
/// /apps/images) and unpacked once; every build starts from a fresh overlay over it. Needs root
/// and LXC.
#[derive(Parser, Debug)]
#[command(name = "vimage", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs of vimage.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the script on a fresh copy of the base image and write <new_image_name>.tar.gz and
    /// <new_image_name>.log in the current directory.
    Build {
        /// The image.yaml describing the build.
        image_yaml: PathBuf,
    },
    /// Open an interactive shell (bash, or sh when the image has none) in the same container a
    /// build would use; nothing is kept.
    Shell {
        /// The image.yaml describing the build.
        image_yaml: PathBuf,
    },
}

/// The clap command of `vimage` (for man pages and completions).
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
