//! vuptest: runs every uptest in FOLDER as `<file> HOST PORT` and prints one JSON array.
use anyhow::{Context, Result};
use clap::Parser;
use std::io;
use std::process::ExitCode;
use vr_stop::{Exit, Stop};
use vuptest::cli::Cli;
use vuptest::runner::{self, RunError};
use vuptest::{folder, reaper, JsonArray, Process, Reaper, RunOptions, SystemClock};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("vuptest: {err:#}");
            Exit::Error.into()
        }
    }
}

/// `--help`/`--version` go to stdout with status 0; any other argument error becomes one line
/// on stderr and status 2.
fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return Exit::Ok.into();
    }
    eprintln!(
        "vuptest: {}; try 'vuptest --help'",
        one_line(&err.render().to_string())
    );
    Exit::Error.into()
}

/// Clap's multi-line error as one line, without the usage and the "error:" prefix.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(" ")
}

const WRITE_ERROR: &str = "cannot write the results to stdout";

fn run(cli: Cli) -> Result<Exit> {
    let entries = folder::list(&cli.folder)?;
    let stop = Stop::install().context("cannot install signal handlers")?;
    if let Err(err) = reaper::become_subreaper() {
        // Still kills the uptests' groups and what stays below vuptest; only orphans escape.
        eprintln!("vuptest: warning: cannot become a child subreaper ({err}): processes that leave an uptest's process group and lose their parent may survive it");
    }
    let opts = RunOptions {
        host: cli.host,
        port: cli.port,
        retry_for: cli.retry_for,
        interval: cli.interval,
        max_output: cli.max_output,
        max_total_output: cli.max_total_output,
    };
    let mut launcher = Process {
        timeout: cli.timeout,
        stop,
        // Made before the first uptest starts: whatever is already below vuptest is spared.
        reaper: Some(Reaper::for_this_process()),
    };
    let mut out = JsonArray::start(io::BufWriter::new(io::stdout().lock())).context(WRITE_ERROR)?;
    let ran = runner::run_all(
        &entries,
        &opts,
        &mut launcher,
        &mut SystemClock,
        &mut |result| out.push(result),
    );
    let exit = match ran {
        Ok(summary) if cli.fail && summary.failed > 0 => Exit::Failed,
        Ok(_) => Exit::Ok,
        // Still closed below: stdout stays one JSON array, of the uptests that finished.
        Err(RunError::Interrupted(interrupted)) => {
            eprintln!("vuptest: {interrupted}");
            interrupted.exit()
        }
        Err(RunError::Write(err)) => return Err(err).context(WRITE_ERROR),
    };
    match out.finish() {
        Ok(_) => Ok(exit),
        // After a signal, its status says more than the failed write.
        Err(err) if matches!(exit, Exit::Signal(_)) => {
            eprintln!("vuptest: {WRITE_ERROR}: {err}");
            Ok(exit)
        }
        Err(err) => Err(err).context(WRITE_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_one_line() {
        let text = "error: the following required arguments were not provided:\n  <HOST>\n  <PORT>\n\nUsage: vuptest <FOLDER> <HOST> <PORT>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(text),
            "the following required arguments were not provided: <HOST> <PORT>"
        );
    }
}
