//! vrun: sets up, runs, uptests, opens a shell in and tears down a proc's LXC container.
//! `vrun run` stays in the foreground (a supervisor's child): the proc's exit status is vrun's,
//! and SIGTERM/SIGINT/SIGHUP reach the proc.

mod container;
mod lock;
mod run;
mod setup;
mod uptester;
mod volumes;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use vrun::cli::{Cli, Cmd};

/// Exit statuses of vrun (besides the proc's own, passed through by `run`).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The proc.yaml is locked by another vrun.
    pub const LOCKED: u8 = 1;
    /// Any other failure of vrun itself (usage errors too).
    pub const FAILURE: u8 = 2;
    /// `run` failed before the proc started.
    pub const NOT_STARTED: u8 = 125;
}

/// Why vrun stops, and with which status.
#[derive(Debug)]
pub enum Stop {
    /// The proc.yaml lock is held elsewhere.
    Locked(PathBuf),
    /// A failure, with the status to exit with.
    Failed(u8, anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(err: anyhow::Error) -> Stop {
        Stop::Failed(exit::FAILURE, err)
    }
}

fn run(cli: Cli) -> Result<ExitCode, Stop> {
    match cli.command {
        Cmd::Setup { proc_yaml } => setup::setup(&proc_yaml),
        Cmd::Run { proc_yaml } => run::run(&proc_yaml),
        Cmd::Uptest { proc_yaml, flags } => run::uptest(&proc_yaml, &flags.to_args()),
        Cmd::Teardown { proc_yaml } => setup::teardown(&proc_yaml),
        Cmd::Shell { proc_yaml } => run::shell(&proc_yaml),
    }
}

/// The commands, for usage errors.
const COMMANDS: &str = "setup, run, uptest, teardown, shell";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            let usage = matches!(
                err.kind(),
                ErrorKind::InvalidSubcommand
                    | ErrorKind::MissingSubcommand
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            let _ = err.print();
            if usage {
                eprintln!("\nvrun commands: {COMMANDS}");
            }
            return ExitCode::from(if err.use_stderr() {
                exit::FAILURE
            } else {
                exit::OK
            });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(Stop::Locked(file)) => {
            eprintln!("ERROR: {} is locked by another process.", file.display());
            ExitCode::from(exit::LOCKED)
        }
        Err(Stop::Failed(code, err)) => {
            eprintln!("vrun: {err:#}");
            ExitCode::from(code)
        }
    }
}
