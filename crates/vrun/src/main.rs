//! vrun: sets up, runs, uptests, opens a shell in and tears down a proc's LXC container.
//! `vrun run` stays in the foreground (a supervisor's child): the proc's exit status is vrun's,
//! and SIGTERM/SIGINT/SIGHUP reach the proc. Thin: parses the command line, calls the library.

use clap::Parser;
use std::process::ExitCode;
use vrun::cli::{Cli, Cmd};
use vrun::{doctor, gc, run, setup, Exit, Failure};

fn verb(cli: Cli) -> Result<Exit, Failure> {
    match cli.command {
        Cmd::Setup { proc_yaml } => setup::setup(&proc_yaml),
        Cmd::Run { proc_yaml } => run::run(&proc_yaml),
        Cmd::Uptest { proc_yaml, flags } => run::uptest(&proc_yaml, &flags),
        Cmd::Teardown { proc_yaml } => setup::teardown(&proc_yaml),
        Cmd::Shell { proc_yaml } => run::shell(&proc_yaml),
        Cmd::Gc { dry_run } => gc::run(dry_run),
        Cmd::Doctor => doctor::run(),
    }
}

/// The commands, for usage errors.
const COMMANDS: &str = "setup, run, uptest, teardown, shell, gc, doctor";

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
            return if err.use_stderr() {
                Exit::Error
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    match verb(cli) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("{failure}");
            failure.exit().into()
        }
    }
}
