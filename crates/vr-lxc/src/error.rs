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
