//! vrun's library: its command line (shared with `cargo xtask dist`, which generates the man
//! page and completions from it) and its verbs. Each verb (`setup`, `run`, `uptest`, `shell`,
//! `teardown`) returns the [`Exit`] status or a [`Failure`]; the binary only parses the
//! command line, calls the verb, prints the failure and exits.
//!
//! The decisions of setup (which files the proc's layer gets, with which modes and owners,
//! whether an older layer must go, which port warning to give) are made by pure functions over
//! a [`setup::Host`] seam and unit-tested without root; the containers themselves are tested
//! end to end in `tests/`.

pub mod cli;
pub mod container;
pub mod doctor;
pub mod gc;
mod lock;
pub mod oom;
pub mod pins;
pub mod run;
pub mod setup;
pub mod uptester;
pub mod volumes;

use std::path::PathBuf;
pub use vr_stop::Exit;

/// Why a verb failed, and with which status.
#[derive(Debug)]
pub enum Failure {
    /// The proc.yaml or the proc's folder is locked by another vrun (status 1).
    Locked(PathBuf),
    /// Anything else, with the status to exit with.
    Failed(Exit, anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Failure {
        Failure::Failed(Exit::Error, err)
    }
}

impl Failure {
    /// The status to exit with.
    pub fn exit(&self) -> Exit {
        match self {
            Failure::Locked(_) => Exit::Failed,
            Failure::Failed(exit, _) => *exit,
        }
    }
}

impl std::fmt::Display for Failure {
    /// The line vrun prints on stderr.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Locked(file) => {
                write!(f, "ERROR: {} is locked by another process.", file.display())
            }
            Failure::Failed(_, err) => write!(f, "vrun: {err:#}"),
        }
    }
}
