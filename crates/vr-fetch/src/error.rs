//! The one error type of vr-fetch: every variant names the path, URL or entry it is about.

use std::path::PathBuf;

/// What went wrong while fetching, hashing, locking or unpacking.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed; `op` says which ("create", "read", "rename", ..).
    #[error("cannot {op} {}", path.display())]
    Io {
        /// The operation, as a verb.
        op: &'static str,
        /// The path it was applied to.
        path: PathBuf,
        /// The system's reason.
        #[source]
        source: std::io::Error,
    },
    /// SIGINT, SIGTERM or SIGHUP stopped a download or an unpack (see [`crate::interrupt`]);
    /// its temp data was removed.
    #[error("interrupted by signal {signal}; nothing was kept")]
    Interrupted {
        /// The signal number.
        signal: i32,
    },
    /// The server answered with an HTTP error status.
    #[error("GET {url} failed: HTTP status {status}")]
    HttpStatus {
        /// The URL asked for.
        url: String,
        /// The status code (404, 500, ..).
        status: u16,
    },
    /// The server could not be reached, or the request failed below HTTP.
    #[error("GET {url} failed")]
    Transport {
        /// The URL asked for.
        url: String,
        /// The reason (connection refused, DNS, TLS, ..).
        #[source]
        source: Box<ureq::Transport>,
    },
    /// Reading the body of a download failed part way.
    #[error("download of {url} broke off after {received} bytes")]
    BodyRead {
        /// The URL (or local path) read from.
        url: String,
        /// Bytes received before the failure.
        received: u64,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// The body ended before the length the server announced.
    #[error("download of {url} cut short: received {received} of {expected} bytes")]
    Truncated {
        /// The URL asked for.
        url: String,
        /// Bytes received.
        received: u64,
        /// Bytes announced by Content-Length.
        expected: u64,
    },
    /// The fetched bytes do not have the expected md5.
    #[error("md5 mismatch for {source_name}: expected {expected}, got {actual}")]
    Md5Mismatch {
        /// The URL or local path fetched.
        source_name: String,
        /// The md5 asked for.
        expected: String,
        /// The md5 of what was fetched.
        actual: String,
    },
    /// The md5 given by the caller is not 32 hex digits.
    #[error("invalid md5 {value:?} for {source_name}: expected 32 hex digits")]
    InvalidMd5 {
        /// The URL or local path it was given for.
        source_name: String,
        /// The value given.
        value: String,
    },
    /// A local source is not a regular file (a device, a named pipe, a folder).
    #[error("{} is {what}, not a file to fetch", path.display())]
    NotAFile {
        /// The local path.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// The URL scheme is neither http(s) nor file.
    #[error("unsupported URL scheme in {url}: expected http, https, file or a local path")]
    UnsupportedScheme {
        /// The URL given.
        url: String,
    },
    /// A lock file could not be taken.
    #[error("cannot lock {}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// The tarball's name does not say how it is compressed.
    #[error(
        "unknown compression for {}: expected .tar.gz, .tgz, .tar.bz2, .tbz2, .tar.xz or .txz",
        path.display()
    )]
    UnknownCompression {
        /// The tarball.
        path: PathBuf,
    },
    /// The tarball (or its compressed stream) could not be read.
    #[error("cannot read tarball {}", tarball.display())]
    Tar {
        /// The tarball.
        tarball: PathBuf,
        /// The reason (corrupt data, truncated stream, ..).
        #[source]
        source: std::io::Error,
    },
    /// An entry would land outside the target, or be written through a link; nothing of the
    /// tarball is left in place.
    #[error("refusing entry {entry:?} of {}: {reason}", tarball.display())]
    UnsafeEntry {
        /// The tarball.
        tarball: PathBuf,
        /// The entry's name as stored in the tarball.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// An entry could not be written.
    #[error("cannot unpack entry {entry:?} of {}", tarball.display())]
    Entry {
        /// The tarball.
        tarball: PathBuf,
        /// The entry's name as stored in the tarball.
        entry: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// An operation failed, and removing its partial result failed too: both are reported.
    #[error("cannot clean up {} ({cleanup}) after a failure", path.display())]
    Cleanup {
        /// What could not be removed.
        path: PathBuf,
        /// Why it could not be removed.
        cleanup: std::io::Error,
        /// The failure that made the cleanup necessary.
        #[source]
        error: Box<Error>,
    },
}

/// `Result` with vr-fetch's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds a closure that turns an io error into [`Error::Io`] for `path`.
pub(crate) fn io(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
