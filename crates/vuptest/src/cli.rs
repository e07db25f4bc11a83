//! The command line of `vuptest`, shared by the binary and by `cargo xtask dist` (man page and
//! shell completions are generated from it).

use crate::tail;
use clap::{CommandFactory, Parser};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Run a proc's uptests and print the results as one JSON array.
///
/// Runs each entry of FOLDER whose name does not start with '.', in byte-wise name order, one
/// at a time, as `<file> HOST PORT`, capturing stdout and stderr together. Prints exactly one
/// line on stdout: a JSON array of {"Name", "Output", "Passed", "DurationMs", "ExitCode",
/// "TimedOut", "Truncated", "Attempts"} ([] for an empty FOLDER), each element written as soon
/// as its uptest is done. When an uptest ends (or times out), every process it started is
/// killed, including those that left its process group (setsid, daemons).
///
/// Exit status: 0 when the JSON was printed, even if uptests failed (1 instead with --fail);
/// 2 for wrong arguments or an unreadable FOLDER (one line on stderr, nothing on stdout);
/// 128+N after signal N (the array then holds the uptests that finished before it).
#[derive(Debug, Parser)]
#[command(name = "vuptest", version, about, long_about)]
pub struct Cli {
    /// Folder of uptests
    pub folder: PathBuf,
    /// Host the uptests should connect to (their first argument)
    pub host: OsString,
    /// Port the uptests should connect to (their second argument)
    pub port: OsString,
    /// Kill an uptest (and every process it started) after this many seconds
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = positive_seconds)]
    pub timeout: Duration,
    /// Exit with status 1 when any uptest failed (the JSON is printed all the same)
    #[arg(long)]
    pub fail: bool,
    /// Readiness mode: rerun a failing uptest every --interval until it passes or this many
    /// seconds (from the start) have passed, then go on to the next; each result is the last
    /// attempt
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub retry_for: Option<Duration>,
    /// Pause between reruns with --retry-for
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = positive_seconds, requires = "retry_for")]
    pub interval: Duration,
    /// Keep at most this many bytes of each uptest's output (the end of it)
    #[arg(long, value_name = "BYTES", default_value_t = tail::DEFAULT_CAP)]
    pub max_output: usize,
    /// Keep at most this many bytes of output for all uptests together; once they are used
    /// up, later outputs are cut too
    #[arg(long, value_name = "BYTES", default_value_t = tail::DEFAULT_TOTAL_CAP)]
    pub max_total_output: usize,
}

/// Seconds as a decimal number (`60`, `0.5`), zero allowed.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is not a number of seconds"))
}

/// Seconds, more than zero.
pub fn positive_seconds(text: &str) -> Result<Duration, String> {
    let d = seconds(text)?;
    if d.is_zero() {
        return Err(format!("`{text}` must be more than 0 seconds"));
    }
    Ok(d)
}

/// The clap command of `vuptest` (for man pages and completions).
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(cli.max_total_output, 16 << 20);
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
}
