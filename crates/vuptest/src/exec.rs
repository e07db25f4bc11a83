//! Running one uptest: the [`Launcher`] seam and the real [`Process`] launcher.
//!
//! The real launcher gives the uptest one pipe as both stdout and stderr (so the two interleave
//! in the order written), an empty pipe as stdin (no /dev/null needed in the image), and its
//! own process group. It waits for the uptest to exit and its output to end, with a timeout
//! after which the whole group gets SIGKILL. When the uptest has exited but something it
//! started still holds the pipe open, it waits a short grace period, then kills the group and
//! stops reading; whatever is left in the group when the uptest ends is killed too.
//!
//! With a [`Reaper`] (the `vuptest` binary), every kill also sweeps the processes that left
//! the group (`setsid`, daemons): they are vuptest's descendants, and all of them die. The
//! pipe is never waited on for long: a holder outside vuptest's reach (one handed the fd
//! through a socket) costs at most `KILL_DRAIN`.

use crate::reaper::{pidfd_open, Reaper};
use crate::tail::{Captured, Tail};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vr_stop::Stop;

mod spawn_error;
pub use spawn_error::describe_spawn_error;

/// How long to keep reading after the uptest exited while its children still hold the pipe.
const EXIT_GRACE: Duration = Duration::from_millis(200);
/// How long to keep reading after the kill before giving up on the pipe (a process outside
/// the group may still hold it: one that left it with setsid when there is no [`Reaper`], or
/// one outside vuptest's tree that was handed the fd).
const KILL_DRAIN: Duration = Duration::from_millis(500);
/// How long an uptest may outlive a SIGINT/SIGTERM/SIGHUP forwarded to it.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
/// Poll tick when pidfd_open is not available (old kernels, seccomp).
const TICK: Duration = Duration::from_millis(5);
/// Spawn attempts after ETXTBSY ("text file busy") before reporting it.
const ETXTBSY_RETRIES: u32 = 5;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The uptest exited with this status.
    Exited(i32),
    /// A signal (not ours) ended it.
    Signaled(i32),
    /// It ran longer than the timeout and its process group was killed.
    TimedOut {
        /// The timeout that was exceeded.
        after: Duration,
    },
    /// It could not be started; the text says why.
    NotStarted(String),
}

impl Outcome {
    /// True only for exit status 0.
    pub fn passed(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

/// One run of one uptest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// How it ended.
    pub outcome: Outcome,
    /// Its combined stdout and stderr (a bounded tail).
    pub output: Captured,
    /// Wall time from start to end.
    pub duration: Duration,
}

/// Runs one uptest. The real one is [`Process`]; tests use a fake.
pub trait Launcher {
    /// Runs `path` with `args`, keeping the last `max_output` bytes of its output, and reports
    /// how it went. Never fails: a test that cannot be started is an [`Outcome::NotStarted`].
    fn launch(&mut self, path: &Path, args: &[&OsStr], max_output: usize) -> Attempt;

    /// The terminating signal received so far, if any: no further uptest is started.
    fn interrupted(&self) -> Option<i32> {
        None
    }
}

/// The real launcher: child processes with a timeout and a bounded output tail.
#[derive(Debug, Clone)]
pub struct Process {
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Set by SIGINT, SIGTERM or SIGHUP: the running uptest gets a moment to end, then is
    /// killed, and [`Launcher::interrupted`] says so.
    pub stop: Stop,
    /// Kills and reaps every descendant after each uptest; `None`: only its process group is
    /// killed (for callers with other children, such as a test harness).
    pub reaper: Option<Reaper>,
}

impl Launcher for Process {
    fn launch(&mut self, path: &Path, args: &[&OsStr], max_output: usize) -> Attempt {
        let start = Instant::now();
        let (outcome, output) = match self.run(path, args, max_output, start, true) {
            Ok(done) => done,
            Err(reason) => (Outcome::NotStarted(reason), Captured::default()),
        };
        Attempt {
            outcome,
            output,
            duration: start.elapsed(),
        }
    }

    fn interrupted(&self) -> Option<i32> {
        self.stop.signal()
    }
}

impl Process {
    fn run(
        &self,
        path: &Path,
        args: &[&OsStr],
        max_output: usize,
        start: Instant,
        use_pidfd: bool,
    ) -> Result<(Outcome, Captured), String> {
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| format!("cannot create output pipe: {}", io::Error::from(e)))?;
        let out_w2 = out_w
            .try_clone()
            .map_err(|e| format!("cannot duplicate output pipe: {e}"))?;
        // stdin: an empty pipe (its write end closed at once) reads as EOF, like /dev/null,
        // and needs no device node in the image.
        let (in_r, _in_w) = pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| format!("cannot create input pipe: {}", io::Error::from(e)))?;

