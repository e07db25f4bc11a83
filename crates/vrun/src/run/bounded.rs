//! The time bounds of an uptest container and the marker it prints on reaching vuptest: a
//! container that overruns them is stopped.

use crate::cli::UptestFlags;
use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vr_lxc::RealSys;

/// What the uptest container prints on its stdout right before it starts vuptest (once the
/// proc's startup sequence, `.profile.d` included, is done); vrun takes it out.
pub(super) const REACHED_VUPTEST: &[u8] = b"\0vr:uptests\n";

/// How long an uptest container may take to reach vuptest without `--timeout`: vuptest's
/// default timeout.
const DEFAULT_STARTUP: Duration = Duration::from_secs(60);

/// How long lxc-execute gets to end the container after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long an uptest container may take: to reach vuptest, and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Until the script prints `REACHED_VUPTEST`.
    pub startup: Duration,
    /// Until the container has ended: nothing the app does (a `.profile.d` that prints the
    /// marker itself and hangs, an uptest that stops vuptest) keeps it running past this.
    pub total: Duration,
}

impl Bounds {
    /// The bounds of `vrun uptest` with these options over `count` uptests: the start gets
    /// `--timeout`; vuptest then needs at most `--retry-for`, plus `--timeout` and the time
    /// to kill what it started for each uptest (and once more for a rerun under way when the
    /// retry window closes), plus a margin.
    pub fn of_uptests(flags: &UptestFlags, count: usize) -> Bounds {
        let timeout = flags.timeout.unwrap_or(DEFAULT_STARTUP);
        let per_uptest = timeout + Duration::from_secs(5);
        let count = u32::try_from(count).unwrap_or(u32::MAX).saturating_add(1);
        Bounds {
            startup: timeout,
            total: timeout
                + flags.retry_for.unwrap_or_default()
                + per_uptest.saturating_mul(count)
                + Duration::from_secs(5),
        }
    }
}

/// Why a bounded container was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overran {
    /// It did not reach vuptest within [`Bounds::startup`].
    Startup,
    /// It did not end within [`Bounds::total`].
    Total,
}

/// Runs `cmd` (an lxc-execute whose script prints [`REACHED_VUPTEST`] first on its stdout) in
/// the foreground, passing the rest of its stdout on to ours; [`Overran`] when it overran
/// `bounds` (the container was then stopped).
pub(super) fn run_bounded(
    mut cmd: std::process::Command,
    bounds: Bounds,
) -> Result<std::result::Result<vr_lxc::Outcome, Overran>> {
    cmd.stdout(std::process::Stdio::piped());
    let mut fg = vr_lxc::Foreground::spawn(cmd)?;
    let pid = fg.child().id() as i32;
    let stdout = fg
        .child()
        .stdout
        .take()
        .context("no pipe to the container's stdout")?;
    let reached = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicBool::new(false));
    let stopped = Arc::new(std::sync::Mutex::new(None::<Overran>));
    // Both threads start after the spawn, so they inherit its blocked signal mask: the
    // signals stay the foreground wait's to forward.
    let reader = {
        let reached = Arc::clone(&reached);
        std::thread::spawn(move || pass_on_after_marker(stdout, &reached))
    };
    let watchdog = {
        let (reached, ended, stopped) = (
            Arc::clone(&reached),
            Arc::clone(&ended),
            Arc::clone(&stopped),
        );
        std::thread::spawn(move || {
            let start = Instant::now();
            let overran = loop {
                if ended.load(Ordering::SeqCst) {
                    return;
                }
                let reached = reached.load(Ordering::SeqCst);
                if !reached && start.elapsed() >= bounds.startup {
                    break Overran::Startup;
                }
                if start.elapsed() >= bounds.total {
                    break Overran::Total;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            if let Ok(mut slot) = stopped.lock() {
                *slot = Some(overran);
            }
            // lxc-execute hands SIGTERM to the container's init, which ends every process
            // in it; SIGKILL if that takes too long.
            // SAFETY: kill(2) on our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let stopping = Instant::now();
            while stopping.elapsed() < STOP_GRACE {
                if ended.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: as above; not yet reaped, since `ended` is set only after the wait.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        })
    };
    let outcome = fg.wait(&RealSys);
    ended.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    let _ = reader.join();
    let outcome = outcome?;
    match stopped.lock().ok().and_then(|slot| *slot) {
        Some(overran) => Ok(Err(overran)),
        None => Ok(Ok(outcome)),
    }
}

/// Copies `from` to our stdout, leaving out everything up to and including the first
/// [`REACHED_VUPTEST`] (and setting `reached` when it has come).
fn pass_on_after_marker(mut from: impl Read, reached: &AtomicBool) {
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    let mut out = std::io::stdout();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if reached.load(Ordering::SeqCst) {
            // A reader that went away (`| head`) is ignored: the pipe is drained all the same
            // so the container is never blocked on it.
            let _ = out.write_all(&buf[..n]);
            continue;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = find(&head, REACHED_VUPTEST) {
            reached.store(true, Ordering::SeqCst);
            let _ = out.write_all(&head[i + REACHED_VUPTEST.len()..]);
            head = Vec::new();
        } else if head.len() > 1 << 20 {
            // Nothing but the marker is printed before vuptest; keep the memory bounded.
            let keep = head.len() - REACHED_VUPTEST.len();
            head.drain(..keep);
        }
    }
    let _ = out.flush();
}

/// The index of the first `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_follows_the_marker_is_passed_on() {
        // The marker itself is what the container's printf writes.
        assert_eq!(REACHED_VUPTEST, b"\0vr:uptests\n");
        assert_eq!(find(b"ab\0vr:uptests\n[]", REACHED_VUPTEST), Some(2));
        assert_eq!(find(b"ab", REACHED_VUPTEST), None);
    }

    #[test]
    fn the_bounds_of_uptests() {
        let flags = UptestFlags {
            timeout: Some(Duration::from_secs(2)),
            retry_for: Some(Duration::from_secs(3)),
            ..UptestFlags::default()
        };
        assert_eq!(
            Bounds::of_uptests(&flags, 4),
            Bounds {
                startup: Duration::from_secs(2),
                // 2 + 3 + (4 + 1) * (2 + 5) + 5
                total: Duration::from_secs(45),
            }
        );
        let default = Bounds::of_uptests(&UptestFlags::default(), 0);
        assert_eq!(default.startup, Duration::from_secs(60));
        assert_eq!(default.total, Duration::from_secs(60 + 65 + 5));
    }
}
