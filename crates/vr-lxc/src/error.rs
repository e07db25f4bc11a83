//! The error type of vr-lxc.

use std::path::PathBuf;

/// Everything that can go wrong in vr-lxc.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An external program (lxc-start, lxc-execute, ...) could not be started.
    #[error("cannot run `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Neither `lxc-start --version` nor `lxc-version` could be run.
    #[error("LXC is not installed (neither `lxc-start --version` nor `lxc-version` runs; apt-get install lxc)")]
    NotInstalled,
    /// LXC's programs are in `dir`, which is not on PATH.
    #[error("LXC is installed in {} but that folder is not on PATH: add it (PATH={}:$PATH)", dir.display(), dir.display())]
    NotOnPath {
        /// Where lxc-execute is.
        dir: PathBuf,
    },
    /// A version text that is not `X.Y[.Z]`.
    #[error("cannot read the LXC version from `{program}` output {output:?}")]
    BadVersion {
        /// The program asked.
        program: String,
        /// What it printed.
        output: String,
    },
    /// The installed LXC is too old for something the container needs.
    #[error("{feature} needs LXC {needed} or newer, this host has LXC {found}")]
    Unsupported {
        /// What was asked for.
        feature: &'static str,
        /// The oldest LXC that can do it.
        needed: &'static str,
        /// The installed version.
        found: String,
    },
    /// A value that cannot be written into an LXC config line.
    #[error("{what} {value:?} cannot be used in an LXC config: {why}")]
    BadValue {
        /// Which value (a path, the hostname, an env var).
        what: &'static str,
        /// The value.
        value: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// A memory limit was asked for but the host has no memory cgroup controller.
    #[error("{key} is set but this host has no memory cgroup controller (looked in /proc/self/mountinfo and /proc/cgroups)")]
    NoMemoryCgroup {
        /// `mem_limit` or `memsw_limit`.
        key: &'static str,
    },
    /// A process limit was asked for but the host has no pids cgroup controller.
    #[error("a process limit (pids_limit) is set but this host has no pids cgroup controller (looked in /proc/self/mountinfo and /proc/cgroups)")]
    NoPidsCgroup,
    /// `memsw_limit` on a cgroup v1 host without swap accounting.
    #[error("memsw_limit is set but this host has no swap accounting (no memory.memsw.limit_in_bytes; boot with swapaccount=1)")]
    NoSwapAccounting,
    /// `memsw_limit` below `mem_limit`.
    #[error("memsw_limit ({memsw}) is below mem_limit ({mem})")]
    MemswBelowMem {
        /// mem_limit in bytes.
        mem: u64,
        /// memsw_limit in bytes.
        memsw: u64,
    },
    /// A file system operation failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done (`create`, `read`, `chown`, ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `VR_IDMAP` value that is not a usable host id range.
    #[error("VR_IDMAP={value:?} is not a host id range: {why}")]
    BadIdMap {
        /// The value.
        value: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// Root's entries in /etc/subuid and /etc/subgid give an unusable range.
    #[error("root's ranges in /etc/subuid and /etc/subgid (uids from {uid}, gids from {gid}, {count} ids) cannot be used: the base must be at least 1 and base+count fit in 32 bits")]
    BadSubId {
        /// First host uid.
        uid: u32,
        /// First host gid.
        gid: u32,
        /// Ids in both.
        count: u32,
    },
    /// The host id range is not delegated to root where LXC's newuidmap/newgidmap look.
    #[error("host {ids} {first}-{last} are not delegated to root in {file}, which LXC's {tool} needs: add the line `{line}` to {file}")]
    NotDelegated {
        /// `uids` or `gids`.
        ids: &'static str,
        /// `/etc/subuid` or `/etc/subgid`.
        file: &'static str,
        /// `newuidmap` or `newgidmap`.
        tool: &'static str,
        /// First host id of the range.
        first: u32,
        /// Last host id of the range.
        last: u32,
        /// The line that would delegate it.
        line: String,
    },
    /// Another account holds part of the containers' host range.
    #[error("host {ids} {first}-{last} are also given to {owner} in {file}: its user namespaces would own every container's files; give vr a range of its own (VR_IDMAP or root's line in {file})")]
    SharedRange {
        /// `uids` or `gids`.
        ids: &'static str,
        /// `/etc/subuid` or `/etc/subgid`.
        file: &'static str,
        /// First host id of the range.
        first: u32,
        /// Last host id of the range.
        last: u32,
        /// The account whose entry overlaps.
        owner: String,
    },
    /// A folder on the way to the containers' layers that their root cannot pass through.
    #[error("{} is not searchable by the containers' root (host uid {uid}, gid {gid}): make it searchable by them (chmod o+x) or put VR_ROOT elsewhere", path.display())]
    NotSearchable {
        /// The folder.
        path: PathBuf,
        /// The host uid of root inside.
        uid: u32,
        /// The host gid of root inside.
        gid: u32,
    },
    /// A signal mask or signal wait failed.
    #[error("cannot {action}")]
    Signal {
        /// What was being done.
        action: &'static str,
        /// Why.
        #[source]
        source: nix::errno::Errno,
    },
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
