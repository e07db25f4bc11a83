//! Where a signal meant for the whole container goes: LXC's init itself, when it can take it.
//!
//! `lxc-execute` passes SIGTERM and SIGINT on to the container's init, but not when it runs
//! on a terminal: its terminal code reads SIGTERM too, as "detach from the terminal", and it
//! then leaves without waiting for init (exit 1, `Child process is not killed`), so a shell's
//! status was lost. Init (pid 1 of the container's pid namespace, lxc-execute's child) takes
//! SIGTERM as "end everything" (SIGTERM to every process, SIGKILL a second later, then it
//! exits with the command's status) and hands other signals to the command. The kernel drops
//! a signal sent to a namespace's init from outside unless init catches it, so init is used
//! only once it does (it installs its handlers as it starts); until then lxc-execute is.

use crate::sys::Sys;
use nix::sys::signal::Signal;
use std::path::Path;

/// The container's init: lxc-execute `lxc_pid`'s first child (the lowest pid; hooks LXC runs
/// on the host come later).
pub(crate) fn init_of(sys: &dyn Sys, lxc_pid: i32) -> Option<i32> {
    sys.children(lxc_pid).into_iter().min()
}

/// Where to send `signal` to reach the container of lxc-execute `lxc_pid`: its init when that
/// is running and catches `signal`, else lxc-execute.
pub(crate) fn container_target(sys: &dyn Sys, lxc_pid: i32, signal: Signal) -> i32 {
    init_catching(sys, lxc_pid, signal).unwrap_or(lxc_pid)
}

/// The container's init, when it is pid 1 of its namespace and catches `signal`.
pub(crate) fn init_catching(sys: &dyn Sys, lxc_pid: i32, signal: Signal) -> Option<i32> {
    let init = init_of(sys, lxc_pid)?;
    let status = sys
        .read_to_string(Path::new(&format!("/proc/{init}/status")))
        .ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let ns_pid = field("NSpid:")?.split_whitespace().last()?;
    let caught = u64::from_str_radix(field("SigCgt:")?, 16).ok()?;
    let bit = 1u64 << (signal as i32 - 1);
    (ns_pid == "1" && caught & bit != 0).then_some(init)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    #[test]
    fn init_only_when_it_is_pid_1_and_catches_the_signal() {
        // SigCgt of LXC 5's init: every signal but SIGKILL, SIGSTOP and a few others.
        const LXC_INIT: &str = "fffffffe7ffbfab7";
        let cases = [
            // (NSpid line, SigCgt, signal) -> target
            (Some("NSpid:\t101\t1"), LXC_INIT, Signal::SIGTERM, 101),
            (Some("NSpid:\t101\t1"), LXC_INIT, Signal::SIGINT, 101),
            (Some("NSpid:\t101\t1"), LXC_INIT, Signal::SIGHUP, 101),
            // Still LXC's setup code: no handlers yet, the kernel would drop the signal.
            (
                Some("NSpid:\t101\t1"),
                "0000000000000000",
                Signal::SIGTERM,
                100,
            ),
            // Catches SIGINT (bit 1) only.
            (
                Some("NSpid:\t101\t1"),
                "0000000000000002",
                Signal::SIGTERM,
                100,
            ),
            (
                Some("NSpid:\t101\t1"),
                "0000000000000002",
                Signal::SIGINT,
                101,
            ),
            // Not a namespace's init (a hook, say), or a kernel without NSpid.
            (Some("NSpid:\t101"), LXC_INIT, Signal::SIGTERM, 100),
            (None, LXC_INIT, Signal::SIGTERM, 100),
        ];
        for (ns, caught, signal, want) in cases {
            let sys = FakeSys::default();
            sys.set_children(100, &[105, 101]);
            let mut status = String::from("Name:\tinit\n");
            if let Some(ns) = ns {
                status.push_str(ns);
                status.push('\n');
            }
            status.push_str(&format!("SigBlk:\t0000000000000000\nSigCgt:\t{caught}\n"));
            sys.set_file("/proc/101/status", &status);
            assert_eq!(
                container_target(&sys, 100, signal),
                want,
                "{ns:?} {caught} {signal:?}"
            );
        }
        // lxc-execute has no child yet.
        let sys = FakeSys::default();
        assert_eq!(container_target(&sys, 100, Signal::SIGTERM), 100);
    }
}
