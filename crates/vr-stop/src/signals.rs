//! SIGINT, SIGTERM and SIGHUP as a value to look at.
//!
//! [`Stop::install`] (binaries only) replaces the default action of the three signals with a
//! handler that records the first one in the process's [`Stop`] flag; the tool then stops at
//! its next check, cleans up and exits 128+N. Without `SA_RESTART`, so a read waiting on a
//! silent server returns `EINTR` and the loop around it sees the flag. A second signal kills
//! the process at once (for a step that hangs), unless a child's process group is registered
//! with [`forward_to_group`]: then every signal is passed on to that group, whose processes
//! the tool is waiting for.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signals that stop a tool.
pub const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The process's flag, set by the handler (0: no signal yet).
static PROCESS: AtomicI32 = AtomicI32::new(0);
/// The process group signals are forwarded to (0: none).
static GROUP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    let first = PROCESS
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    let group = GROUP.load(Ordering::SeqCst);
    if group > 0 {
        // SAFETY: kill(2) is async-signal-safe; a negative pid addresses the process group.
        unsafe {
            libc::kill(-group, signal);
        }
    } else if !first {
        // The second one: no more waiting.
        // SAFETY: signal(2) and raise(3) are async-signal-safe.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// Asked to stop by signal N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by signal {0}")]
pub struct Interrupted(pub i32);

impl Interrupted {
    /// The exit status it calls for: 128+N.
    pub fn exit(self) -> crate::Exit {
        crate::Exit::Signal(self.0)
    }
}

/// A stop request: set once by a signal (or by [`Stop::request`]), looked at by long loops.
/// Copy it freely; all copies share one flag.
#[derive(Debug, Clone, Copy)]
pub struct Stop {
    flag: &'static AtomicI32,
}

impl Stop {
    /// A flag no signal sets: for tests and for callers that never stop early. (Each one is a
    /// few bytes that live until the process ends.)
    pub fn new() -> Stop {
        Stop {
            flag: Box::leak(Box::new(AtomicI32::new(0))),
        }
    }

    /// The process's flag, with SIGINT, SIGTERM and SIGHUP now setting it (see the module
    /// docs). Calling it again is harmless.
    pub fn install() -> std::io::Result<Stop> {
        for signal in SIGNALS {
            // SAFETY: a zeroed sigaction is valid; the handler only touches atomics and calls
            // async-signal-safe functions.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(Stop::process())
    }

    /// The process's flag without installing anything (set only after [`Stop::install`]).
    pub fn process() -> Stop {
        Stop { flag: &PROCESS }
    }

    /// The signal that asked to stop, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.flag.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }

    /// Records `signal` as the reason to stop (the first one recorded stays).
    pub fn request(&self, signal: i32) {
        let _ = self
            .flag
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// [`Interrupted`] once a stop was asked for.
    pub fn check(&self) -> Result<(), Interrupted> {
        match self.signal() {
            Some(signal) => Err(Interrupted(signal)),
            None => Ok(()),
        }
    }
}

impl Default for Stop {
    fn default() -> Stop {
        Stop::new()
    }
}

/// Registers the process group of the child the tool now waits for (`None` once it ended):
/// the signals are forwarded to it. One that arrived just before is forwarded now.
pub fn forward_to_group(group: Option<i32>) {
    let group = group.unwrap_or(0);
    GROUP.store(group, Ordering::SeqCst);
    let signal = PROCESS.load(Ordering::SeqCst);
    if group > 0 && signal != 0 {
        // SAFETY: plain kill(2) on a group the caller just started.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_of_its_own() {
        let a = Stop::new();
        let b = Stop::new();
        assert_eq!(a.check(), Ok(()));
        let copy = a;
        copy.request(15);
        copy.request(2);
        assert_eq!(a.signal(), Some(15), "the first request stays");
        assert_eq!(a.check(), Err(Interrupted(15)));
        assert_eq!(Interrupted(15).to_string(), "interrupted by signal 15");
        assert_eq!(Interrupted(2).exit().code(), 130);
        assert_eq!(b.signal(), None);
    }

    #[test]
    fn a_real_signal_sets_the_process_flag() {
        let stop = Stop::install().unwrap();
        // SAFETY: raise(3) sends SIGHUP to this thread, whose handler was just installed.
        assert_eq!(unsafe { libc::raise(libc::SIGHUP) }, 0);
        assert_eq!(stop.signal(), Some(libc::SIGHUP));
        assert_eq!(Stop::process().signal(), Some(libc::SIGHUP));
    }
}
