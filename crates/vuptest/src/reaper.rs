//! Killing everything an uptest started, including processes that left its process group.
//!
//! A process group is not a fence: `setsid` (or a double-forked daemon) leaves it. Uptests run
//! as a non-root user in containers without a usable cgroup filesystem, so vuptest cannot put
//! them in a cgroup either. Instead vuptest becomes a *child subreaper*
//! (`PR_SET_CHILD_SUBREAPER`): a process whose parent dies is re-parented to vuptest, not to
//! the container's init, so everything an uptest started stays in vuptest's process tree.
//! After each uptest, [`Reaper::sweep`] walks /proc, SIGKILLs every descendant of vuptest and
//! reaps them, round after round (the children of a killed process are re-parented to
//! vuptest and show up in the next round) until none is left.
//!
//! Processes that were already vuptest's children when it started (a shell's background job
//! before `exec vuptest`) and their descendants are left alone: no uptest started them.
//!
//! The sweep reaps *every* child (`waitpid(-1)`), so only a process whose children are all
//! uptests may use it: the `vuptest` binary, not a threaded test harness. [`descendants`] is
//! the decision, a pure function over a process table, tested on its own.

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long one sweep keeps killing before it gives up (a process stuck in uninterruptible
/// sleep cannot die until it wakes); the next uptest's sweep tries again.
const SWEEP_LIMIT: Duration = Duration::from_secs(5);
/// Longest pause between two rounds of a sweep.
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// One process as /proc shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// When it started, in clock ticks after boot: with the pid, it names one process even
    /// after the pid is reused.
    pub start: u64,
    /// True for a zombie (exited, waiting to be reaped).
    pub zombie: bool,
}

/// Makes this process a child subreaper: orphans below it are re-parented to it.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// The processes below `root` in `table` (children, their children, ...), parents before
/// their children, leaving out the processes in `spared` (by pid and start time) and
/// everything below them.
pub fn descendants(table: &[Row], root: i32, spared: &[(i32, u64)]) -> Vec<Row> {
    let mut children: HashMap<i32, Vec<&Row>> = HashMap::new();
    for row in table {
        children.entry(row.ppid).or_default().push(row);
    }
    let mut seen = HashSet::from([root]);
    let mut found = Vec::new();
    let mut next = 0;
    let mut parents = vec![root];
    while let Some(&parent) = parents.get(next) {
        next += 1;
        for row in children.get(&parent).into_iter().flatten() {
            if spared.contains(&(row.pid, row.start)) || !seen.insert(row.pid) {
                continue;
            }
            found.push(**row);
            parents.push(row.pid);
        }
    }
    found
}

/// Parses `/proc/<pid>/stat`: `pid (comm) state ppid ...`, with start time as field 22. The
/// command name may hold spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Row> {
    let (head, tail) = text.rsplit_once(')')?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    let fields: Vec<&str> = tail.split_whitespace().collect();
    Some(Row {
        pid,
        zombie: *fields.first()? == "Z",
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every process in /proc (those that vanish while it is read are left out).
pub fn proc_table() -> io::Result<Vec<Row>> {
    let mut table = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some(row) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        {
            table.push(row);
        }
    }
    Ok(table)
}

/// Kills and reaps what the uptests leave behind (see the module docs).
#[derive(Debug, Clone)]
pub struct Reaper {
    me: i32,
    spared: Vec<(i32, u64)>,
}

impl Reaper {
    /// A reaper for this process that spares its current children (by pid and start time).
    /// Call it before the first uptest starts.
    pub fn for_this_process() -> Reaper {
        let me = std::process::id() as i32;
        let spared = proc_table()
            .unwrap_or_default()
            .iter()
            .filter(|r| r.ppid == me)
            .map(|r| (r.pid, r.start))
            .collect();
        Reaper { me, spared }
    }

    /// SIGKILLs every descendant that is not spared and reaps every child, until none is left
    /// (or `SWEEP_LIMIT` has passed). Returns the status of `main` when this reaped it.
    /// Without /proc it only reaps what has already exited.
    pub fn sweep(&self, main: Pid) -> Option<WaitStatus> {
        let give_up = Instant::now() + SWEEP_LIMIT;
        let mut main_status = None;
        let mut pause = Duration::from_millis(1);
        loop {
            if !reap_exited(main, &mut main_status) {
                break; // no children at all, so no descendants: the usual case
            }
            let Ok(table) = proc_table() else { break };
            let left = descendants(&table, self.me, &self.spared);
            if left.is_empty() || Instant::now() >= give_up {
                break;
            }
            for row in left.iter().filter(|r| !r.zombie) {
                kill_exactly(row);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(MAX_PAUSE);
        }
        main_status
    }
}

/// Reaps every child that has exited, keeping `main`'s status. False when there are no
/// children left at all.
fn reap_exited(main: Pid, main_status: &mut Option<WaitStatus>) -> bool {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return true,
            Ok(status) => {
                if status.pid() == Some(main) {
                    *main_status = Some(status);
                }
            }
            Err(Errno::EINTR) => {}
            Err(_) => return false, // ECHILD
        }
    }
}

