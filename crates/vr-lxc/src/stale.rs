//! Containers that outlived the runner that started them: when the runner and its
//! `lxc-execute` are killed at once (`kill -9` of their process group), nothing hands the
//! container's init a signal, and a non-root proc's init has no parent-death signal of its
//! own. The next runner finds such a container by its writable layer (the `upperdir` of the
//! overlay at its root), kills it, and removes the cgroups LXC left.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where [`stop_stale`] looks: `/proc` and the cgroup file systems' root, in tests a fake tree.
#[derive(Debug, Clone)]
pub struct Host {
    /// `/proc`.
    pub proc_root: PathBuf,
    /// `/sys/fs/cgroup`.
    pub cgroup_root: PathBuf,
}

impl Default for Host {
    fn default() -> Host {
        Host {
            proc_root: "/proc".into(),
            cgroup_root: "/sys/fs/cgroup".into(),
        }
    }
}

/// Whether `dir_name` is one of LXC's cgroups of the container `name`: `lxc.payload.<name>`
/// or `lxc.monitor.<name>`, maybe with LXC's `-N` suffix for a name already taken.
fn is_lxc_cgroup_of(dir_name: &str, name: &str) -> bool {
    ["lxc.payload.", "lxc.monitor."].iter().any(|prefix| {
        dir_name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|tail| {
                tail.is_empty()
                    || tail
                        .strip_prefix('-')
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    })
}

/// LXC's cgroup folders of `name` in every hierarchy under `cgroup_root` (cgroup v1: one
/// level down; v2: the root itself).
fn cgroup_dirs(cgroup_root: &Path, name: &str) -> Vec<PathBuf> {
    let mut roots = vec![cgroup_root.to_path_buf()];
    if let Ok(rd) = fs::read_dir(cgroup_root) {
        roots.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    roots
        .iter()
        .filter_map(|root| fs::read_dir(root).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| is_lxc_cgroup_of(&e.file_name().to_string_lossy(), name))
        .map(|e| e.path())
        .collect()
}

/// Whether a mountinfo text has, at `/`, an overlay whose upper layer is `upper`.
fn root_is_on(mountinfo: &str, upper: &str) -> bool {
    mountinfo.lines().any(|line| {
        let mut halves = line.splitn(2, " - ");
        let (Some(left), Some(right)) = (halves.next(), halves.next()) else {
            return false;
        };
        let mount_point = left.split_whitespace().nth(4);
        let mut fs = right.split_whitespace();
        let fstype = fs.next();
        let options = fs.nth(1).unwrap_or_default();
        mount_point == Some("/")
            && fstype == Some("overlay")
            && options
                .split(',')
                .any(|o| o.strip_prefix("upperdir=") == Some(upper))
    })
}

/// The pids of processes (under `proc_root`) whose root is an overlay on the layer `upper`.
pub fn processes_on_layer(proc_root: &Path, upper: &Path) -> Vec<i32> {
    let Some(upper) = upper.to_str() else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let Ok(rd) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            fs::read_to_string(proc_root.join(pid.to_string()).join("mountinfo"))
                .is_ok_and(|text| root_is_on(&text, upper))
        })
        .collect()
}

/// LXC's cgroups of `name` that process `pid` is in, as folder names (`lxc.payload.<name>-1`),
/// with the monitor's folder of the same container (`lxc.monitor.<name>-1`).
fn cgroups_of(proc_root: &Path, pid: i32, name: &str) -> Vec<String> {
    let text =
        fs::read_to_string(proc_root.join(pid.to_string()).join("cgroup")).unwrap_or_default();
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .filter_map(|path| path.trim_start_matches('/').split('/').next())
        .filter(|top| is_lxc_cgroup_of(top, name))
        .map(str::to_string)
        .collect();
    let monitors: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix("lxc.payload."))
        .map(|rest| format!("lxc.monitor.{rest}"))
        .collect();
    names.extend(monitors);
    names.sort();
    names.dedup();
    names
}

