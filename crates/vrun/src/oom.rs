//! Was the proc ended by the out-of-memory killer? A proc killed at its `mem_limit` exits 137
//! like one killed by any SIGKILL; the kernel's log tells them apart. Its OOM record names the
//! memory cgroup that hit its limit (`oom_memcg=/lxc.payload.<container>`), so vrun reads the
//! kernel log (`/dev/kmsg`, root only; the containers cannot write it) from where it stood
//! when the proc started, and looks for a record naming its container.
//!
//! The cgroup's own counters cannot be used: LXC removes the container's cgroups before
//! lxc-execute exits.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;

/// The kernel log, read from the point it was opened at.
pub struct KernelLog {
    file: File,
}

impl KernelLog {
    /// Opens `/dev/kmsg` at its end; None when it cannot be read (then nothing is said).
    pub fn open_at_end() -> Option<KernelLog> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/kmsg")
            .ok()?;
        file.seek(SeekFrom::End(0)).ok()?;
        Some(KernelLog { file })
    }

    /// The records logged since it was opened (or last read).
    pub fn new_records(&mut self) -> Vec<String> {
        let mut records = Vec::new();
        let mut buf = vec![0u8; 8192];
        // One read returns one record; EAGAIN: no more; EPIPE: some were overwritten (the
        // next read goes on with the oldest kept).
        for _ in 0..100_000 {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => records.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        records
    }
}

/// Whether `record` (a `/dev/kmsg` record, or a `dmesg` line) is the OOM killer acting on the
/// memory limit of the container `name`: its `oom_memcg` is `/lxc.payload.<name>` or a cgroup
/// below it. (LXC adds `-<n>` to a name whose cgroup was taken, but vrun removes a leftover
/// container's cgroups before it starts the proc, and `<name>-<n>` may be another proc's.)
pub fn is_oom_kill_of(record: &str, name: &str) -> bool {
    // The kernel's own record starts with it: `<prefix>;oom-kill:...` from /dev/kmsg, or
    // `[<time>] oom-kill:...` from dmesg. Anywhere else it could be a name a process chose
    // (an audit record quotes the executable's path).
    let message = match record.split_once(';') {
        Some((_, message)) => message,
        None => record
            .trim_start()
            .strip_prefix('[')
            .and_then(|r| r.split_once("] "))
            .map_or(record, |(_, message)| message),
    };
    let Some(rest) = message.strip_prefix("oom-kill:") else {
        return false;
    };
    let Some(memcg) = rest
        .split(',')
        .find_map(|field| field.strip_prefix("oom_memcg="))
    else {
        return false;
    };
    let Some(tail) = memcg
        .trim_end()
        .strip_prefix("/lxc.payload.")
        .and_then(|t| t.strip_prefix(name))
    else {
        return false;
    };
    tail.is_empty() || tail.starts_with('/')
}

/// What vrun says when the container `name` was ended by the OOM killer at `limit`.
pub fn message(name: &str, limit: &str) -> String {
    format!("{name}: the proc was killed by the out-of-memory killer at mem_limit {limit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = "3,12345,8693593955,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=lxc.payload.web-1,mems_allowed=0,oom_memcg=/lxc.payload.web-1,task_memcg=/lxc.payload.web-1,task=awk,pid=28408,uid=101000\n";

    #[test]
    fn records_of_this_container_only() {
        let cases = [
            (RECORD, "web-1", true),
            (RECORD, "web", false),
            (RECORD, "web-12", false),
            (&RECORD.replace("payload.web-1,task", "payload.web-1-2,task"), "web-1", false),
            (&RECORD.replace("payload.web-1,task", "payload.web-1/sub,task"), "web-1", true),
            (&RECORD.replace("payload.web-1,task", "payload.web-1-x,task"), "web-1", false),
            ("6,1,2,-;Memory cgroup out of memory: Killed process 28408 (awk)", "web-1", false),
            ("6,1,2,-;oom_memcg=/lxc.payload.web-1,", "web-1", false),
            // An audit record naming an executable the app called `oom-kill:...`.
            (
                "5,9,9,-;audit: type=1326 exe=\"/app/oom-kill:,oom_memcg=/lxc.payload.web-1/x\" sig=0",
                "web-1",
                false,
            ),
            (
                "[ 8693.593955] oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/lxc.payload.web-1,task=x",
                "web-1",
                true,
            ),
        ];
        for (record, name, want) in cases {
            assert_eq!(is_oom_kill_of(record, name), want, "{name}: {record}");
        }
    }

    #[test]
    fn the_message() {
        assert_eq!(
            message("web-1", "64M"),
            "web-1: the proc was killed by the out-of-memory killer at mem_limit 64M"
        );
    }
}
