//! What runs when, and when each result is handed on.
//!
//! Every uptest runs in the folder's order, and its result is handed to the caller (who
//! writes it into the JSON array at once) as soon as it is final, then dropped. So memory
//! does not grow with the number of uptests: at any moment the only result held is the last
//! attempt of the uptest that runs now.
//!
//! With a retry window (`--retry-for`) a result is final once it passed or the window is
//! over. Rerunning all failing uptests in rounds would make uptest 2's passing result final
//! while uptest 1 still waits for its next round; to keep the array's order, uptest 2's
//! result (and its output) would have to be held until uptest 1's is final: one held result
//! per uptest in the worst case. Instead, uptests are retried one at a time: a failing uptest
//! reruns every interval until it passes or the window is over, and only then does the next
//! one start. The window is shared and measured from the start, so the run takes no longer
//! than with rounds; every uptest still runs at least once. Uptests that wait for the proc to
//! come up pass one after the other once it is up.
//!
//! The output kept per uptest is `max_output`, and at most `max_total_output` for all the
//! reported results together: once that budget is spent, later outputs are cut (their end
//! kept, as for one long output), so the array stays bounded however many uptests print.

use crate::exec::Launcher;
use crate::folder::Entry;
use crate::report::UptestResult;
use std::ffi::OsString;
use std::io;
use std::time::{Duration, Instant};
use vr_stop::Interrupted;

/// The arguments, retry policy and output limits of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// First argument of every uptest.
    pub host: OsString,
    /// Second argument of every uptest.
    pub port: OsString,
    /// Keep rerunning a failing uptest until this much time has passed since the start.
    pub retry_for: Option<Duration>,
    /// Pause between two attempts of an uptest.
    pub interval: Duration,
    /// Output bytes kept per uptest (the end of its output).
    pub max_output: usize,
    /// Output bytes kept for all reported results together.
    pub max_total_output: usize,
}

/// What a complete run reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Results handed on.
    pub reported: usize,
    /// How many of them did not pass.
    pub failed: usize,
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A terminating signal arrived: the uptest that was running is not reported and no other
    /// one starts.
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
    /// The caller could not take a result (writing it failed).
    #[error("cannot write the results")]
    Write(#[source] io::Error),
}

/// Time, as a seam: the real clock, or a fake one in tests.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits `d` (may return early when `stop` says so).
    fn sleep(&mut self, d: Duration, stop: &dyn Fn() -> bool);
}

/// The system clock; sleeps in short slices so a signal ends a pause quickly.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&mut self, d: Duration, stop: &dyn Fn() -> bool) {
        let end = Instant::now() + d;
        while !stop() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

/// Runs `entries` in order and hands each one's final result (its last attempt) to `emit`
/// as soon as it is final (see the module docs). Directories are never run. Stops early,
/// without reporting the uptest that ran, when the launcher reports a signal, and when `emit`
/// fails.
pub fn run_all(
    entries: &[Entry],
    opts: &RunOptions,
    launcher: &mut dyn Launcher,
    clock: &mut dyn Clock,
    emit: &mut dyn FnMut(&UptestResult) -> io::Result<()>,
) -> Result<Summary, RunError> {
    let deadline = opts.retry_for.map(|d| clock.now() + d);
    let args = [opts.host.as_os_str(), opts.port.as_os_str()];
    let interrupted = |launcher: &dyn Launcher| match launcher.interrupted() {
        Some(signal) => Err(Interrupted(signal)),
        None => Ok(()),
    };
    let mut budget = opts.max_total_output;
    let mut summary = Summary::default();
    for entry in entries {
        interrupted(launcher)?;
        let mut attempts = 0;
        let (result, kept) = loop {
            attempts += 1;
            if entry.is_dir {
                // Never run, so rerunning cannot help: final at once.
                break (UptestResult::directory(entry.display_name(), attempts), 0);
            }
            let attempt = launcher.launch(&entry.path, &args, opts.max_output.min(budget));
            interrupted(launcher)?;
            let kept = attempt.output.bytes.len();
            let result = UptestResult::from_attempt(entry.display_name(), &attempt, attempts);
            let retry = deadline.is_some_and(|d| clock.now() + opts.interval <= d);
            if result.passed || !retry {
                break (result, kept);
            }
            clock.sleep(opts.interval, &|| launcher.interrupted().is_some());
            interrupted(launcher)?;
        };
        budget = budget.saturating_sub(kept);
        emit(&result).map_err(RunError::Write)?;
        summary.reported += 1;
        summary.failed += usize::from(!result.passed);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
