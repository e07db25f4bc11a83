//! Running a command in a container with `lxc-execute` in the foreground: its init (PID 1)
//! reaps zombies, the command's status comes back, and SIGTERM/SIGINT/SIGHUP sent to us reach
//! the command (or end the whole container, [`ForwardTo`]); [`Ended`] says whether one did.

use crate::init::{container_target, init_catching, init_of};
use crate::leftovers::Leftovers;
use crate::sys::Sys;
use crate::{Error, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Instant;

/// The signals forwarded to the container's command.
pub const FORWARDED: &[Signal] = &[Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
}

impl Outcome {
    /// The shell convention: the status, or 128+N after signal N.
    pub fn code(&self) -> i32 {
        match *self {
            Outcome::Exited(c) => c,
            Outcome::Signaled(s) => 128 + s,
        }
    }
}

/// One `lxc-execute` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execute {
    /// Container name (unique among running containers of `lxcpath`).
    pub name: String,
    /// The rendered config file.
    pub config: PathBuf,
    /// `-P`: where LXC keeps per-container state (nothing is written there for `-f` configs).
    pub lxcpath: Option<PathBuf>,
    /// The command and its arguments, run inside the container.
    pub command: Vec<OsString>,
}

impl Execute {
    /// The program: `lxc-execute`.
    pub const PROGRAM: &'static str = "lxc-execute";

    /// The arguments of `lxc-execute`.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["-n".into(), self.name.clone().into()];
        args.push("-f".into());
        args.push(self.config.clone().into());
        if let Some(p) = &self.lxcpath {
            args.push("-P".into());
            args.push(p.clone().into());
        }
        args.push("--".into());
        args.extend(self.command.iter().cloned());
        args
    }

    /// A [`Command`] for it with a clean environment (only PATH; LXC clears the container's
    /// environment anyway and sets it from `lxc.environment`). The caller may change stdio
    /// before passing it to [`Foreground::spawn`].
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(Self::PROGRAM);
        cmd.args(self.args()).env_clear().env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
        cmd
    }
}

/// Where a signal received by the runner goes: the container command itself when it can be
/// found (lxc-execute → init → command, the lowest pid among init's children), so it gets the
/// very signal and all the time it wants to shut down; otherwise lxc-execute, which passes
/// SIGTERM/SIGINT to the container's init (and turns SIGHUP into SIGTERM).
pub fn forward_target(sys: &dyn Sys, lxc_pid: i32, signal: Signal) -> (i32, Signal) {
    let init = init_of(sys, lxc_pid);
    let command = init.and_then(|init| sys.children(init).into_iter().min());
    match command {
        Some(pid) => (pid, signal),
        None => (lxc_pid, signal),
    }
}

/// Where [`Foreground::wait_forwarding`] sends the signals it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardTo {
    /// The container's command itself (see [`forward_target`]): it gets the very signal and
    /// all the time it wants (a proc: SIGHUP stays SIGHUP, e.g. for a reload).
    Command,
    /// The container's init (SIGHUP as SIGTERM), directly or through lxc-execute (see
    /// [`crate::init`]): on SIGTERM init signals every process of the container and kills
    /// what is left a second later; SIGINT it passes to the command alone (an interactive
    /// shell ignores it).
    Container,
    /// SIGTERM to the container's init whatever the signal (as for `Container`): the
    /// container ends, every process of it
    /// (the command may clean up on SIGTERM; what is left is killed a second later), even when
    /// the command traps or ignores the signal received (a build being stopped).
    EndContainer,
}

/// How a [`Foreground`] child ended, and whether a signal was forwarded to it meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// How the child ended.
    pub outcome: Outcome,
    /// The first signal forwarded while waiting (received, or reported by the `stopped`
    /// callback of [`Foreground::wait_ended`]), as received: not the SIGTERM that
    /// [`ForwardTo::EndContainer`] sends for it.
    pub forwarded: Option<Signal>,
}

/// A child run in the foreground with [`FORWARDED`] signals and SIGCHLD blocked in this
/// thread, so none is lost between spawn and wait. Create it before starting other threads
/// (threads inherit the mask); the previous mask comes back on drop.
pub struct Foreground {
    child: Child,
    old_mask: SigSet,
}

fn waited_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    set
}

