//! The command line of `vrun`, shared by the binary and by `cargo xtask dist` (man page and
//! shell completions are generated from it).

use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Set up, run, uptest, open a shell in, or tear down a proc's LXC container.
///
/// The host layout lives under $VR_ROOT (default /apps).
#[derive(Parser, Debug)]
#[command(name = "vrun", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

/// The verbs of vrun.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Fetch the image and build, write the proc's files and LXC config.
    Setup {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
    /// Run the proc in the foreground; exits with the proc's status.
    Run {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
    /// Run the proc's uptests in a container like the proc's; prints their JSON.
    Uptest {
        /// The proc.yaml.
        proc_yaml: PathBuf,
        #[command(flatten)]
        flags: UptestFlags,
    },
    /// Remove the proc's folder.
    Teardown {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
    /// An interactive shell in a container like the proc's.
    Shell {
        /// The proc.yaml.
        proc_yaml: PathBuf,
    },
    /// Remove image trees, cached tarballs and lock files that no set-up or running proc uses;
    /// prints what it removed as JSON.
    Gc {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check whether this host can run vr: a table on stderr, JSON on stdout.
    ///
    /// Checks LXC, cgroups, overlayfs, user namespaces, the id range, seccomp, VR_ROOT, free
    /// disk and vuptest; changes nothing. Exits 1 when a check fails, each failure with the
    /// command that fixes it.
    Doctor,
}

/// vuptest's options that `vrun uptest` passes on.
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct UptestFlags {
    /// Kill an uptest (and every process it started) after this many seconds [default: 60]
    #[arg(long, value_name = "SECONDS", value_parser = vuptest::cli::positive_seconds)]
    pub timeout: Option<Duration>,
    /// Readiness mode, for right after `vrun run` starts: rerun the failing uptests every
    /// --interval until all pass or this many seconds have passed
    #[arg(long, value_name = "SECONDS", value_parser = vuptest::cli::seconds)]
    pub retry_for: Option<Duration>,
    /// Pause between reruns with --retry-for [default: 1]
    #[arg(long, value_name = "SECONDS", value_parser = vuptest::cli::positive_seconds, requires = "retry_for")]
    pub interval: Option<Duration>,
    /// Exit with status 1 when any uptest failed (the JSON is printed all the same)
    #[arg(long)]
    pub fail: bool,
}

impl UptestFlags {
    /// The same options as vuptest's arguments.
    pub fn to_args(&self) -> Vec<String> {
        let secs = |d: &Duration| d.as_secs_f64().to_string();
        let mut args = Vec::new();
        for (flag, value) in [
            ("--timeout", &self.timeout),
            ("--retry-for", &self.retry_for),
            ("--interval", &self.interval),
        ] {
            if let Some(d) = value {
                args.push(flag.to_string());
                args.push(secs(d));
            }
        }
        if self.fail {
            args.push("--fail".to_string());
        }
        args
    }
}

/// The clap command of `vrun` (for man pages and completions).
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        super::command().debug_assert();
    }

    fn uptest_flags(args: &[&str]) -> Result<UptestFlags, clap::Error> {
        let cli = Cli::try_parse_from(["vrun", "uptest"].iter().chain(args).chain(&["p.yaml"]))?;
        match cli.command {
            Cmd::Uptest { flags, proc_yaml } => {
                assert_eq!(proc_yaml, PathBuf::from("p.yaml"));
                Ok(flags)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uptest_flags_pass_on_to_vuptest() {
        assert_eq!(uptest_flags(&[]).unwrap().to_args(), Vec::<String>::new());
        let flags = uptest_flags(&[
            "--retry-for",
            "30",
            "--interval",
            "0.5",
            "--timeout=5",
            "--fail",
        ])
        .unwrap();
        assert_eq!(
            flags.to_args(),
            [
                "--timeout",
                "5",
                "--retry-for",
                "30",
                "--interval",
                "0.5",
                "--fail"
            ]
        );
        for bad in [
            &["--timeout", "0"][..],
            &["--timeout", "soon"],
            &["--interval", "1"],
            &["--retry-for", "-1"],
        ] {
            assert!(uptest_flags(bad).is_err(), "{bad:?}");
        }
    }
}
