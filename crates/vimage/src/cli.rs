//! The command line of `vimage`, shared by the binary and by `cargo xtask dist` (man page and
//! shell completions are generated from it).

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
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
    /// Run the script on a fresh copy of the base image and write <new_image_name>.tar.gz (or
    /// .tar.zst) and <new_image_name>.log in the current directory.
    ///
    /// The log holds the script's output (stdout and stderr, also shown on stderr) and ends with
    /// one line of vimage's: `vimage: build succeeded: wrote NAME.tar.gz (SIZE bytes, md5 MD5,
    /// sha256 SHA256)`, or `vimage: build failed: WHAT` (`the provisioning script exited 3`,
    /// `interrupted by signal 15`, ...). A failed build writes no tarball and puts its log at
    /// <new_image_name>.failed.log, leaving the previous image and its log as they were; a
    /// successful one removes that file.
    Build {
        /// The image.yaml describing the build.
        image_yaml: PathBuf,
        /// Prefix each line of the log with the time since the script started, as
        /// `[   12.345s] ` (the terminal still gets the script's output as it wrote it).
        #[arg(long)]
        timestamps: bool,
        /// What to do when the provisioning script fails.
        #[arg(long, value_enum, value_name = "ACTION", default_value_t = OnError::Abort)]
        on_error: OnError,
        /// How to compress the image; wins over image.yaml's `new_image_format` (gz unless it
        /// says otherwise).
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<Format>,
    },
    /// Open an interactive shell (bash, or sh when the image has none) in the same container a
    /// build would use; nothing is kept.
    Shell {
        /// The image.yaml describing the build.
        image_yaml: PathBuf,
    },
}

/// What `vimage build` does when the provisioning script fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OnError {
    /// Fail: no image, the script's status.
    #[default]
    Abort,
    /// First open an interactive shell in the failed build's container, as the script left
    /// it, when stdin is a terminal; the build then fails as with abort.
    Shell,
}

/// The compression of `vimage build --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// gzip, <new_image_name>.tar.gz.
    Gz,
    /// Zstandard, <new_image_name>.tar.zst.
    Zst,
}

impl From<Format> for vr_proc::ImageFormat {
    fn from(format: Format) -> vr_proc::ImageFormat {
        match format {
            Format::Gz => vr_proc::ImageFormat::Gzip,
            Format::Zst => vr_proc::ImageFormat::Zstd,
        }
    }
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

    #[test]
    fn format_names_are_image_yaml_s() {
        use clap::ValueEnum;
        for format in super::Format::value_variants() {
            let name = format
                .to_possible_value()
                .expect("shown")
                .get_name()
                .to_string();
            let image = vr_proc::ImageFormat::from(*format);
            assert_eq!(name, image.name());
        }
        assert_eq!(
            super::Format::value_variants().len(),
            vr_proc::ImageFormat::ALL.len()
        );
    }
}