        let mut cmd = Command::new(path);
        cmd.args(args)
            .stdin(Stdio::from(in_r))
            .stdout(Stdio::from(out_w))
            .stderr(Stdio::from(out_w2))
            .process_group(0);
        let spawned = spawn_retrying(&mut cmd);
        // Close our copies of the write ends, or the pipe never reaches EOF.
        drop(cmd);
        let child = spawned.map_err(|e| describe_spawn_error(path, &e))?;
        let pid = Pid::from_raw(child.id() as i32);
        // The child is reaped below with waitpid; std's handle is not needed any more.
        drop(child);
        vr_stop::forward_to_group(Some(pid.as_raw()));
        let pidfd = if use_pidfd {
            pidfd_open(pid.as_raw())
        } else {
            None
        };
        let result = self.supervise(pid, pidfd, out_r, Tail::new(max_output), start);
        vr_stop::forward_to_group(None);
        Ok(result)
    }

    /// Reads output and waits, enforcing the timeout; returns once the child is reaped.
    /// Without a pidfd, the exit is noticed by polling every [`TICK`].
    fn supervise(
        &self,
        pid: Pid,
        pidfd: Option<OwnedFd>,
        out: OwnedFd,
        mut tail: Tail,
        start: Instant,
    ) -> (Outcome, Captured) {
        let mut deadline = start + self.timeout;
        let mut interrupted_at: Option<Instant> = None;
        // The uptest's status once a sweep has reaped it.
        let mut reaped: Option<WaitStatus> = None;
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Some(out);
        let mut exited_at: Option<Instant> = None;
        let mut killed_at: Option<Instant> = None;
        let mut timed_out = false;

        loop {
            let now = Instant::now();
            if self.stop.signal().is_some() {
                // The signal was forwarded to the group; one that ignores it gets SIGKILL.
                let seen = *interrupted_at.get_or_insert(now);
                deadline = deadline.min(seen + INTERRUPT_GRACE);
            }
            if exited_at.is_none() && !timed_out && now >= deadline {
                self.kill_all(pid, &mut reaped);
                timed_out = true;
                killed_at = Some(now);
            }
            if let (Some(exited), true) = (exited_at, out.is_some()) {
                if killed_at.is_none() && now >= exited + EXIT_GRACE {
                    self.kill_all(pid, &mut reaped);
                    killed_at = Some(now);
                }
                if killed_at.is_some_and(|k| now >= k + KILL_DRAIN) {
                    out = None; // give up on a pipe held by a process outside the group
                }
            }
            if exited_at.is_some() && out.is_none() {
                break;
            }

            // Next moment something must be decided without an event.
            let mut wake = if exited_at.is_none() && !timed_out {
                deadline
            } else if let Some(k) = killed_at {
                k + KILL_DRAIN
            } else if let Some(e) = exited_at {
                e + EXIT_GRACE
            } else {
                now + KILL_DRAIN
            };
            if pidfd.is_none() && exited_at.is_none() {
                wake = wake.min(now + TICK);
            }
            let wait_ms = wake.saturating_duration_since(now).as_millis();
            let timeout =
                PollTimeout::try_from(wait_ms.min(60_000) as i32 + 1).unwrap_or(PollTimeout::MAX);

            let mut fds = Vec::with_capacity(2);
            if let Some(o) = &out {
                fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
            }
            let pidfd_slot = match (&pidfd, exited_at) {
                (Some(p), None) => {
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                    Some(fds.len() - 1)
                }
                _ => None,
            };
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => std::thread::sleep(TICK),
            }
            let out_ready = out.is_some()
                && fds
                    .first()
                    .and_then(|f| f.revents())
                    .is_some_and(|r| !r.is_empty());
            let exit_ready =
                pidfd_slot.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()));
            drop(fds);

            if out_ready {
                if let Some(o) = &out {
                    match nix::unistd::read(o.as_raw_fd(), &mut buf) {
                        Ok(0) => out = None,
                        Ok(n) => tail.push(&buf[..n]),
                        Err(Errno::EINTR | Errno::EAGAIN) => {}
                        Err(_) => out = None,
                    }
                }
            }
            if exited_at.is_none() && (exit_ready || (pidfd.is_none() && has_exited(pid))) {
                exited_at = Some(Instant::now());
            }
        }

        // Kill whatever it left behind, then reap it (unless a sweep already did).
        self.kill_all(pid, &mut reaped);
        let status = match reaped {
            Some(status) => outcome_of(status),
            None => reap(pid),
        };
        let outcome = if timed_out {
            Outcome::TimedOut {
                after: self.timeout,
            }
        } else {
            status
        };
        (outcome, tail.finish())
    }

    /// SIGKILLs the uptest's process group and, with a reaper, every other process it started;
    /// records the uptest's status in `reaped` when the sweep reaps it.
    fn kill_all(&self, pid: Pid, reaped: &mut Option<WaitStatus>) {
        // Until the uptest is reaped its pid (the group id) cannot be reused: the group kill
        // hits only what it left in its group. After that, only the sweep is safe.
        if reaped.is_none() {
            kill_group(pid);
        }
        if let Some(reaper) = &self.reaper {
            if let Some(status) = reaper.sweep(pid) {
                *reaped = Some(status);
            }
        }
    }
}

/// Spawns `cmd`, retrying a few times on ETXTBSY: a file just written by a process that has
/// forked meanwhile stays "busy" until that fork execs or exits, which takes microseconds.
fn spawn_retrying(cmd: &mut Command) -> io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < ETXTBSY_RETRIES => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5 * u64::from(tries)));
            }
            other => return other,
        }
    }
}

fn kill_group(pid: Pid) {
    // ESRCH (nobody left) is fine.
    let _ = killpg(pid, Signal::SIGKILL);
}

/// True once `pid` has exited, without reaping it.
fn has_exited(pid: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    !matches!(waitid(Id::Pid(pid), flags), Ok(WaitStatus::StillAlive))
}

/// Reaps `pid` and turns its status into an outcome.
fn reap(pid: Pid) -> Outcome {
    loop {
        match waitpid(pid, None) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                return outcome_of(status)
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Outcome::NotStarted(format!("cannot wait for the uptest: {e}")),
        }
    }
}

/// The outcome of a final wait status.
fn outcome_of(status: WaitStatus) -> Outcome {
    match status {
        WaitStatus::Exited(_, code) => Outcome::Exited(code),
        WaitStatus::Signaled(_, sig, _) => Outcome::Signaled(sig as i32),
        other => Outcome::NotStarted(format!("cannot wait for the uptest: {other:?}")),
    }
}

#[cfg(test)]
mod tests;
