//! vuptest: runs every uptest in FOLDER as `<file> HOST PORT` and prints one JSON array.
use anyhow::{Context, Result};
use clap::Parser;
use std::io::{self, Write};
use std::process::ExitCode;
use vuptest::cli::Cli;
use vuptest::{folder, runner, signals, Process, RunOptions, SystemClock, UptestResult};

/// Exit status: the JSON was printed (whether or not the uptests passed, unless `--fail`).
const EXIT_OK: u8 = 0;
/// Exit status with `--fail` when at least one uptest failed.
const EXIT_FAILED: u8 = 1;
/// Exit status for wrong arguments, an unreadable folder, or an unexpected error.
const EXIT_ERROR: u8 = 2;
/// Exit status after a terminating signal N is 128 + N (130 after SIGINT).
const EXIT_SIGNAL_BASE: u8 = 128;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vuptest: {err:#}");
            ExitCode::from(EXIT_ERROR)
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
        return ExitCode::from(EXIT_OK);
    }
    eprintln!(
        "vuptest: {}; try 'vuptest --help'",
        one_line(&err.render().to_string())
    );
    ExitCode::from(EXIT_ERROR)
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

fn run(cli: Cli) -> Result<ExitCode> {
    let entries = folder::list(&cli.folder)?;
    signals::install().context("cannot install signal handlers")?;
    let opts = RunOptions {
        host: cli.host,
        port: cli.port,
        retry_for: cli.retry_for,
        interval: cli.interval,
    };
    let mut launcher = Process {
        timeout: cli.timeout,
        max_output: cli.max_output,
    };
    let results = match runner::run_all(&entries, &opts, &mut launcher, &mut SystemClock) {
        Ok(results) => results,
        Err(interrupted) => {
            eprintln!("vuptest: {interrupted}");
            let sig = u8::try_from(interrupted.0).unwrap_or(0);
            return Ok(ExitCode::from(EXIT_SIGNAL_BASE.saturating_add(sig)));
        }
    };
    match print_json(&results) {
        Ok(()) => {}
        // A reader that went away (`| head -c0`) is not our failure.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {}
        Err(err) => return Err(err).context("cannot write the results to stdout"),
    }
    let failed = results.iter().any(|r| !r.passed);
    Ok(ExitCode::from(if cli.fail && failed {
        EXIT_FAILED
    } else {
        EXIT_OK
    }))
}

/// Writes the results as one JSON line.
fn print_json(results: &[UptestResult]) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    serde_json::to_writer(&mut out, results)?;
    out.write_all(b"\n")?;
    out.flush()
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
