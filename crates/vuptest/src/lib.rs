//! vuptest: runs the uptests of one proc and turns their outcomes into the JSON results that
//! `vrun uptest` prints and Velociraptor parses.
//!
//! - [`cli`]: the command line (shared with `cargo xtask dist` for man pages and completions).
//! - [`folder::list`] reads the uptests folder: every entry whose name does not start with `.`,
//!   in byte-wise name order.
//! - [`exec::Process`] runs one uptest as `<path> HOST PORT` in its own process group, with
//!   stdout and stderr on one pipe (so they interleave as written), a bounded [`tail::Tail`] of
//!   that output, and a timeout that kills the whole group.
//! - [`reaper::Reaper`] kills what the group kill misses: vuptest is a child subreaper, and
//!   after each uptest every process below it (`setsid` escapees, daemons) is killed and reaped.
//! - [`runner::run_all`] decides what runs when (one attempt each, or reruns of a failing one
//!   until a deadline) and hands each result on as soon as it is final, with a total output
//!   budget, through the [`exec::Launcher`] and [`runner::Clock`] seams, so those decisions are
//!   unit-tested without real processes or real time.
//! - [`report::UptestResult`] is the JSON contract: `Name`, `Output`, `Passed`, then the extras;
//!   [`array::JsonArray`] writes them one by one as one JSON array.
//!
//! The library never prints and never touches signal dispositions (the binary installs
//! [`vr_stop::Stop`] and hands it to [`exec::Process`]); the `vuptest` binary writes the one
//! JSON line. It uses no NSS (no user or host name lookups), so a statically linked build runs
//! in any image.
// A library never prints (its callers do) and exports only what it means to.
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

pub mod array;
pub mod cli;
pub mod exec;
pub mod folder;
pub mod reaper;
pub mod report;
pub mod runner;
pub mod tail;

pub use array::JsonArray;
pub use exec::{Attempt, Launcher, Outcome, Process};
pub use folder::{Entry, FolderError};
pub use reaper::Reaper;
pub use report::UptestResult;
pub use runner::{run_all, Clock, RunError, RunOptions, Summary, SystemClock};
pub use tail::{Captured, Tail};
