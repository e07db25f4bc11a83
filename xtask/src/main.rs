//! `cargo xtask`: the project's automation. One file per task.
//!
//! - `demo`: installs what is missing, builds the tools and runs the example flow.
//! - `test`: installs what is missing, builds every binary (vuptest static) and runs every test.
//! - `bench [NAME..]`: performance figures as ratios against baselines measured in the same run.
//! - `dist`: per-tool packages (.deb and .tar.gz) under target/dist/.

mod bench;
mod demo;
mod dist;
mod test;
mod util;

use anyhow::{bail, Result};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <demo|test|bench [NAME..]|dist>";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    match task.as_str() {
        "demo" => demo::run(rest),
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "dist" => dist::run(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown task `{other}`; {USAGE}"),
    }
}