impl Foreground {
    /// Blocks the signals, then spawns `cmd` (which gets an empty signal mask).
    pub fn spawn(mut cmd: Command) -> Result<Foreground> {
        // A supervisor may have left SIGCHLD ignored, which would make the kernel reap our
        // child before we can read its status.
        // SAFETY: installing the default disposition has no preconditions.
        unsafe { nix::sys::signal::signal(Signal::SIGCHLD, nix::sys::signal::SigHandler::SigDfl) }
            .map_err(|source| Error::Signal {
                action: "reset the SIGCHLD handler",
                source,
            })?;
        let mut old_mask = SigSet::empty();
        nix::sys::signal::pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&waited_set()),
            Some(&mut old_mask),
        )
        .map_err(|source| Error::Signal {
            action: "block signals",
            source,
        })?;
        // SAFETY: between fork and exec only pthread_sigmask, close_range/fcntl and prctl
        // run, which are async-signal-safe and allocate nothing.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::signal::pthread_sigmask(
                    SigmaskHow::SIG_SETMASK,
                    Some(&SigSet::empty()),
                    None,
                )?;
                only_stdio_on_exec();
                // If we are killed outright (a supervisor's SIGKILL), lxc-execute gets SIGTERM
                // and hands it to the container's init, which ends every process of the
                // container (killing what ignores it a second later); LXC then removes its
                // cgroups. Not SIGKILL: lxc-execute would die without that, and the init of
                // a non-root proc, which has switched uid and so lost its own parent-death
                // signal, would run on with the app.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let program = cmd.get_program().to_string_lossy().into_owned();
        match cmd.spawn() {
            Ok(child) => Ok(Foreground { child, old_mask }),
            Err(source) => {
                let _ = nix::sys::signal::pthread_sigmask(
                    SigmaskHow::SIG_SETMASK,
                    Some(&old_mask),
                    None,
                );
                Err(Error::Spawn { program, source })
            }
        }
    }

    /// The child (take its pipes before [`Foreground::wait`]).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits for the child, forwarding each [`FORWARDED`] signal as [`forward_target`] says.
    pub fn wait(self, sys: &dyn Sys) -> Result<Outcome> {
        self.wait_forwarding(sys, ForwardTo::Command)
    }

    /// Waits for the child, forwarding each [`FORWARDED`] signal to `to`.
    ///
    /// When the container's command has ended but other processes it left behind keep the
    /// container alive, the container is ended (see [`Leftovers`]): the command's end is the
    /// proc's end.
    pub fn wait_forwarding(self, sys: &dyn Sys, to: ForwardTo) -> Result<Outcome> {
        self.wait_ended(sys, to, &|| None)
            .map(|ended| ended.outcome)
    }

    /// [`Foreground::wait_forwarding`], also saying which signal was forwarded first. The
    /// signals blocked here reach only this thread's wait; one that a handler in another
    /// thread caught (or that came just before the spawn) is seen through `stopped`, looked at
    /// every 200 ms, and forwarded once like a received one.
    pub fn wait_ended(
        self,
        sys: &dyn Sys,
        to: ForwardTo,
        stopped: &dyn Fn() -> Option<Signal>,
    ) -> Result<Ended> {
        let pid = self.child.id() as i32;
        let set = waited_set();
        let mut leftovers = Leftovers::default();
        let mut forwarded = None;
        let mut stop_forwarded = false;
        loop {
            leftovers.tick(sys, pid, Instant::now());
            let outcome = match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => Some(Outcome::Exited(code)),
                Ok(WaitStatus::Signaled(_, sig, _)) => Some(Outcome::Signaled(sig as i32)),
                Ok(_) => None,
                Err(source) => {
                    return Err(Error::Signal {
                        action: "wait for lxc-execute",
                        source,
                    })
                }
            };
            if let Some(outcome) = outcome {
                return Ok(Ended { outcome, forwarded });
            }
            let mut received = None;
            if !stop_forwarded {
                if let Some(signal) = stopped() {
                    stop_forwarded = true;
                    received = Some(signal);
                }
            }
            if received.is_none() {
                received = wait_signal(&set)?;
            }
            let Some(signal) = received.filter(|s| *s != Signal::SIGCHLD) else {
                continue;
            };
            forwarded.get_or_insert(signal);
            let (target, sig) = match to {
                ForwardTo::Command => forward_target(sys, pid, signal),
                // To init itself (see [`crate::init`]), as lxc-execute would pass it on.
                // lxc-execute turns SIGHUP into SIGTERM for init; init gets the same.
                ForwardTo::Container => {
                    let sig = match signal {
                        Signal::SIGHUP => Signal::SIGTERM,
                        other => other,
                    };
                    init_catching(sys, pid, sig).map_or((pid, signal), |init| (init, sig))
                }
                ForwardTo::EndContainer => {
                    (container_target(sys, pid, Signal::SIGTERM), Signal::SIGTERM)
                }
            };
            // The target may have just exited; its status arrives with SIGCHLD.
            let _ = sys.kill(target, sig);
        }
    }
}

