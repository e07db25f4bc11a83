//! `cargo xtask bench [NAME..]`: performance figures, each printed as a ratio against a baseline
//! measured in the same run. Names: fetch, uptest, run, image (all when none is given).
//! File-heavy figures are measured on a tmpfs and on disk, and labelled so.

mod fetch;
mod image;
mod run;
mod support;
mod uptest;

use anyhow::{bail, Result};
use std::time::Duration;

/// One row of the result table.
pub struct Row {
    pub name: String,
    pub ours: String,
    pub baseline: String,
    pub ratio: Option<f64>,
    pub goal: String,
}

/// Collected rows, printed at the end.
#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
}

impl Report {
    /// Adds a time comparison: `ours` vs `base` with a goal text such as "<= 1.0".
    pub fn time(
        &mut self,
        name: &str,
        ours: Duration,
        base_name: &str,
        base: Duration,
        goal: &str,
    ) {
        self.rows.push(Row {
            name: name.to_string(),
            ours: fmt_dur(ours),
            baseline: format!("{base_name} {}", fmt_dur(base)),
            ratio: Some(ours.as_secs_f64() / base.as_secs_f64().max(1e-9)),
            goal: goal.to_string(),
        });
    }

    /// Adds a free-form figure (sizes, memory, overhead).
    pub fn figure(
        &mut self,
        name: &str,
        ours: String,
        baseline: String,
        ratio: Option<f64>,
        goal: &str,
    ) {
        self.rows.push(Row {
            name: name.to_string(),
            ours,
            baseline,
            ratio,
            goal: goal.to_string(),
        });
    }

    fn print(&self) {
        println!(
            "{:<52} {:>14} {:>28} {:>7} {:>10}",
            "figure", "vr", "baseline", "ratio", "goal"
        );
        for r in &self.rows {
            let ratio = r
                .ratio
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into());
            println!(
                "{:<52} {:>14} {:>28} {:>7} {:>10}",
                r.name, r.ours, r.baseline, ratio, r.goal
            );
        }
    }
}

/// Milliseconds with two decimals.
pub fn fmt_dur(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

type Bench = fn(&mut Report) -> Result<()>;
const BENCHES: &[(&str, Bench)] = &[
    ("fetch", fetch::bench),
    ("uptest", uptest::bench),
    ("run", run::bench),
    ("image", image::bench),
];

pub fn run(args: &[String]) -> Result<()> {
    for a in args {
        if !BENCHES.iter().any(|(n, _)| n == a) {
            let names: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
            bail!("unknown bench `{a}`; known: {}", names.join(", "));
        }
    }
    let mut report = Report::default();
    for (name, bench) in BENCHES {
        if args.is_empty() || args.iter().any(|a| a == name) {
            eprintln!("bench: {name}");
            bench(&mut report)?;
        }
    }
    report.print();
    Ok(())
}
