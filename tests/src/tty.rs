//! A program on a terminal: `script` (util-linux) runs it on a new pseudo-terminal (stdin,
//! stdout and stderr), copies what the test types to it and its output back.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// Bound for anything to happen: generous, only to fail instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A program running on a terminal of its own.
pub struct Terminal {
    child: Child,
    stdin: Option<ChildStdin>,
    output: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Terminal {
    /// Starts `program ARGS` on a new terminal, in `dir`, with `env` added to the environment
    /// (and `TERM=dumb`).
    pub fn spawn(program: &Path, args: &[&str], dir: &Path, env: &[(&str, &Path)]) -> Terminal {
        let Some(script_tool) = crate::which("script") else {
            panic!("`script` (util-linux) is needed to give a program a terminal");
        };
        // -e: script's status is the program's; exec: the program is script's child.
        let mut cmd = Command::new(script_tool);
        cmd.arg("-qefc")
            .arg(format!("exec {} {}", program.display(), args.join(" ")))
            .arg("/dev/null")
            .current_dir(dir)
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Terminal {
            child,
            stdin,
            output,
            seen: Vec::new(),
        }
    }

    /// Waits until the terminal has shown `needle`; returns all it showed so far.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let start = Instant::now();
        while !String::from_utf8_lossy(&self.seen).contains(needle) {
            assert!(
                start.elapsed() < PATIENCE,
                "no {needle:?} on the terminal: {}",
                String::from_utf8_lossy(&self.seen)
            );
            if let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(100)) {
                self.seen.extend(bytes);
            }
        }
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// The program's pid (script's child, which exec'd it).
    pub fn pid(&self) -> i32 {
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let child = children.split_whitespace().next();
        child
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("script {pid} has no child"))
    }

    /// Waits for the program to end: its status and all the terminal showed.
    pub fn finish(mut self) -> (ExitStatus, String) {
        let status = crate::wait_for(&mut self.child, PATIENCE);
        drop(self.stdin.take());
        while let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(200)) {
            self.seen.extend(bytes);
        }
        (status, String::from_utf8_lossy(&self.seen).into_owned())
    }
}
