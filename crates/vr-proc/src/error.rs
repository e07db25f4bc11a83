//! The one error type of vr-proc. Every message names the file it is about, the key, and the
//! line when the YAML parser knows it.

use std::fmt;
use std::path::PathBuf;

/// Result of vr-proc operations.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can be wrong with a proc.yaml, an image.yaml, a Procfile, a name or a user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The YAML file could not be read.
    #[error("cannot read {}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than vr reads ([`crate::MAX_CONFIG_BYTES`]).
    #[error("{}: larger than {limit} bytes, refused", file.display())]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file of a build (the Procfile) is not a regular file.
    #[error("{}: is {what}, expected a regular file", file.display())]
    NotAFile {
        /// The file.
        file: PathBuf,
        /// What it is (`a symlink`, `a folder`, ...).
        what: &'static str,
    },
    /// The file holds no YAML document (or only `null`).
    #[error("{}: file is empty, expected a map of keys", file.display())]
    Empty {
        /// The file.
        file: PathBuf,
    },
    /// The top level of the file is a list or a scalar instead of a map.
    #[error("{}: expected a map of keys, got {got}", file.display())]
    NotAMap {
        /// The file.
        file: PathBuf,
        /// What was found (`a list`, `a string`, ...).
        got: &'static str,
    },
    /// The file is not valid YAML.
    #[error("{}{}: invalid YAML: {message}", file.display(), Line(*line))]
    Syntax {
        /// The file.
        file: PathBuf,
        /// Line of the problem, when known.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A key that is needed is absent (or null).
    #[error("{}: missing key `{key}`", file.display())]
    MissingKey {
        /// The file.
        file: PathBuf,
        /// The key.
        key: &'static str,
    },
    /// proc.yaml has neither `cmd` nor `proc_name` (`proc`).
    #[error("{}: one of `cmd` or `proc_name` is required", file.display())]
    MissingCommand {
        /// The file.
        file: PathBuf,
    },
    /// A key has a value of the wrong type or form.
    #[error("{}{}: key `{key}`: {message}", file.display(), Line(*line))]
    InvalidValue {
        /// The file.
        file: PathBuf,
        /// Line of the value, when known.
        line: Option<usize>,
        /// The key (`env.FOO` for a key inside `env`).
        key: String,
        /// What is wrong: expected vs actual.
        message: String,
    },
    /// A value that becomes a path component (or part of one) is not a safe one.
    #[error("key `{key}`: {value:?} {reason}")]
    InvalidName {
        /// The key the value came from.
        key: &'static str,
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The proc has no `cmd` and the build has no Procfile.
    #[error("{}: not found, and proc `{proc_name}` has no `cmd`", procfile.display())]
    NoProcfile {
        /// Where the Procfile was looked for.
        procfile: PathBuf,
        /// The proc.
        proc_name: String,
    },
    /// The Procfile has no line for the proc.
    #[error("{}: no line for proc `{proc_name}`", procfile.display())]
    NotInProcfile {
        /// The Procfile.
        procfile: PathBuf,
        /// The proc.
        proc_name: String,
    },
    /// `settings` holds something settings.yaml cannot be written with.
    #[error("key `settings`: {message}")]
    Settings {
        /// What.
        message: String,
    },
    /// A user name that the image's /etc/passwd does not know.
    #[error("unknown user `{name}` (not in the image's /etc/passwd)")]
    UnknownUser {
        /// The name.
        name: String,
    },
    /// A group name that the image's /etc/group does not know.
    #[error("unknown group `{name}` (not in the image's /etc/group)")]
    UnknownGroup {
        /// The name.
        name: String,
    },
}

/// Renders ` line N` when the line is known.
struct Line(Option<usize>);

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, " line {line}"),
            None => Ok(()),
        }
    }
}
