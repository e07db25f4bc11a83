//! vuptest: runs the uptests of one proc and turns their outcomes into the JSON results that
//! `vrun uptest` prints and Velociraptor parses.
//!
//! - [`cli`]: the command line (shared with `cargo xtask dist` for man pages and completions).
//! - [`folder::list`] reads the uptests folder: every entry whose name does not start with `.`,
//!   in byte-wise name order.
//! - [`exec::Process`] runs one uptest as `<path> HOST PORT` in its own process group, with
//!   stdout and stderr on one pipe (so they interleave as written), a bounded [`tail::Tail`] of
//!   that output, and a timeout that kills the whole group.
//! - [`runner::run_all`] decides what runs when (one attempt each, or reruns of the failing ones
//!   until a deadline) through the [`exec::Launcher`] and [`runner::Clock`] seams, so those
//!   decisions are unit-tested without real processes or real time.
//! - [`report::UptestResult`] is the JSON contract: `Name`, `Output`, `Passed`, then the extras.
//!
//! The library never prints; the `vuptest` binary writes the one JSON line. It uses no NSS
//! (no user or host name lookups), so a statically linked build runs in any image.

pub mod cli;
pub mod exec;
pub mod folder;
pub mod report;
pub mod runner;
pub mod signals;
pub mod tail;

pub use exec::{Attempt, Launcher, Outcome, Process};
pub use folder::{Entry, FolderError};
pub use report::UptestResult;
pub use runner::{run_all, Clock, Interrupted, RunOptions, SystemClock};
pub use tail::{Captured, Tail};