/// Marks every descriptor but stdin, stdout and stderr close-on-exec, so that none of them
/// reaches the container: LXC passes what it inherits on to the container's command, and a
/// descriptor our caller left open (`flock DIR vimage ...` hands down the locked folder as fd
/// 3) would let the script or app reach the host's file system from it, as the containers'
/// root. Close-on-exec rather than closed: std's own pipe, which reports a failed exec, must
/// stay open until the exec. Runs between fork and exec (async-signal-safe calls only).
fn only_stdio_on_exec() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes descriptor flags.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if done {
        return;
    }
    // Before Linux 5.11: each possible descriptor in turn.
    // SAFETY: sysconf and fcntl(F_SETFD) have no memory preconditions; a descriptor that is
    // not open fails with EBADF, which is fine.
    unsafe {
        let max = match libc::sysconf(libc::_SC_OPEN_MAX) {
            n if n > 3 => n.min(1 << 20) as i32,
            _ => 1024,
        };
        for fd in 3..max {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

/// One of `set`, waited for at most 200 ms (`None` on timeout). A timed wait: in a process
/// with other threads the kernel may hand SIGCHLD to a thread that does not block it, so the
/// child's status is also polled.
fn wait_signal(set: &SigSet) -> Result<Option<Signal>> {
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: 200_000_000,
    };
    // SAFETY: `set` is a valid sigset, the info pointer may be null, `timeout` lives.
    let raw = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &timeout) };
    if raw < 0 {
        return match nix::errno::Errno::last() {
            nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR => Ok(None),
            source => Err(Error::Signal {
                action: "wait for signals",
                source,
            }),
        };
    }
    Ok(Signal::try_from(raw).ok())
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ =
            nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }
}

