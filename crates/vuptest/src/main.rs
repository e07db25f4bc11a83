//! vuptest: runs every uptest in FOLDER as `<file> HOST PORT` and prints one JSON array.
use anyhow::{Context, Result};
use clap::Parser;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use vuptest::{folder, runner, signals, tail, Process, RunOptions, SystemClock, UptestResult};

/// Exit status: the JSON was printed (whether or not the uptests passed, unless `--fail`).
const EXIT_OK: u8 = 0;
/// Exit status with `--fail` when at least one uptest failed.
const EXIT_FAILED: u8 = 1;
/// Exit status for wrong arguments, an unreadable folder, or an unexpected error.
const EXIT_ERROR: u8 = 2;
/// Exit status after a terminating signal N is 128 + N (130 after SIGINT).
const EXIT_SIGNAL_BASE: u8 = 128;

/// Run a proc's uptests and print the results as one JSON array.
///
/// Runs each entry of FOLDER whose name does not start with '.', in byte-wise name order, one
/// at a time, as `<file> HOST PORT`, capturing stdout and stderr together. Prints exactly one
/// line on stdout: a JSON array of {"Name", "Output", "Passed", "DurationMs", "ExitCode",
/// "TimedOut", "Truncated", "Attempts"} ([] for an empty FOLDER). Each uptest runs in its own
/// process group; when it ends (or times out), anything left in that group is killed.
///
/// Exit status: 0 when the JSON was printed, even if uptests failed (1 instead with --fail);
/// 2 for wrong arguments or an unreadable FOLDER (one line on stderr, nothing on stdout);
/// 128+N after signal N.
#[derive(Debug, Parser)]
#[command(name = "vuptest", version, about, long_about)]
struct Cli {
    /// Folder of uptests
    folder: PathBuf,
    /// Host the uptests should connect to (their first argument)
    host: OsString,
    /// Port the uptests should connect to (their second argument)
    port: OsString,
    /// Kill an uptest (and every process it started) after this many seconds
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = positive_seconds)]
    timeout: Duration,
    /// Exit with status 1 when any uptest failed (the JSON is printed all the same)
    #[arg(long)]
    fail: bool,
    /// Readiness mode: rerun the failing uptests every --interval until all pass or this many
    /// seconds have passed; each result is the last attempt
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    retry_for: Option<Duration>,
    /// Pause between reruns with --retry-for
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = positive_seconds, requires = "retry_for")]
    interval: Duration,
    /// Keep at most this many bytes of each uptest's output (the end of it)
    #[arg(long, value_name = "BYTES", default_value_t = tail::DEFAULT_CAP)]
    max_output: usize,
}

/// Seconds as a decimal number (`60`, `0.5`), zero allowed.
fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is not a number of seconds"))
}

/// Seconds, more than zero.
fn positive_seconds(text: &str) -> Result<Duration, String> {
    let d = seconds(text)?;
    if d.is_zero() {
        return Err(format!("`{text}` must be more than 0 seconds"));
    }
    Ok(d)
}

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
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_before_or_after_positionals() {
        let argvs: &[&[&str]] = &[
            &["vuptest", "--timeout", "5", "--fail", "dir", "h", "80"],
            &["vuptest", "dir", "h", "80", "--fail", "--timeout=5"],
            &["vuptest", "dir", "--fail", "h", "--timeout", "5", "80"],
        ];
        for argv in argvs {
            let cli = Cli::try_parse_from(*argv).unwrap();
            assert_eq!(cli.folder, PathBuf::from("dir"));
            assert_eq!(
                (cli.host.as_os_str(), cli.port.as_os_str()),
                ("h".as_ref(), "80".as_ref())
            );
            assert!(cli.fail);
            assert_eq!(cli.timeout, Duration::from_secs(5));
            assert_eq!(cli.retry_for, None);
        }
    }

    #[test]
    fn defaults() {
        let cli = Cli::try_parse_from(["vuptest", "d", "h", "1"]).unwrap();
        assert_eq!(cli.timeout, Duration::from_secs(60));
        assert_eq!(cli.interval, Duration::from_secs(1));
        assert_eq!(cli.max_output, 1 << 20);
        assert!(!cli.fail);
    }

    #[test]
    fn seconds_are_checked() {
        // (text, seconds, positive_seconds)
        type Case = (
            &'static str,
            Result<f64, &'static str>,
            Result<f64, &'static str>,
        );
        let cases: &[Case] = &[
            ("60", Ok(60.0), Ok(60.0)),
            ("0.25", Ok(0.25), Ok(0.25)),
            ("0", Ok(0.0), Err("`0` must be more than 0 seconds")),
            (
                "-1",
                Err("`-1` is not a number of seconds"),
                Err("`-1` is not a number of seconds"),
            ),
            (
                "x",
                Err("`x` is not a number of seconds"),
                Err("`x` is not a number of seconds"),
            ),
            (
                "inf",
                Err("`inf` is not a number of seconds"),
                Err("`inf` is not a number of seconds"),
            ),
        ];
        let conv = |r: Result<Duration, String>| r.map(|d| d.as_secs_f64());
        for (text, want, want_pos) in cases {
            assert_eq!(conv(seconds(text)), want.map_err(String::from), "{text}");
            assert_eq!(
                conv(positive_seconds(text)),
                want_pos.map_err(String::from),
                "{text}"
            );
        }
    }

    #[test]
    fn interval_needs_retry_for() {
        let err = Cli::try_parse_from(["vuptest", "d", "h", "1", "--interval", "2"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let cli = Cli::try_parse_from([
            "vuptest",
            "d",
            "h",
            "1",
            "--interval",
            "2",
            "--retry-for",
            "9",
        ])
        .unwrap();
        assert_eq!(cli.retry_for, Some(Duration::from_secs(9)));
        assert_eq!(cli.interval, Duration::from_secs(2));
    }

    #[test]
    fn clap_errors_become_one_line() {
        let text = "error: the following required arguments were not provided:\n  <HOST>\n  <PORT>\n\nUsage: vuptest <FOLDER> <HOST> <PORT>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(text),
            "the following required arguments were not provided: <HOST> <PORT>"
        );
    }
}
