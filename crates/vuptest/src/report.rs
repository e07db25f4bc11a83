//! The JSON result of one uptest: the contract with scripts (`jq`) and Velociraptor's server.
//!
//! `Name`, `Output` and `Passed` are the original uptester's keys and keep its meaning; the
//! others were added by vuptest. Keys are written in this order.

use crate::exec::{Attempt, Outcome};
use serde::Serialize;
use std::time::Duration;

/// One element of the JSON array vuptest prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UptestResult {
    /// The uptest's file name.
    pub name: String,
    /// Its stdout and stderr as written, or why it failed when it printed nothing.
    pub output: String,
    /// True only for exit status 0.
    pub passed: bool,
    /// Wall time of the reported attempt in milliseconds.
    pub duration_ms: u64,
    /// The exit status; `null` when a signal ended it, it timed out, or it never started.
    pub exit_code: Option<i32>,
    /// True when it was killed after the timeout.
    pub timed_out: bool,
    /// True when the start of its output was cut to keep memory bounded.
    pub truncated: bool,
    /// How many times it was run (more than 1 only with `--retry-for`).
    pub attempts: u32,
}

impl UptestResult {
    /// The result reported for `attempt`, the `attempts`-th run of the uptest called `name`.
    pub fn from_attempt(name: String, attempt: &Attempt, attempts: u32) -> Self {
        let (mut output, dropped) = attempt.output.text();
        if dropped > 0 {
            output.insert_str(
                0,
                &format!("[vuptest: output cut, first {dropped} bytes dropped]\n"),
            );
        }
        let exit_code = match attempt.outcome {
            Outcome::Exited(code) => Some(code),
            _ => None,
        };
        // Like the original uptester: a failure that printed nothing says what happened.
        match &attempt.outcome {
            Outcome::Exited(0) => {}
            Outcome::Exited(code) if output.is_empty() => output = format!("exit status {code}"),
            Outcome::Signaled(sig) if output.is_empty() => output = format!("signal {sig}"),
            Outcome::TimedOut { after } => {
                if !output.is_empty() && !output.ends_with('\n') {
                    output.push('\n');
                }
                let unit = if *after == Duration::from_secs(1) {
                    "second"
                } else {
                    "seconds"
                };
                output.push_str(&format!(
                    "[vuptest: timed out after {} {unit}, killed]",
                    seconds(*after)
                ));
            }
            Outcome::NotStarted(reason) => output = reason.clone(),
            Outcome::Exited(_) | Outcome::Signaled(_) => {}
        }
        UptestResult {
            name,
            output,
            passed: attempt.outcome.passed(),
            duration_ms: u64::try_from(attempt.duration.as_millis()).unwrap_or(u64::MAX),
            exit_code,
            timed_out: matches!(attempt.outcome, Outcome::TimedOut { .. }),
            truncated: dropped > 0,
            attempts,
        }
    }

    /// The result for an entry that is a directory: never run.
    pub fn directory(name: String, attempts: u32) -> Self {
        UptestResult {
            name,
            output: "is a directory".to_string(),
            passed: false,
            duration_ms: 0,
            exit_code: None,
            timed_out: false,
            truncated: false,
            attempts,
        }
    }
}