/// SIGKILLs the process of `row`, and no other process that got its pid since the table was
/// read: a pidfd pins the process, then its start time is checked.
fn kill_exactly(row: &Row) {
    let same = || {
        fs::read_to_string(format!("/proc/{}/stat", row.pid))
            .ok()
            .and_then(|s| parse_stat(&s))
            .is_some_and(|now| now.start == row.start)
    };
    match pidfd_open(row.pid) {
        Some(fd) => {
            if same() {
                // SAFETY: pidfd_send_signal takes a pidfd we own, a signal number, a null
                // siginfo and no flags.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    );
                }
            }
        }
        // No pidfds (old kernel, seccomp): check, then kill by pid.
        None => {
            if same() {
                let _ = nix::sys::signal::kill(Pid::from_raw(row.pid), nix::sys::signal::SIGKILL);
            }
        }
    }
}

/// A pidfd for `pid` (Linux 5.3+); `None` where unavailable or the process is gone.
pub(crate) fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the syscall returned a fresh fd that nothing else owns (pidfds are CLOEXEC).
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: i32, ppid: i32) -> Row {
        Row {
            pid,
            ppid,
            start: pid as u64 * 10,
            zombie: false,
        }
    }

    #[test]
    fn descendants_follow_parents_and_skip_the_spared() {
        // 100 is vuptest; 1 is init; 2 kthreadd.
        let table = [
            row(1, 0),
            row(2, 0),
            row(50, 1),   // unrelated
            row(100, 50), // vuptest
            row(101, 100),
            row(102, 101),
            row(103, 102),
            row(104, 100), // an orphan re-parented to vuptest
            row(105, 104),
            row(110, 100), // spared: started before vuptest
            row(111, 110), // its child: spared too
            row(120, 1),   // escaped before the subreaper existed: not ours
            row(130, 130), // a malformed row pointing at itself
        ];
        let pids = |found: Vec<Row>| found.iter().map(|r| r.pid).collect::<Vec<_>>();
        // (root, spared, expected in order)
        type Case = (i32, &'static [(i32, u64)], &'static [i32]);
        let cases: &[Case] = &[
            (100, &[(110, 1100)], &[101, 104, 102, 105, 103]),
            (100, &[], &[101, 104, 110, 102, 105, 111, 103]),
            // A spared pid with another start time is a different process: not spared.
            (100, &[(110, 999)], &[101, 104, 110, 102, 105, 111, 103]),
            (103, &[], &[]),
            (104, &[], &[105]),
            (130, &[], &[]),
            (999, &[], &[]),
        ];
        for (root, spared, want) in cases {
            assert_eq!(
                pids(descendants(&table, *root, spared)),
                *want,
                "root {root} spared {spared:?}"
            );
        }
    }

    #[test]
    fn descendants_survive_a_cycle() {
        let table = [row(1, 2), row(2, 1), row(3, 1)];
        let got: Vec<i32> = descendants(&table, 1, &[]).iter().map(|r| r.pid).collect();
        assert_eq!(got, [2, 3]);
    }

    #[test]
    fn stat_lines_are_parsed_from_the_last_parenthesis() {
        // Fields 10 to 21, then the start time (22) and more.
        let tail = "0 0 0 0 0 0 0 0 0 0 0 0 777 1 2 3";
        let cases: Vec<(String, Option<Row>)> = vec![
            (
                format!("42 (sleep) S 7 42 42 0 -1 4194304 {tail}"),
                Some(Row {
                    pid: 42,
                    ppid: 7,
                    start: 777,
                    zombie: false,
                }),
            ),
            (
                format!("43 (a) b (c) Z 1 0 0 0 -1 0 {tail}"),
                Some(Row {
                    pid: 43,
                    ppid: 1,
                    start: 777,
                    zombie: true,
                }),
            ),
            ("44 (x) S 1".into(), None),
            ("garbage".into(), None),
            (
                "x (y) S 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5".into(),
                None,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_stat(&text), want, "{text}");
        }
    }

    #[test]
    fn this_process_is_in_the_table() {
        let me = std::process::id() as i32;
        let table = proc_table().unwrap();
        let row = table.iter().find(|r| r.pid == me).unwrap();
        assert_eq!(row.ppid, nix::unistd::getppid().as_raw());
        assert!(!row.zombie);
    }
}
