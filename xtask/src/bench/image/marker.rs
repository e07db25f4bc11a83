//! Timing a command until the first line that holds [`MARKER`] appears on its output.

use super::MARKER;
use crate::util;
use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which output of a command carries the marker.
#[derive(Clone, Copy)]
pub enum Watch {
    Stdout,
    Stderr,
}

/// Runs `cmd` with the watched output piped (the other discarded) and returns the time from
/// spawn until a line containing [`MARKER`] arrived and until the command ended. Fails unless
/// it exits 0 after printing the marker, showing the last lines it printed.
pub fn time_to_marker(mut cmd: Command, watch: Watch) -> Result<(Duration, Duration)> {
    cmd.stdin(Stdio::null());
    match watch {
        Watch::Stdout => cmd.stdout(Stdio::piped()).stderr(Stdio::null()),
        Watch::Stderr => cmd.stdout(Stdio::null()).stderr(Stdio::piped()),
    };
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", util::show(&cmd)))?;
    let pipe: Option<Box<dyn Read>> = match watch {
        Watch::Stdout => child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
        Watch::Stderr => child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
    };
    let mut first = None;
    let mut tail = VecDeque::new();
    let read = pipe.map(|pipe| -> std::io::Result<()> {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line)? > 0 {
            let text = String::from_utf8_lossy(&line).into_owned();
            if first.is_none() && text.contains(MARKER) {
                first = Some(start.elapsed());
            }
            tail.push_back(text);
            if tail.len() > 20 {
                tail.pop_front();
            }
            line.clear();
        }
        Ok(())
    });
    if !matches!(read, Some(Ok(()))) {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for {}", util::show(&cmd)))?;
    let total = start.elapsed();
    let tail: String = tail.into_iter().collect();
    match read {
        Some(Ok(())) => {}
        Some(Err(e)) => bail!("cannot read the output of {}: {e}", util::show(&cmd)),
        None => bail!("no pipe to {}", util::show(&cmd)),
    }
    if !status.success() {
        bail!("`{}` failed: {status}\n{tail}", util::show(&cmd));
    }
    let first =
        first.with_context(|| format!("`{}` never printed {MARKER}\n{tail}", util::show(&cmd)))?;
    Ok((first, total))
}
