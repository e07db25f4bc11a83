//! SIGINT/SIGTERM/SIGHUP while a build holds temp data: blocked, and looked for at each step,
//! so that the build stops at the next step boundary and cleans up instead of dying with a
//! mount or temp folder left behind. (During the container's run vr-lxc forwards them to the
//! script, which ends the build the same way.)

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};

const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

fn set() -> SigSet {
    let mut set = SigSet::empty();
    for s in SIGNALS {
        set.add(s);
    }
    set
}

/// The signals blocked in this thread (and the threads it starts) until dropped.
pub struct Blocked {
    old: SigSet,
}

impl Blocked {
    /// Blocks the signals.
    pub fn new() -> nix::Result<Blocked> {
        let mut old = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set()), Some(&mut old))?;
        Ok(Blocked { old })
    }

    /// A signal that arrived meanwhile, taken off the pending set (so it does not kill us when
    /// the mask is restored): the caller stops and reports it.
    pub fn take_pending(&self) -> Option<Signal> {
        let mut set_pending = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigpending fills the set it is given.
        if unsafe { libc::sigpending(set_pending.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: initialised by the successful sigpending above.
        let set_pending = unsafe { set_pending.assume_init() };
        for s in SIGNALS {
            // SAFETY: set_pending is an initialised sigset.
            if unsafe { libc::sigismember(&set_pending, s as i32) } == 1 {
                let one = {
                    let mut one = SigSet::empty();
                    one.add(s);
                    one
                };
                // Consume it: it is pending, so sigwait returns at once.
                let _ = one.wait();
                return Some(s);
            }
        }
        None
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}