/// Seconds for people: `60`, `0.5`, `1.25`.
pub fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        return (ms / 1000).to_string();
    }
    let text = format!("{:.3}", d.as_secs_f64());
    text.trim_end_matches('0').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::Captured;

    fn attempt(outcome: Outcome, bytes: &[u8], dropped: u64) -> Attempt {
        Attempt {
            outcome,
            output: Captured {
                bytes: bytes.to_vec(),
                dropped,
            },
            duration: Duration::from_millis(1234),
        }
    }

    #[test]
    fn json_has_the_documented_keys_in_order() {
        let r = UptestResult::from_attempt(
            "01_alive.sh".into(),
            &attempt(Outcome::Exited(0), b"ok\n", 0),
            1,
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Name":"01_alive.sh","Output":"ok\n","Passed":true,"DurationMs":1234,"ExitCode":0,"TimedOut":false,"Truncated":false,"Attempts":1}"#
        );
    }

    #[test]
    fn outcomes_become_results() {
        let secs = |s| Duration::from_secs_f64(s);
        // (outcome, output bytes, dropped, Output, Passed, ExitCode, TimedOut, Truncated)
        // (outcome, output bytes, dropped, Output, Passed, ExitCode, TimedOut, Truncated)
        type Case = (
            Outcome,
            &'static [u8],
            u64,
            &'static str,
            bool,
            Option<i32>,
            bool,
            bool,
        );
        let cases: Vec<Case> = vec![
            (Outcome::Exited(0), b"", 0, "", true, Some(0), false, false),
            (
                Outcome::Exited(3),
                b"",
                0,
                "exit status 3",
                false,
                Some(3),
                false,
                false,
            ),
            (
                Outcome::Exited(3),
                b"boom\n",
                0,
                "boom\n",
                false,
                Some(3),
                false,
                false,
            ),
            (
                Outcome::Signaled(9),
                b"",
                0,
                "signal 9",
                false,
                None,
                false,
                false,
            ),
            (
                Outcome::Signaled(15),
                b"bye",
                0,
                "bye",
                false,
                None,
                false,
                false,
            ),
            (
                Outcome::TimedOut { after: secs(1.0) },
                b"",
                0,
                "[vuptest: timed out after 1 second, killed]",
                false,
                None,
                true,
                false,
            ),
            (
                Outcome::TimedOut { after: secs(60.0) },
                b"",
                0,
                "[vuptest: timed out after 60 seconds, killed]",
                false,
                None,
                true,
                false,
            ),
            (
                Outcome::TimedOut { after: secs(0.5) },
                b"waiting",
                0,
                "waiting\n[vuptest: timed out after 0.5 seconds, killed]",
                false,
                None,
                true,
                false,
            ),
            (
                Outcome::NotStarted("cannot start x: Permission denied (os error 13)".into()),
                b"",
                0,
                "cannot start x: Permission denied (os error 13)",
                false,
                None,
                false,
                false,
            ),
            (
                Outcome::Exited(0),
                b"\xff\xfe<&>\"",
                0,
                "\u{fffd}\u{fffd}<&>\"",
                true,
                Some(0),
                false,
                false,
            ),
            (
                Outcome::Exited(0),
                b"end\n",
                100,
                "[vuptest: output cut, first 100 bytes dropped]\nend\n",
                true,
                Some(0),
                false,
                true,
            ),
        ];
        for (outcome, bytes, dropped, output, passed, code, timed_out, truncated) in cases {
            let r = UptestResult::from_attempt(
                "t".into(),
                &attempt(outcome.clone(), bytes, dropped),
                2,
            );
            assert_eq!(r.output, output, "{outcome:?}");
            assert_eq!(
                (
                    r.passed,
                    r.exit_code,
                    r.timed_out,
                    r.truncated,
                    r.attempts,
                    r.duration_ms
                ),
                (passed, code, timed_out, truncated, 2, 1234),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn directory_result() {
        let r = UptestResult::directory("sub".into(), 1);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Name":"sub","Output":"is a directory","Passed":false,"DurationMs":0,"ExitCode":null,"TimedOut":false,"Truncated":false,"Attempts":1}"#
        );
    }

    #[test]
    fn seconds_for_people() {
        let cases = [
            (Duration::from_secs(60), "60"),
            (Duration::from_millis(500), "0.5"),
            (Duration::from_millis(1250), "1.25"),
            (Duration::from_millis(1), "0.001"),
            (Duration::ZERO, "0"),
        ];
        for (d, want) in cases {
            assert_eq!(seconds(d), want);
        }
    }
}
