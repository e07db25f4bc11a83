//! vimage: build OS image tarballs (`vimage build IMAGE.yaml`) and debug them
//! (`vimage shell IMAGE.yaml`). Thin: parses arguments, calls the library, prints, exits.

use anyhow::Context;
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use vimage::build::{self, BuildError, Report};
use vimage::cli::{Cli, Command};
use vr_proc::{ImageConfig, Layout};

/// Exit status: success.
const EXIT_OK: u8 = 0;
/// Exit status: usage error or a failure of vimage itself (a failed script passes its own).
const EXIT_ERROR: u8 = 2;

struct Stderr {
    progress: vr_fetch::TerminalProgress,
}

impl Report for Stderr {
    fn step(&self, line: &str) {
        eprintln!("vimage: {line}");
    }
    fn progress(&self) -> &dyn vr_fetch::Progress {
        &self.progress
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let code = err
                .downcast_ref::<BuildError>()
                .map(|e| e.exit_code())
                .unwrap_or(EXIT_ERROR.into());
            eprintln!("vimage: {err:#}");
            ExitCode::from(code as u8)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let layout = Layout::from_env(std::env::var_os("VR_ROOT"));
    let report = Stderr {
        progress: vr_fetch::TerminalProgress::new(),
    };
    // Ctrl-C or SIGTERM while the base image downloads or unpacks: stop and remove its temp
    // data (later steps block the signals and clean up themselves, see vimage::signals).
    vr_fetch::interrupt::install().context("cannot install signal handlers")?;
    match cli.command {
        Command::Build { image_yaml } => {
            let cfg = ImageConfig::load(&image_yaml)?;
            vimage::ns::private_mount_namespace()?;
            let out_dir = std::env::current_dir().context("cannot read the current directory")?;
            let built = build::build(&cfg, &layout, &out_dir, &report)?;
            let name = built
                .packed
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            eprintln!(
                "vimage: wrote {} ({} bytes, md5 {}) and {}",
                name,
                built.packed.size,
                built.packed.md5,
                built.log.display()
            );
            if let Some(want) = &built.md5_mismatch {
                eprintln!(
                    "vimage: warning: new_image_md5 is {want} but the image's md5 is {}",
                    built.packed.md5
                );
            }
            // The one line of data: md5, size, file, as md5sum-like tools print it.
            let _ = writeln!(
                std::io::stdout(),
                "{}  {}  {}",
                built.packed.md5,
                built.packed.size,
                built.packed.path.display()
            );
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Shell { image_yaml } => {
            let cfg = ImageConfig::load(&image_yaml)?;
            vimage::ns::private_mount_namespace()?;
            let outcome = build::shell(&cfg, &layout, &report)?;
            Ok(ExitCode::from(outcome.code().clamp(0, 255) as u8))
        }
    }
}
