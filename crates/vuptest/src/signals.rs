//! SIGINT, SIGTERM and SIGHUP while an uptest runs.
//!
//! Each uptest runs in its own process group, so a Ctrl-C at a terminal (sent to vuptest's
//! group) or a supervisor's SIGTERM (sent to vuptest) would not reach it. The handler forwards
//! the signal to the running uptest's group and records it; the caller then stops starting
//! uptests and exits with 128 + the signal number.

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicI32, Ordering};

/// Process group of the uptest that runs now (0: none).
static CURRENT_GROUP: AtomicI32 = AtomicI32::new(0);
/// The first terminating signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

const FORWARDED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

extern "C" fn on_signal(sig: libc::c_int) {
    let _ = RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    let group = CURRENT_GROUP.load(Ordering::SeqCst);
    if group > 0 {
        // SAFETY: kill(2) is async-signal-safe; a negative pid addresses the process group.
        unsafe {
            libc::kill(-group, sig);
        }
    }
}

/// Installs the forwarding handler for SIGINT, SIGTERM and SIGHUP. Only the binary calls this.
pub fn install() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in FORWARDED {
        // SAFETY: the handler only touches atomics and calls kill(2), both async-signal-safe.
        unsafe { signal::sigaction(sig, &action) }?;
    }
    Ok(())
}

/// Records the process group of the uptest now running (`None` when it has ended). If a signal
/// arrived just before, it is forwarded now.
pub fn set_current_group(group: Option<i32>) {
    let group = group.unwrap_or(0);
    CURRENT_GROUP.store(group, Ordering::SeqCst);
    let sig = RECEIVED.load(Ordering::SeqCst);
    if group > 0 && sig != 0 {
        // SAFETY: plain kill(2) on the group we just started.
        unsafe {
            libc::kill(-group, sig);
        }
    }
}

/// The terminating signal received so far, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}
