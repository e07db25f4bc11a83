//! The run decisions with a fake launcher and a fake clock.

use super::*;
use crate::exec::{Attempt, Outcome};
use crate::tail::Tail;
use std::cell::{Cell, RefCell};
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

/// Uptests that pass from their `n`-th attempt on (0: never) and print `try N`; each run
/// takes `run_time`. Runs and results handed on are logged in `events`.
struct FakeLauncher {
    pass_from: HashMap<PathBuf, u32>,
    calls: Vec<(String, Vec<OsString>, usize)>,
    events: Rc<RefCell<Vec<String>>>,
    offset: Rc<Cell<Duration>>,
    run_time: Duration,
    signal_after: Option<usize>,
}

impl Launcher for FakeLauncher {
    fn launch(&mut self, path: &Path, args: &[&OsStr], max_output: usize) -> Attempt {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        self.calls.push((
            name.clone(),
            args.iter().map(|a| a.to_os_string()).collect(),
            max_output,
        ));
        self.events.borrow_mut().push(format!("run {name}"));
        let n = self.calls.iter().filter(|(c, ..)| *c == name).count() as u32;
        self.offset.set(self.offset.get() + self.run_time);
        let from = self.pass_from[path];
        let code = if from != 0 && n >= from { 0 } else { 1 };
        let mut tail = Tail::new(max_output);
        tail.push(format!("try {n}").as_bytes());
        Attempt {
            outcome: Outcome::Exited(code),
            output: tail.finish(),
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
    /// Expected order of runs and results handed on.
    events: &'static [&'static str],
}

/// What a run did: its end, the results handed on, the launches (name and output cap)
/// and the events.
struct Ran {
    end: Result<Summary, RunError>,
    results: Vec<UptestResult>,
    calls: Vec<(String, usize)>,
    events: Vec<String>,
}

fn run_case(
    c: &Case,
    signal_after: Option<usize>,
    limits: (usize, usize),
    fail_emit_at: Option<usize>,
) -> Ran {
    let offset = Rc::new(Cell::new(Duration::ZERO));
    let events = Rc::new(RefCell::new(Vec::new()));
    let entries: Vec<Entry> = c
        .tests
        .iter()
        .map(|(n, from)| Entry {
            name: n.into(),
            path: Path::new("/u").join(n),
            is_dir: *from < 0,
        })
        .collect();
    let mut launcher = FakeLauncher {
        pass_from: entries
            .iter()
            .zip(c.tests)
            .map(|(e, (_, from))| (e.path.clone(), (*from).max(0) as u32))
            .collect(),
        calls: Vec::new(),
        events: events.clone(),
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
        max_output: limits.0,
        max_total_output: limits.1,
    };
    let mut results = Vec::new();
    let mut emit = |r: &UptestResult| {
        if fail_emit_at == Some(results.len()) {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        events.borrow_mut().push(format!("emit {}", r.name));
        results.push(r.clone());
        Ok(())
    };
    let end = run_all(&entries, &opts, &mut launcher, &mut clock, &mut emit);
    for (_, args, _) in &launcher.calls {
        assert_eq!(args, &[OsString::from("h"), OsString::from("80")]);
    }
    let events = events.borrow().clone();
    Ran {
        end,
        results,
        calls: launcher.calls.into_iter().map(|(n, _, m)| (n, m)).collect(),
        events,
    }
}

const NO_LIMITS: (usize, usize) = (1 << 20, 1 << 30);

#[test]
fn attempts_retries_and_results_as_they_become_final() {
    let cases = [
        // No retry: each once, failures reported as they are, each as soon as it ran.
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
            events: &["run a", "emit a", "run b", "emit b", "run c", "emit c"],
        },
        // Retry: a failing uptest reruns until it passes, then the next one starts.
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
            events: &[
                "run a", "emit a", "run b", "run b", "run b", "emit b", "run c", "run c", "emit c",
            ],
        },
        // Deadline: a runs at t=0,2,4 (a run at 6 would start after 5); the last attempt
        // is its result; b still runs once.
        Case {
            tests: &[("a", 0), ("b", 1)],
            retry_for: Some(5),
            interval: 2,
            run_time: 0,
            want: &[("a", false, 3, "try 3"), ("b", true, 1, "try 1")],
            events: &["run a", "run a", "run a", "emit a", "run b", "emit b"],
        },
        // The window is shared: once a used it up, b gets its one attempt only.
        Case {
            tests: &[("a", 0), ("b", 2)],
            retry_for: Some(3),
            interval: 1,
            run_time: 0,
            want: &[("a", false, 4, "try 4"), ("b", false, 1, "try 1")],
            events: &[
                "run a", "run a", "run a", "run a", "emit a", "run b", "emit b",
            ],
        },
        // Time spent running counts against the deadline.
        Case {
            tests: &[("a", 0)],
            retry_for: Some(5),
            interval: 1,
            run_time: 2,
            want: &[("a", false, 2, "try 2")],
            events: &["run a", "run a", "emit a"],
        },
        // retry-for 0: a single attempt.
        Case {
            tests: &[("a", 2)],
            retry_for: Some(0),
            interval: 1,
            run_time: 0,
            want: &[("a", false, 1, "try 1")],
            events: &["run a", "emit a"],
        },
        // A directory is never launched, never passes and is not retried.
        Case {
            tests: &[("d", -1), ("e", 1)],
            retry_for: Some(2),
            interval: 1,
            run_time: 0,
            want: &[("d", false, 1, "is a directory"), ("e", true, 1, "try 1")],
            events: &["emit d", "run e", "emit e"],
        },
        // Nothing to run.
        Case {
            tests: &[],
            retry_for: Some(5),
            interval: 1,
            run_time: 0,
            want: &[],
            events: &[],
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let ran = run_case(c, None, NO_LIMITS, None);
        let got: Vec<(String, bool, u32, String)> = ran
            .results
            .into_iter()
            .map(|r| (r.name, r.passed, r.attempts, r.output))
            .collect();
        let want: Vec<(String, bool, u32, String)> = c
            .want
            .iter()
            .map(|(n, p, a, o)| (n.to_string(), *p, *a, o.to_string()))
            .collect();
        assert_eq!(got, want, "case {i}");
        assert_eq!(ran.events, c.events, "case {i}");
        let failed = c.want.iter().filter(|w| !w.1).count();
        assert_eq!(
            ran.end.unwrap(),
            Summary {
                reported: c.want.len(),
                failed
            },
            "case {i}"
        );
    }
}

#[test]
fn the_total_output_budget_is_shared_by_the_reported_results() {
    // Each uptest prints 5 bytes; at most 4 kept each, 6 in all. a fails once: its first
    // attempt is not reported, so it spends nothing.
    let c = Case {
        tests: &[("a", 2), ("b", 1), ("c", 1), ("d", 1)],
        retry_for: Some(10),
        interval: 1,
        run_time: 0,
        want: &[],
        events: &[],
    };
    let ran = run_case(&c, None, (4, 6), None);
    let caps: Vec<(&str, usize)> = ran.calls.iter().map(|(n, m)| (n.as_str(), *m)).collect();
    assert_eq!(caps, [("a", 4), ("a", 4), ("b", 2), ("c", 0), ("d", 0)]);
    let got: Vec<(&str, bool)> = ran
        .results
        .iter()
        .map(|r| (r.output.as_str(), r.truncated))
        .collect();
    assert_eq!(
        got,
        [
            ("[vuptest: output cut, first 1 bytes dropped]\nry 2", true),
            ("[vuptest: output cut, first 3 bytes dropped]\n 1", true),
            ("[vuptest: output cut, first 5 bytes dropped]\n", true),
            ("[vuptest: output cut, first 5 bytes dropped]\n", true),
        ]
    );
}

#[test]
fn a_signal_stops_the_run_without_the_uptest_it_stopped() {
    let three = Case {
        tests: &[("a", 1), ("b", 1), ("c", 1)],
        retry_for: None,
        interval: 1,
        run_time: 0,
        want: &[],
        events: &[],
    };
    let ran = run_case(&three, Some(2), NO_LIMITS, None);
    assert!(
        matches!(ran.end, Err(RunError::Interrupted(Interrupted(15)))),
        "{:?}",
        ran.end
    );
    assert_eq!(ran.events, ["run a", "emit a", "run b"]);

    // During retries, too.
    let retrying = Case {
        tests: &[("a", 0), ("b", 1)],
        retry_for: Some(100),
        ..three
    };
    let ran = run_case(&retrying, Some(2), NO_LIMITS, None);
    assert!(matches!(ran.end, Err(RunError::Interrupted(_))));
    assert_eq!(ran.events, ["run a", "run a"]);
}

#[test]
fn a_failed_write_stops_the_run() {
    let c = Case {
        tests: &[("a", 1), ("b", 1), ("c", 1)],
        retry_for: None,
        interval: 1,
        run_time: 0,
        want: &[],
        events: &[],
    };
    let ran = run_case(&c, None, NO_LIMITS, Some(1));
    match ran.end {
        Err(RunError::Write(e)) => assert_eq!(e.kind(), io::ErrorKind::StorageFull),
        other => panic!("{other:?}"),
    }
    assert_eq!(ran.events, ["run a", "emit a", "run b"]);
}
