//! What runs when: every uptest once, in order; with a retry deadline, the failing ones again
//! every interval until all pass or the deadline has passed.

use crate::exec::Launcher;
use crate::folder::Entry;
use crate::report::UptestResult;
use std::ffi::OsString;
use std::time::{Duration, Instant};

/// The arguments and retry policy of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// First argument of every uptest.
    pub host: OsString,
    /// Second argument of every uptest.
    pub port: OsString,
    /// Keep rerunning failing uptests until this much time has passed since the start.
    pub retry_for: Option<Duration>,
    /// Pause between two rounds of reruns.
    pub interval: Duration,
}

/// A terminating signal arrived: the run stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by signal {0}")]
pub struct Interrupted(pub i32);

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

/// Runs `entries` and returns one result per entry, in the same order: the last attempt of
/// each. Directories are never run. Stops early when the launcher reports a signal.
pub fn run_all(
    entries: &[Entry],
    opts: &RunOptions,
    launcher: &mut dyn Launcher,
    clock: &mut dyn Clock,
) -> Result<Vec<UptestResult>, Interrupted> {
    let deadline = opts.retry_for.map(|d| clock.now() + d);
    let args = [opts.host.as_os_str(), opts.port.as_os_str()];
    let mut results: Vec<Option<UptestResult>> = vec![None; entries.len()];
    let mut attempts = vec![0u32; entries.len()];
    loop {
        for (i, entry) in entries.iter().enumerate() {
            if results[i].as_ref().is_some_and(|r| r.passed) {
                continue;
            }
            attempts[i] += 1;
            let result = if entry.is_dir {
                UptestResult::directory(entry.display_name(), attempts[i])
            } else {
                let attempt = launcher.launch(&entry.path, &args);
                UptestResult::from_attempt(entry.display_name(), &attempt, attempts[i])
            };
            results[i] = Some(result);
            if let Some(sig) = launcher.interrupted() {
                return Err(Interrupted(sig));
            }
        }
        if results.iter().flatten().all(|r| r.passed) {
            break;
        }
        let Some(deadline) = deadline else { break };
        if clock.now() + opts.interval > deadline {
            break;
        }
        clock.sleep(opts.interval, &|| launcher.interrupted().is_some());
        if let Some(sig) = launcher.interrupted() {
            return Err(Interrupted(sig));
        }
    }
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Attempt, Outcome};
    use crate::tail::Captured;
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::ffi::OsStr;
    use std::path::{Path, PathBuf};
    use std::rc::Rc;

    /// Time that moves only when someone sleeps or a fake uptest "runs".
    struct FakeClock {
        start: Instant,
        offset: Rc<Cell<Duration>>,
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.start + self.offset.get()
        }
        fn sleep(&mut self, d: Duration, _stop: &dyn Fn() -> bool) {
            self.offset.set(self.offset.get() + d);
        }
    }

    /// Uptests that pass from their `n`-th attempt on (0: never); each run takes `run_time`.
    struct FakeLauncher {
        pass_from: HashMap<PathBuf, u32>,
        calls: Vec<(String, Vec<OsString>)>,
        offset: Rc<Cell<Duration>>,
        run_time: Duration,
        signal_after: Option<usize>,
    }

    impl Launcher for FakeLauncher {
        fn launch(&mut self, path: &Path, args: &[&OsStr]) -> Attempt {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            self.calls.push((
                name.clone(),
                args.iter().map(|a| a.to_os_string()).collect(),
            ));
            let n = self.calls.iter().filter(|(c, _)| *c == name).count() as u32;
            self.offset.set(self.offset.get() + self.run_time);
            let from = self.pass_from[path];
            let code = if from != 0 && n >= from { 0 } else { 1 };
            Attempt {
                outcome: Outcome::Exited(code),
                output: Captured {
                    bytes: format!("try {n}").into_bytes(),
                    dropped: 0,
                },
                duration: self.run_time,
            }
        }
        fn interrupted(&self) -> Option<i32> {
            self.signal_after
                .filter(|&k| self.calls.len() >= k)
                .map(|_| 15)
        }
    }

    struct Case {
        /// (name, pass from attempt n; 0 never; -1 a directory)
        tests: &'static [(&'static str, i32)],
        retry_for: Option<u64>,
        interval: u64,
        run_time: u64,
        /// Expected (name, passed, attempts, output) per entry.
        want: &'static [(&'static str, bool, u32, &'static str)],
        /// Expected order of launches.
        calls: &'static [&'static str],
    }

    fn run_case(
        c: &Case,
        signal_after: Option<usize>,
    ) -> (Result<Vec<UptestResult>, Interrupted>, Vec<String>) {
        let offset = Rc::new(Cell::new(Duration::ZERO));
        let entries: Vec<Entry> = c
            .tests
            .iter()
            .map(|(n, _)| Entry {
                name: n.into(),
                path: Path::new("/u").join(n),
                is_dir: false,
            })
            .zip(c.tests.iter())
            .map(|(mut e, (_, from))| {
                e.is_dir = *from < 0;
                e
            })
            .collect();
        let mut launcher = FakeLauncher {
            pass_from: entries
                .iter()
                .zip(c.tests)
                .map(|(e, (_, from))| (e.path.clone(), (*from).max(0) as u32))
                .collect(),
            calls: Vec::new(),
            offset: offset.clone(),
            run_time: Duration::from_secs(c.run_time),
            signal_after,
        };
        let mut clock = FakeClock {
            start: Instant::now(),
            offset,
        };
        let opts = RunOptions {
            host: "h".into(),
            port: "80".into(),
            retry_for: c.retry_for.map(Duration::from_secs),
            interval: Duration::from_secs(c.interval),
        };
        let got = run_all(&entries, &opts, &mut launcher, &mut clock);
        for (_, args) in &launcher.calls {
            assert_eq!(args, &[OsString::from("h"), OsString::from("80")]);
        }
        (got, launcher.calls.into_iter().map(|(n, _)| n).collect())
    }

    #[test]
    fn attempts_and_retries() {
        let cases = [
            // No retry: each once, failures reported as they are.
            Case {
                tests: &[("a", 1), ("b", 2), ("c", 0)],
                retry_for: None,
                interval: 1,
                run_time: 0,
                want: &[
                    ("a", true, 1, "try 1"),
                    ("b", false, 1, "try 1"),
                    ("c", false, 1, "try 1"),
                ],
                calls: &["a", "b", "c"],
            },
            // Retry: only failing ones rerun, until all pass.
            Case {
                tests: &[("a", 1), ("b", 3), ("c", 2)],
                retry_for: Some(10),
                interval: 1,
                run_time: 0,
                want: &[
                    ("a", true, 1, "try 1"),
                    ("b", true, 3, "try 3"),
                    ("c", true, 2, "try 2"),
                ],
                calls: &["a", "b", "c", "b", "c", "b"],
            },
            // Deadline: rounds at t=0,2,4 (a round at 6 would start after 5); last attempt wins.
            Case {
                tests: &[("a", 0), ("b", 1)],
                retry_for: Some(5),
                interval: 2,
                run_time: 0,
                want: &[("a", false, 3, "try 3"), ("b", true, 1, "try 1")],
                calls: &["a", "b", "a", "a"],
            },
            // Time spent running counts against the deadline.
            Case {
                tests: &[("a", 0)],
                retry_for: Some(5),
                interval: 1,
                run_time: 2,
                want: &[("a", false, 2, "try 2")],
                calls: &["a", "a"],
            },
            // retry-for 0: a single round.
            Case {
                tests: &[("a", 2)],
                retry_for: Some(0),
                interval: 1,
                run_time: 0,
                want: &[("a", false, 1, "try 1")],
                calls: &["a"],
            },
            // A directory is never launched and never passes.
            Case {
                tests: &[("d", -1), ("e", 1)],
                retry_for: Some(2),
                interval: 1,
                run_time: 0,
                want: &[("d", false, 3, "is a directory"), ("e", true, 1, "try 1")],
                calls: &["e"],
            },
            // Nothing to run.
            Case {
                tests: &[],
                retry_for: Some(5),
                interval: 1,
                run_time: 0,
                want: &[],
                calls: &[],
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            let (got, calls) = run_case(c, None);
            let got: Vec<(String, bool, u32, String)> = got
                .unwrap()
                .into_iter()
                .map(|r| (r.name, r.passed, r.attempts, r.output))
                .collect();
            let want: Vec<(String, bool, u32, String)> = c
                .want
                .iter()
                .map(|(n, p, a, o)| (n.to_string(), *p, *a, o.to_string()))
                .collect();
            assert_eq!(got, want, "case {i}");
            assert_eq!(calls, c.calls, "case {i}");
        }
    }

    #[test]
    fn a_signal_stops_the_run() {
        let c = Case {
            tests: &[("a", 0), ("b", 0), ("c", 0)],
            retry_for: Some(100),
            interval: 1,
            run_time: 0,
            want: &[],
            calls: &[],
        };
        let (got, calls) = run_case(&c, Some(2));
        assert_eq!(got, Err(Interrupted(15)));
        assert_eq!(calls, ["a", "b"]);
    }
}
