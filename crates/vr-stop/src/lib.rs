//! vr-stop: how vr's tools stop.
//!
//! [`Exit`] is the one set of exit statuses that vimage, vrun and vuptest share (0 done,
//! 1 a failure the user asked about, 2 an error, 125 not started, 128+N after signal N, or a
//! child's own status passed through); [`TABLE`] says what each means for each tool, and the
//! docs and man pages are checked against (or rendered from) it.
//!
//! [`Stop`] is cancellation as a value: a flag that a signal handler (or a test) sets and that
//! long loops in the libraries look at ([`Stop::check`]). Only a binary calls
//! [`Stop::install`], which makes SIGINT, SIGTERM and SIGHUP set the process's flag instead of
//! killing it; libraries never touch signal dispositions. vr-stop prints nothing.
// A library never prints (its callers do) and exports only what it means to.
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod exit;
mod signals;

pub use exit::{render_markdown, rows, Exit, Meaning, Tool, TABLE};
pub use signals::{forward_to_group, Interrupted, Stop, SIGNALS};
