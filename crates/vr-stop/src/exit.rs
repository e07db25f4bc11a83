//! Exit statuses, named once.

use std::process::ExitCode;

/// How a tool ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Ok,
    /// 1: a failure the user asked to be told by status (`--fail` with failed uptests, a lock
    /// held by another process).
    Failed,
    /// 2: anything else that went wrong, usage errors included.
    Error,
    /// 125: `vrun run` failed before the proc started.
    NotStarted,
    /// 128+N: stopped by signal N.
    Signal(i32),
    /// A child's own status, passed through (the proc, the shell, the provisioning script);
    /// out-of-range values become 2.
    Status(i32),
}

impl Exit {
    /// The status of a terminating signal: 128+N.
    pub const SIGNAL_BASE: i32 = 128;

    /// The status as the process reports it.
    pub fn code(self) -> u8 {
        let wide = match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Error => 2,
            Exit::NotStarted => 125,
            Exit::Signal(n) => Self::SIGNAL_BASE + n,
            Exit::Status(code) => code,
        };
        u8::try_from(wide).unwrap_or(2)
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// The tools that share the statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `vimage`.
    Vimage,
    /// `vrun`.
    Vrun,
    /// `vuptest`.
    Vuptest,
}

/// One row of the exit status table: a status, the tools it applies to, what it means.
#[derive(Debug, Clone, Copy)]
pub struct Meaning {
    /// The status as written in the docs (`0`, `128+N`, `the proc's status`).
    pub status: &'static str,
    /// The tools (and verbs) this row is about.
    pub tools: &'static [Tool],
    /// The verbs it applies to (`all` or a list).
    pub verbs: &'static str,
    /// What it means.
    pub meaning: &'static str,
}

use Tool::{Vimage, Vrun, Vuptest};

/// Every exit status of every tool: the one place they are written down.
pub const TABLE: &[Meaning] = &[
    Meaning {
        status: "0",
        tools: &[Vimage, Vrun, Vuptest],
        verbs: "all",
        meaning: "done (vuptest and `vrun uptest`: the JSON was printed, whether or not the uptests passed)",
    },
    Meaning {
        status: "1",
        tools: &[Vrun, Vuptest],
        verbs: "uptest, vuptest",
        meaning: "with `--fail`: an uptest failed (the JSON was printed all the same)",
    },
    Meaning {
        status: "1",
        tools: &[Vrun],
        verbs: "setup, run, teardown",
        meaning: "the proc.yaml or the proc's folder is locked by another vrun, or (setup, teardown) an uptest or shell of the proc is still running",
    },
    Meaning {
        status: "2",
        tools: &[Vimage, Vrun, Vuptest],
        verbs: "all but run",
        meaning: "the tool failed: a bad or missing key, a download, a checksum mismatch, LXC, a file; also command-line usage errors (for every verb)",
    },
    Meaning {
        status: "125",
        tools: &[Vrun],
        verbs: "run",
        meaning: "vrun failed before the proc started (bad proc.yaml, not set up, LXC could not start the container): a supervisor can tell this from the proc's own failures",
    },
    Meaning {
        status: "the child's status",
        tools: &[Vimage, Vrun],
        verbs: "run, shell, build",
        meaning: "`vrun run`: the proc's status (128+N when signal N ended it; 137 after the out-of-memory killer, which vrun names on stderr). `shell`: the shell's status. `vimage build`: the provisioning script's status when it failed",
    },
    Meaning {
        status: "128+N",
        tools: &[Vimage, Vrun, Vuptest],
        verbs: "all but run and shell",
        meaning: "stopped by signal N (130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP): what was started is stopped, temp data is removed, no image or JSON is written (`... interrupted by signal N`)",
    },
];

/// The rows of `tool`.
fn rows(tool: Tool) -> impl Iterator<Item = &'static Meaning> {
    TABLE.iter().filter(move |m| m.tools.contains(&tool))
}

/// The table of `tool` in Markdown (as in `docs/exit-status.md`).
pub fn render_markdown(tool: Tool) -> String {
    let mut out = String::from("| status | verbs | meaning |\n|---|---|---|\n");
    for m in rows(tool) {
        out.push_str(&format!("| {} | {} | {} |\n", m.status, m.verbs, m.meaning));
    }
    out
}

/// The table of `tool` as roff paragraphs for an EXIT STATUS section of a man page.
pub fn render_roff(tool: Tool) -> String {
    let mut out = String::new();
    for m in rows(tool) {
        let text = m.meaning.replace('`', "").replace('\\', "\\\\");
        out.push_str(&format!(".TP\n.B {} ({})\n{}\n", m.status, m.verbs, text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let cases = [
            (Exit::Ok, 0),
            (Exit::Failed, 1),
            (Exit::Error, 2),
            (Exit::NotStarted, 125),
            (Exit::Signal(2), 130),
            (Exit::Signal(15), 143),
            (Exit::Status(137), 137),
            (Exit::Status(-1), 2),
            (Exit::Status(256), 2),
            (Exit::Signal(200), 2),
        ];
        for (exit, code) in cases {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
    }

    #[test]
    fn every_tool_has_0_2_and_signals() {
        for tool in [Vimage, Vrun, Vuptest] {
            let statuses: Vec<&str> = rows(tool).map(|m| m.status).collect();
            for want in ["0", "2", "128+N"] {
                assert!(statuses.contains(&want), "{tool:?} lacks {want}");
            }
        }
        let md = render_markdown(Vuptest);
        assert!(md.contains("| 1 | uptest, vuptest |"), "{md}");
        assert!(!md.contains("125"), "{md}");
        let roff = render_roff(Vrun);
        assert!(roff.contains(".B 125 (run)\n"), "{roff}");
        assert!(!roff.contains('`'), "{roff}");
    }
}
