//! [`Leftovers`]: the end of a container whose command ended while processes it left behind
//! keep LXC's init waiting.

use crate::sys::Sys;
use nix::sys::signal::Signal;
use std::path::Path;
use std::time::{Duration, Instant};

/// Ends a container whose command is gone while processes it left behind (orphans, which
/// LXC's init waits for) keep it running: once the command has been gone for
/// [`Leftovers::GRACE`], lxc-execute gets SIGTERM (its init then signals everything left and
/// kills it a second later), and SIGKILL [`Leftovers::KILL_AFTER`] later if it is still there.
#[derive(Debug, Default)]
pub struct Leftovers {
    command: Option<i32>,
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
                let _ = sys.kill(lxc_pid, Signal::SIGTERM);
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
    /// Whether the container's command has ended while lxc-execute still runs. LXC's init
    /// starts the command as a session leader (lxc-execute -> init -> command, pid == sid);
    /// what the command leaves behind is reparented to init but keeps the command's session.
    /// So: the command is init's child that leads its own session; when init has children
    /// and none of them leads a session, only leftovers remain.
    fn command_gone(&mut self, sys: &dyn Sys, lxc_pid: i32) -> bool {
        if let Some(command) = self.command {
            return !sys.exists(Path::new(&format!("/proc/{command}")));
        }
        let Some(init) = sys.children(lxc_pid).into_iter().min() else {
            return false;
        };
        let kids = sys.children(init);
        self.command = kids
            .iter()
            .copied()
            .filter(|&k| session_of(sys, k) == Some(k))
            .min();
        self.command.is_none() && !kids.is_empty()
    }
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
}