/// Spawns `cmd` with [`Foreground::spawn`] and waits for it.
pub fn run_foreground(sys: &dyn Sys, cmd: Command) -> Result<Outcome> {
    Foreground::spawn(cmd)?.wait(sys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    #[test]
    fn lxc_execute_args() {
        let mut e = Execute {
            name: "app-1".into(),
            config: "/apps/procs/app-1/proc.lxc".into(),
            lxcpath: None,
            command: vec!["/bin/sh".into(), "/proc.sh".into()],
        };
        assert_eq!(
            e.args(),
            [
                "-n",
                "app-1",
                "-f",
                "/apps/procs/app-1/proc.lxc",
                "--",
                "/bin/sh",
                "/proc.sh"
            ]
            .map(OsString::from)
        );
        e.lxcpath = Some("/tmp/x".into());
        assert_eq!(e.args()[4..6], ["-P", "/tmp/x"].map(OsString::from));
        let cmd = e.command();
        assert_eq!(cmd.get_program(), "lxc-execute");
        let envs: Vec<_> = cmd.get_envs().map(|(k, _)| k.to_owned()).collect();
        assert_eq!(envs, [OsString::from("PATH")]);
    }

    #[test]
    fn forwarding_decisions() {
        struct Case {
            name: &'static str,
            tree: &'static [(i32, &'static [i32])],
            signal: Signal,
            want: (i32, Signal),
        }
        let cases = [
            Case {
                name: "command found: the signal goes to it",
                tree: &[(10, &[11]), (11, &[13, 12])],
                signal: Signal::SIGHUP,
                want: (12, Signal::SIGHUP),
            },
            Case {
                name: "init not started yet: lxc-execute",
                tree: &[],
                signal: Signal::SIGTERM,
                want: (10, Signal::SIGTERM),
            },
            Case {
                name: "command not started yet: lxc-execute",
                tree: &[(10, &[11])],
                signal: Signal::SIGINT,
                want: (10, Signal::SIGINT),
            },
        ];
        for c in cases {
            let sys = FakeSys::default();
            for (pid, kids) in c.tree {
                sys.set_children(*pid, kids);
            }
            assert_eq!(forward_target(&sys, 10, c.signal), c.want, "{}", c.name);
        }
    }

    #[test]
    fn outcome_codes() {
        assert_eq!(Outcome::Exited(7).code(), 7);
        assert_eq!(Outcome::Signaled(15).code(), 143);
    }

    #[test]
    fn foreground_runs_and_forwards() {
        // A real child, no container: the status comes back, and a SIGTERM sent to the waiting
        // thread is forwarded (no process tree below the shell, so it goes to the shell). The
        // signal is thread-directed: other test threads must not see it.
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg("trap 'exit 9' TERM; touch \"$0\"; while :; do sleep 0.05; done")
            .arg(&ready);
        // SAFETY: gettid and getpid have no preconditions.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        let poller = std::thread::spawn(move || {
            while !ready.exists() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // SAFETY: tgkill with our own pid and a live thread id of ours.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGTERM) };
        });
        let sys = crate::sys::RealSys;
        let outcome = run_foreground(&sys, cmd).unwrap();
        poller.join().unwrap();
        assert_eq!(outcome, Outcome::Exited(9));
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "exit 3"]);
        assert_eq!(run_foreground(&sys, cmd).unwrap(), Outcome::Exited(3));
    }

    #[test]
    fn only_stdin_stdout_and_stderr_reach_the_child() {
        // A folder inherited as fd 3 and fd 42 (as `flock DIR vimage` hands one down).
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args([
            "-c",
            "for fd in 3 42; do [ -e /proc/$$/fd/$fd ] && exit $fd; done; exit 0",
        ]);
        vr_tests::with_inherited_dir(&mut cmd, 3, dir.path());
        vr_tests::with_inherited_dir(&mut cmd, 42, dir.path());
        let sys = crate::sys::RealSys;
        assert_eq!(run_foreground(&sys, cmd).unwrap(), Outcome::Exited(0));
        // Without Foreground the descriptors do get through (the check above can fail).
        let mut plain = Command::new("/bin/sh");
        plain.args(["-c", "[ -e /proc/$$/fd/42 ] && exit 42; exit 0"]);
        vr_tests::with_inherited_dir(&mut plain, 42, dir.path());
        assert_eq!(plain.status().unwrap().code(), Some(42));
    }

    /// A shell that traps INT, TERM and HUP (exit 2, 15, 1) and touches `ready` once it has.
    fn trapping_shell(ready: &std::path::Path) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(
                "trap 'exit 2' INT; trap 'exit 15' TERM; trap 'exit 1' HUP; touch \"$0\"; \
                 while :; do sleep 0.05; done",
            )
            .arg(ready);
        cmd
    }

    /// Sends `signal` to the calling thread once `ready` exists (thread-directed: other test
    /// threads must not see it).
    fn signal_me_when(ready: std::path::PathBuf, signal: Signal) -> std::thread::JoinHandle<()> {
        // SAFETY: gettid and getpid have no preconditions.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        std::thread::spawn(move || {
            while !ready.exists() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // SAFETY: tgkill with our own pid and a live thread id of ours.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, signal as i32) };
        })
    }

    #[test]
    fn the_first_forwarded_signal_is_reported() {
        let sys = crate::sys::RealSys;
        let cases = [
            (ForwardTo::Command, Signal::SIGINT, Outcome::Exited(2)),
            (ForwardTo::Container, Signal::SIGHUP, Outcome::Exited(1)),
            // Whatever the signal, the container is asked to end (SIGTERM).
            (ForwardTo::EndContainer, Signal::SIGINT, Outcome::Exited(15)),
            (ForwardTo::EndContainer, Signal::SIGHUP, Outcome::Exited(15)),
        ];
        for (to, signal, want) in cases {
            let dir = tempfile::tempdir().unwrap();
            let ready = dir.path().join("ready");
            let poller = signal_me_when(ready.clone(), signal);
            let fg = Foreground::spawn(trapping_shell(&ready)).unwrap();
            let ended = fg.wait_ended(&sys, to, &|| None).unwrap();
            poller.join().unwrap();
            assert_eq!(
                ended,
                Ended {
                    outcome: want,
                    forwarded: Some(signal)
                },
                "{to:?} {signal}"
            );
        }
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "exit 0"]);
        let ended = Foreground::spawn(cmd)
            .unwrap()
            .wait_ended(&sys, ForwardTo::EndContainer, &|| None)
            .unwrap();
        assert_eq!(
            ended,
            Ended {
                outcome: Outcome::Exited(0),
                forwarded: None
            }
        );
    }

    #[test]
    fn a_stop_caught_elsewhere_is_forwarded_once() {
        // A handler in another thread caught SIGINT (this thread blocks it): the wait sees the
        // request and forwards it as if it had received the signal itself.
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let asked = std::cell::Cell::new(0);
        let stopped = || {
            if !ready.exists() {
                return None;
            }
            asked.set(asked.get() + 1);
            Some(Signal::SIGINT)
        };
        let fg = Foreground::spawn(trapping_shell(&ready)).unwrap();
        let ended = fg
            .wait_ended(&crate::sys::RealSys, ForwardTo::Command, &stopped)
            .unwrap();
        assert_eq!(
            ended,
            Ended {
                outcome: Outcome::Exited(2),
                forwarded: Some(Signal::SIGINT)
            }
        );
        assert_eq!(asked.get(), 1, "asked until it said stop, then not again");
    }

    #[test]
    fn spawn_error_names_the_program() {
        let err = run_foreground(&FakeSys::default(), Command::new("/nonexistent/lxc-x"))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.to_string(), "cannot run `/nonexistent/lxc-x`");
    }
}
