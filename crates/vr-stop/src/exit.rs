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

/// One row of the exit status table: a status of one tool and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Meaning {
    /// The tool.
    pub tool: Tool,
    /// The status as written in the docs (`0`, `128+N`, `the proc's status`).
    pub status: &'static str,
    /// The verbs it applies to (`all`, a list, or `-` for vuptest, which has none).
    pub verbs: &'static str,
    /// What it means (Markdown: `code` in backticks).
    pub meaning: &'static str,
}

use Tool::{Vimage, Vrun, Vuptest};

/// Every exit status of every tool: the one place they are written down.
pub const TABLE: &[Meaning] = &[
    Meaning {
        tool: Vimage,
        status: "0",
        verbs: "build, shell",
        meaning: "`build`: the image was written; `shell`: the shell exited 0",
    },
    Meaning {
        tool: Vimage,
        status: "2",
        verbs: "build, shell",
        meaning: "vimage failed: a bad or missing image.yaml key, a download, an md5 mismatch, LXC, the host's id range, a file; also command-line usage errors",
    },
    Meaning {
        tool: Vimage,
        status: "the script's status",
        verbs: "build",
        meaning: "the provisioning script failed with it (128+N when signal N, not sent to vimage, killed it); no image was written, also after `--on-error=shell` opened a shell in its container (whatever the shell exited with)",
    },
    Meaning {
        tool: Vimage,
        status: "the shell's status",
        verbs: "shell",
        meaning: "the shell exited with it",
    },
    Meaning {
        tool: Vimage,
        status: "128+N",
        verbs: "build",
        meaning: "vimage was stopped by signal N (130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP) at any step: the container was stopped, temp data removed, no image written (`vimage: interrupted by signal N; no image was written`)",
    },
    Meaning {
        tool: Vrun,
        status: "0",
        verbs: "all",
        meaning: "done (`uptest`: the JSON was printed, whether or not the uptests passed)",
    },
    Meaning {
        tool: Vrun,
        status: "1",
        verbs: "uptest",
        meaning: "with `--fail`: an uptest failed (the JSON was printed all the same)",
    },
    Meaning {
        tool: Vrun,
        status: "1",
        verbs: "setup, run, teardown",
        meaning: "the proc.yaml or the proc's folder is locked by another vrun (`ERROR: ... is locked by another process.`); `setup`, `teardown`: an uptest or shell of the proc is running",
    },
    Meaning {
        tool: Vrun,
        status: "1",
        verbs: "doctor",
        meaning: "a check of the host failed (its fix is printed)",
    },
    Meaning {
        tool: Vrun,
        status: "2",
        verbs: "setup, uptest, teardown, shell, gc, doctor",
        meaning: "vrun failed: a bad or missing proc.yaml key, a download, a checksum mismatch, an unknown user, LXC, an uptest container that did not reach its uptests within `--timeout`; also command-line usage errors, for every verb",
    },
    Meaning {
        tool: Vrun,
        status: "125",
        verbs: "run",
        meaning: "vrun failed before the proc started (bad proc.yaml, not set up, LXC could not start the container): a supervisor can tell this from the proc's own failures",
    },
    Meaning {
        tool: Vrun,
        status: "the proc's status",
        verbs: "run",
        meaning: "the proc exited with it; 128+N when signal N ended it (143 after SIGTERM); 137 also after the out-of-memory killer at `mem_limit`, which vrun then names on stderr",
    },
    Meaning {
        tool: Vrun,
        status: "the shell's status",
        verbs: "shell",
        meaning: "the shell exited with it",
    },
    Meaning {
        tool: Vrun,
        status: "128+N",
        verbs: "setup, uptest",
        meaning: "stopped by signal N (130 after Ctrl-C, 143 after SIGTERM): a download or unpack stops at once and its temp data is removed; the previous setup is unchanged (a first setup leaves nothing)",
    },
    Meaning {
        tool: Vuptest,
        status: "0",
        verbs: "-",
        meaning: "the JSON was printed, whether or not the uptests passed (without `--fail`)",
    },
    Meaning {
        tool: Vuptest,
        status: "1",
        verbs: "-",
        meaning: "with `--fail`: the JSON was printed and at least one uptest failed",
    },
    Meaning {
        tool: Vuptest,
        status: "2",
        verbs: "-",
        meaning: "wrong arguments, or FOLDER cannot be read: one line on stderr (`vuptest: ...`), nothing on stdout",
    },
    Meaning {
        tool: Vuptest,
        status: "128+N",
        verbs: "-",
        meaning: "vuptest was stopped by signal N (130 after Ctrl-C): the running uptest and every process it started are killed; stdout holds the JSON array of the uptests that had finished",
    },
];

/// The rows of `tool`, in the table's order.
pub fn rows(tool: Tool) -> impl Iterator<Item = &'static Meaning> {
    TABLE.iter().filter(move |m| m.tool == tool)
}

/// The table of `tool` in Markdown (as in `docs/exit-status.md`).
pub fn render_markdown(tool: Tool) -> String {
    let mut out = String::from("| status | verbs | meaning |\n|---|---|---|\n");
    for m in rows(tool) {
        out.push_str(&format!("| {} | {} | {} |\n", m.status, m.verbs, m.meaning));
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
        assert!(md.contains("| 1 | - |"), "{md}");
        assert!(!md.contains("125"), "{md}");
        assert!(rows(Vrun).any(|m| m.status == "125"));
    }

    /// docs/exit-status.md holds each tool's table exactly as rendered here.
    #[test]
    fn the_docs_hold_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/exit-status.md");
        let docs = std::fs::read_to_string(path).unwrap();
        for (tool, heading) in [
            (Vimage, "## vimage"),
            (Vrun, "## vrun"),
            (Vuptest, "## vuptest"),
        ] {
            let section = docs
                .split(heading)
                .nth(1)
                .unwrap_or_else(|| panic!("no {heading} in {path}"));
            assert!(
                section.trim_start().starts_with(&render_markdown(tool)),
                "{heading} of {path} is not vr-stop's table; it should read:\n{}",
                render_markdown(tool)
            );
        }
    }
}
