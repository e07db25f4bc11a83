//! [`Leftovers`]: the end of a container whose command ended while processes it left behind
//! keep LXC's init waiting.

use crate::init::{container_target, init_of};
use crate::sys::Sys;
use nix::sys::signal::Signal;
use std::path::Path;
use std::time::{Duration, Instant};

/// Ends a container whose command is gone while processes it left behind (orphans, which
/// LXC's init waits for) keep it running: once the command has been gone for
/// [`Leftovers::GRACE`], the container's init gets SIGTERM (directly, or through lxc-execute
/// until init catches it: see [`crate::init`]; it then signals everything left and kills it a
/// second later), and lxc-execute SIGKILL [`Leftovers::KILL_AFTER`] later if it is still
/// there.
#[derive(Debug, Default)]
pub struct Leftovers {
    gone_since: Option<Instant>,
    terminated_at: Option<Instant>,
    killed: bool,
}

impl Leftovers {
    /// How long the command must be gone before the rest is ended (lets a container that ends
    /// by itself do so).
    pub const GRACE: Duration = Duration::from_millis(300);
    /// How long after SIGTERM lxc-execute gets SIGKILL.
    pub const KILL_AFTER: Duration = Duration::from_secs(5);

    /// One look at lxc-execute `lxc_pid` at time `now`; sends what is due.
    pub fn tick(&mut self, sys: &dyn Sys, lxc_pid: i32, now: Instant) {
        if !self.command_gone(sys, lxc_pid) {
            return;
        }
        let gone_since = *self.gone_since.get_or_insert(now);
        match self.terminated_at {
            None if now.duration_since(gone_since) >= Self::GRACE => {
                let target = container_target(sys, lxc_pid, Signal::SIGTERM);
                let _ = sys.kill(target, Signal::SIGTERM);
                self.terminated_at = Some(now);
            }
            Some(t) if !self.killed && now.duration_since(t) >= Self::KILL_AFTER => {
                let _ = sys.kill(lxc_pid, Signal::SIGKILL);
                self.killed = true;
            }
            _ => {}
        }
    }
}

impl Leftovers {
    /// Whether the container's command has ended while lxc-execute still runs. LXC's init is
    /// pid 1 of the container's pid namespace and forks the command first, so the command is
    /// pid 2 there ([`COMMAND_NS_PID`]); what the command leaves behind is reparented to init
    /// and has another pid (pids are not reused before they wrap). So: when init has children
    /// and none of them is pid 2 inside, only leftovers remain. A daemon in a session of its
    /// own (`setsid`, a server forking into the background) is a leftover too.
    ///
    /// On a kernel whose `/proc/<pid>/status` has no `NSpid:` line (before 4.1) the command is
    /// init's child that leads its own session (LXC's init makes it a session leader), which a
    /// `setsid` daemon left behind also is.
    fn command_gone(&mut self, sys: &dyn Sys, lxc_pid: i32) -> bool {
        let Some(init) = init_of(sys, lxc_pid) else {
            return false;
        };
        let kids = sys.children(init);
        let alive = kids.iter().any(|&k| match ns_pid(sys, k) {
            Some(ns) => ns == COMMAND_NS_PID,
            None => session_of(sys, k) == Some(k),
        });
        if alive {
            // A misread while it was being looked at must not shorten the grace later.
            self.gone_since = None;
        }
        !alive && !kids.is_empty()
    }
}

/// The command's pid in the container's pid namespace: LXC's init (pid 1) forks it first.
const COMMAND_NS_PID: i32 = 2;