/// Removes `dir` and the folders inside it, deepest first (cgroup folders: empty but for the
/// kernel's files, which rmdir takes along).
fn remove_cgroup(dir: &Path) -> io::Result<()> {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path())?;
            }
        }
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Stops what is left of a container `name` on the layer `upper`: when LXC cgroups of that
/// name exist, every process whose root is on `upper` gets SIGKILL (the container's init
/// among them, which takes its whole PID namespace along), and once they are gone (at most
/// `limit`) the cgroups they were in are removed. Returns the pids it killed (empty: nothing was
/// left). Call it holding the proc's lock: a live runner of the same proc holds it too.
pub fn stop_stale(host: &Host, name: &str, upper: &Path, limit: Duration) -> Vec<i32> {
    let dirs = cgroup_dirs(&host.cgroup_root, name);
    if dirs.is_empty() {
        return Vec::new();
    }
    let killed = processes_on_layer(&host.proc_root, upper);
    // Only the cgroups of what is killed: another container of that name (under another
    // VR_ROOT) may be starting, its cgroups still empty.
    let mut theirs: Vec<String> = killed
        .iter()
        .flat_map(|pid| cgroups_of(&host.proc_root, *pid, name))
        .collect();
    theirs.sort();
    theirs.dedup();
    for pid in &killed {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let start = Instant::now();
    while !processes_on_layer(&host.proc_root, upper).is_empty() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut ours: Vec<PathBuf> = dirs
        .into_iter()
        .filter(|dir| {
            dir.file_name()
                .is_some_and(|n| theirs.iter().any(|t| n == t.as_str()))
        })
        .collect();
    // A process killed a moment ago may still be leaving its cgroup (its mount namespace is
    // gone already): rmdir says EBUSY until it has; try again until `limit`.
    loop {
        ours.retain(|dir| remove_cgroup(dir).is_err());
        if ours.is_empty() || start.elapsed() >= limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_names_table() {
        let cases = [
            ("lxc.payload.app-1-web-5000", true),
            ("lxc.monitor.app-1-web-5000", true),
            ("lxc.payload.app-1-web-5000-1", true),
            ("lxc.payload.app-1-web-5000-12", true),
            ("lxc.payload.app-1-web-50000", false),
            ("lxc.payload.app-1-web-5000-", false),
            ("lxc.payload.app-1-web-5000-x", false),
            ("lxc.pivot", false),
            ("app-1-web-5000", false),
        ];
        for (dir, want) in cases {
            assert_eq!(is_lxc_cgroup_of(dir, "app-1-web-5000"), want, "{dir}");
        }
    }

    const ROOT_ON: &str = "66 42 0:40 / / rw,relatime shared:1 - overlay /i rw,lowerdir=/i,upperdir=/vr/procs/p/rootfs,workdir=/vr/procs/p/work,uuid=null\n\
                           67 66 0:41 / /proc rw - proc proc rw\n";

    #[test]
    fn the_root_mount_tells_the_layer() {
        assert!(root_is_on(ROOT_ON, "/vr/procs/p/rootfs"));
        assert!(!root_is_on(ROOT_ON, "/vr/procs/p/root"));
        assert!(!root_is_on(ROOT_ON, "/vr/procs/q/rootfs"));
        // The layer as a lower one (an uptest beside the proc), or mounted elsewhere.
        let beside =
            "1 0 0:1 / / rw - overlay o rw,lowerdir=/vr/procs/p/rootfs:/i,upperdir=/t/upper\n";
        assert!(!root_is_on(beside, "/vr/procs/p/rootfs"));
        let elsewhere = "1 0 0:1 / /mnt rw - overlay o rw,upperdir=/vr/procs/p/rootfs\n";
        assert!(!root_is_on(elsewhere, "/vr/procs/p/rootfs"));
        assert!(!root_is_on("garbage\n", "/vr/procs/p/rootfs"));
    }

    #[test]
    fn stale_processes_are_found_and_cgroups_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let host = Host {
            proc_root: tmp.path().join("proc"),
            cgroup_root: tmp.path().join("cgroup"),
        };
        // Nothing of that name in the cgroups: nothing is looked at.
        assert!(stop_stale(&host, "p", Path::new("/vr/procs/p/rootfs"), Duration::ZERO).is_empty());
        for (pid, text) in [
            ("1073741824", ROOT_ON),
            ("1073741825", "1 0 0:1 / / rw - ext4 /dev/vda rw\n"),
        ] {
            fs::create_dir_all(host.proc_root.join(pid)).unwrap();
            fs::write(host.proc_root.join(pid).join("mountinfo"), text).unwrap();
        }
        fs::create_dir_all(host.proc_root.join("self")).unwrap();
        fs::write(
            host.proc_root.join("1073741824/cgroup"),
            "8:pids:/lxc.payload.p\n6:memory:/lxc.payload.p/inner\n0::/\n",
        )
        .unwrap();
        assert_eq!(
            processes_on_layer(&host.proc_root, Path::new("/vr/procs/p/rootfs")),
            vec![1_073_741_824]
        );
        let kept = host.cgroup_root.join("pids/lxc.payload.other");
        for d in [
            "pids/lxc.payload.p/inner",
            "pids/lxc.monitor.p",
            "memory/lxc.payload.p",
            "lxc.payload.p",
        ] {
            fs::create_dir_all(host.cgroup_root.join(d)).unwrap();
        }
        fs::create_dir_all(&kept).unwrap();
        // The same name under another VR_ROOT, starting (LXC's `-1`): not ours, kept.
        let other = host.cgroup_root.join("pids/lxc.payload.p-1");
        fs::create_dir_all(&other).unwrap();
        // The fake pid is beyond any pid_max (2^22): kill fails, and the fake mountinfo
        // stays, so the wait runs out at once; its cgroups go all the same.
        let killed = stop_stale(&host, "p", Path::new("/vr/procs/p/rootfs"), Duration::ZERO);
        assert_eq!(killed, vec![1_073_741_824]);
        assert_eq!(cgroup_dirs(&host.cgroup_root, "p"), vec![other.clone()]);
        assert!(kept.is_dir());
    }
}
