//! vimage: build OS image tarballs (`vimage build IMAGE.yaml`) and debug them
//! (`vimage shell IMAGE.yaml`). Thin: parses arguments, calls the library, prints, exits.

use anyhow::Context;
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use vimage::build::{self, BuildError, Report};
use vimage::cli::{Cli, Command, OnError};
use vr_proc::{ImageConfig, Layout};
use vr_stop::{Exit, Stop};

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
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("vimage: {err:#}");
            err.downcast_ref::<BuildError>()
                .map_or(Exit::Error, BuildError::exit)
                .into()
        }
    }
}

/// Loads the image.yaml, saying which unknown keys look like typos.
fn load(image_yaml: &std::path::Path) -> anyhow::Result<ImageConfig> {
    let cfg = ImageConfig::load(image_yaml)?;
    for warning in &cfg.warnings {
        eprintln!("vimage: warning: {warning}");
    }
    Ok(cfg)
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    let layout = Layout::from_env(std::env::var_os("VR_ROOT"));
    let report = Stderr {
        progress: vr_fetch::TerminalProgress::new(),
    };
    // SIGINT, SIGTERM and SIGHUP from now on only set the stop flag: every step looks at it,
    // stops, cleans up and ends with 128+N (a second signal kills vimage at once).
    let stop = Stop::install().context("cannot install signal handlers")?;
    match cli.command {
        Command::Build {
            image_yaml,
            timestamps,
            on_error,
            format,
        } => {
            let cfg = load(&image_yaml)?;
            vimage::ns::private_mount_namespace()?;
            let out_dir = std::env::current_dir().context("cannot read the current directory")?;
            let built = build::build(
                &cfg,
                &layout,
                &out_dir,
                &build::BuildOptions {
                    timestamps,
                    shell_on_error: on_error == OnError::Shell,
                    format: format.map(Into::into),
                },
                &report,
                stop,
            )?;
            let name = built
                .packed
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            eprintln!(
                "vimage: wrote {name} ({} bytes, md5 {}, sha256 {}) with {name}.md5 and {name}.sha256, and {}",
                built.packed.size,
                built.packed.md5,
                built.packed.sha256,
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
            Ok(Exit::Ok)
        }
        Command::Shell { image_yaml } => {
            let cfg = load(&image_yaml)?;
            vimage::ns::private_mount_namespace()?;
            let outcome = build::shell(&cfg, &layout, &report, stop)?;
            Ok(Exit::Status(outcome.code()))
        }
    }
}
