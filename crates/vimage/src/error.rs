//! Why a build or shell failed, and the exit status ([`Exit`]) that says so.

use crate::ns::NsError;
use crate::pack::PackError;
use std::io;
use std::path::{Path, PathBuf};
use vr_lxc::Outcome;
use vr_stop::Exit;

/// Why a build or shell failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// image.yaml is missing or wrong.
    #[error(transparent)]
    Config(#[from] vr_proc::Error),
    /// Another setup or build replaced the base between its check and its use.
    #[error("the base image {base} was replaced by another setup or build while this build checked it: run the build again")]
    BaseReplaced {
        /// `base_image_name`.
        base: String,
    },
    /// A limit set in the environment that cannot be read (`VR_UNPACK_MAX_BYTES=lots`).
    #[error("{0}")]
    Limits(String),
    /// Fetching or unpacking the base image or the script failed.
    #[error("{what}")]
    Fetch {
        /// Which input (`base_image_url`, `script_url`).
        what: String,
        /// The cause.
        #[source]
        source: vr_fetch::Error,
    },
    /// The container could not be set up or run.
    #[error(transparent)]
    Lxc(#[from] vr_lxc::Error),
    /// The private mount namespace or the overlay failed.
    #[error(transparent)]
    Ns(#[from] NsError),
    /// A write into (or read from) the build's tree was refused or failed.
    #[error(transparent)]
    Tree(#[from] vr_fs::Error),
    /// Writing the tarball failed.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// A file operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The image was written, but its log could not be put beside it.
    #[error("the image {} was written, but not its log", image.display())]
    LogAfterImage {
        /// The tarball.
        image: PathBuf,
        /// Why the log failed.
        #[source]
        source: Box<BuildError>,
    },
    /// A signal asked the build to stop (whatever the script did with it): the container was
    /// ended and everything was cleaned up.
    #[error("{0}; no image was written")]
    Interrupted(vr_stop::Interrupted),
    /// LXC could not start the container (the script never ran): no tarball was written.
    #[error("the container on {base} did not start (lxc-execute exited {code}; LXC's messages are above); no image was written")]
    NotStarted {
        /// `base_image_name`.
        base: String,
        /// lxc-execute's exit status.
        code: i32,
    },
    /// The provisioning script failed: no tarball was written.
    #[error(
        "the provisioning script {script} failed with {}; no image was written",
        describe(outcome)
    )]
    ScriptFailed {
        /// `script_url`.
        script: String,
        /// How it ended.
        outcome: Outcome,
    },
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Exited(c) => format!("exit status {c}"),
        Outcome::Signaled(s) => format!("signal {s}"),
    }
}

// Not `#[from]`: that would make it the source too, and the message would say it twice.
impl From<vr_stop::Interrupted> for BuildError {
    fn from(stop: vr_stop::Interrupted) -> BuildError {
        BuildError::Interrupted(stop)
    }
}

impl BuildError {
    /// The exit status vimage should end with: 128+N after signal N, the script's own for a
    /// failed script, 2 for everything else.
    pub fn exit(&self) -> Exit {
        match self {
            BuildError::ScriptFailed { outcome, .. } => Exit::Status(outcome.code()),
            BuildError::Interrupted(stop) => stop.exit(),
            BuildError::Fetch {
                source: vr_fetch::Error::Interrupted { signal },
                ..
            } => Exit::Signal(*signal),
            _ => Exit::Error,
        }
    }
}

pub(crate) fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |source| BuildError::Io {
        action,
        path,
        source,
    }
}

/// `err` and its causes, `: `-separated, on one line (as the binary prints errors).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