/// The pid of `pid` in its innermost pid namespace, from the last field of the `NSpid:` line
/// of `/proc/<pid>/status`.
fn ns_pid(sys: &dyn Sys, pid: i32) -> Option<i32> {
    let status = sys
        .read_to_string(Path::new(&format!("/proc/{pid}/status")))
        .ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// The session id of `pid`, from `/proc/<pid>/stat` (the 4th field after the command name).
fn session_of(sys: &dyn Sys, pid: i32) -> Option<i32> {
    let stat = sys
        .read_to_string(Path::new(&format!("/proc/{pid}/stat")))
        .ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    #[test]
    fn leftovers_end_the_container_only_after_the_command_is_gone() {
        let stat = |sys: &FakeSys, pid: i32, sid: i32| {
            sys.set_file(
                format!("/proc/{pid}/stat"),
                &format!("{pid} (a b) S 1 {sid} {sid} 0 -1"),
            );
        };
        let t0 = Instant::now();
        // The command (a session leader) runs: nothing is sent, however long.
        let sys = FakeSys::default();
        sys.set_children(100, &[101]);
        sys.set_children(101, &[102, 150]);
        stat(&sys, 102, 102);
        stat(&sys, 150, 102);
        sys.set_exists("/proc/102");
        let mut l = Leftovers::default();
        l.tick(&sys, 100, t0);
        l.tick(&sys, 100, t0 + Duration::from_secs(60));
        assert!(
            sys.calls().iter().all(|c| !c.starts_with("kill")),
            "command alive: nothing sent"
        );
        // Init has just started: no children yet, nothing sent.
        let sys = FakeSys::default();
        sys.set_children(100, &[101]);
        let mut l = Leftovers::default();
        l.tick(&sys, 100, t0 + Duration::from_secs(60));
        assert!(sys.calls().iter().all(|c| !c.starts_with("kill")));

        // The command ended before it was ever seen; its orphan (session 102) remains.
        let sys = FakeSys::default();
        sys.set_children(100, &[101]);
        sys.set_children(101, &[150]);
        stat(&sys, 150, 102);
        let mut l = Leftovers::default();
        l.tick(&sys, 100, t0);
        l.tick(&sys, 100, t0 + Duration::from_millis(100)); // gone, within grace
        assert!(sys.calls().iter().all(|c| !c.starts_with("kill")));
        l.tick(&sys, 100, t0 + Duration::from_millis(500));
        l.tick(&sys, 100, t0 + Duration::from_millis(700));
        let kills: Vec<String> = sys
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("kill"))
            .collect();
        assert_eq!(kills, ["kill SIGTERM 100"]);
        l.tick(&sys, 100, t0 + Duration::from_secs(6));
        l.tick(&sys, 100, t0 + Duration::from_secs(7));
        let kills: Vec<String> = sys
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("kill"))
            .collect();
        assert_eq!(kills, ["kill SIGTERM 100", "kill SIGKILL 100"]);
    }

    #[test]
    fn the_command_is_pid_2_of_the_container_and_a_setsid_daemon_is_a_leftover() {
        // Host pid, pid inside, session: every process here leads its own session.
        let proc = |sys: &FakeSys, pid: i32, ns: i32| {
            sys.set_file(
                format!("/proc/{pid}/status"),
                &format!("Name:\tsh\nNSpid:\t{pid}\t{ns}\nUid:\t0\n"),
            );
            sys.set_file(
                format!("/proc/{pid}/stat"),
                &format!("{pid} (sh) S 1 {pid} {pid} 0 -1"),
            );
        };
        let kills = |sys: &FakeSys| -> Vec<String> {
            sys.calls()
                .into_iter()
                .filter(|c| c.starts_with("kill"))
                .collect()
        };
        let t0 = Instant::now();
        // The command (pid 2 inside) and a daemon it started in a session of its own.
        let sys = FakeSys::default();
        sys.set_children(100, &[101]);
        sys.set_children(101, &[102, 150]);
        proc(&sys, 102, 2);
        proc(&sys, 150, 9);
        let mut l = Leftovers::default();
        l.tick(&sys, 100, t0);
        l.tick(&sys, 100, t0 + Duration::from_secs(60));
        assert_eq!(kills(&sys), Vec::<String>::new(), "the command runs");

        // The command ended before it was ever looked at: only the daemon is left.
        let sys = FakeSys::default();
        sys.set_children(100, &[101]);
        sys.set_children(101, &[150]);
        proc(&sys, 150, 9);
        let mut l = Leftovers::default();
        l.tick(&sys, 100, t0);
        l.tick(&sys, 100, t0 + Duration::from_millis(100));
        assert_eq!(kills(&sys), Vec::<String>::new(), "within the grace");
        l.tick(&sys, 100, t0 + Duration::from_millis(400));
        assert_eq!(kills(&sys), ["kill SIGTERM 100"]);
    }
}
