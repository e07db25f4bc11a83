//! The one error type of vr-fetch: every variant names the path, URL or entry it is about.
//! URLs in errors are always redacted ([`crate::redact`]): no user info, no query.

use crate::limits::Limit;
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
    /// The server could not be reached, or the request failed below HTTP (or the answer was
    /// not HTTP).
    #[error("GET {url} failed")]
    Transport {
        /// The URL asked for (redacted).
        url: String,
        /// The reason (connection refused, DNS, TLS, a malformed response, ..), redacted.
        #[source]
        source: std::io::Error,
    },
    /// A redirect could not be followed: to a scheme other than http(s), without a usable
    /// Location, or one too many (a loop).
    #[error("GET {url} failed: {reason}")]
    Redirect {
        /// The URL that redirected (redacted).
        url: String,
        /// Why it is not followed.
        reason: String,
    },
    /// A download went past one of its limits ([`crate::DownloadLimits`]); nothing of it was
    /// kept.
    #[error("download of {url} stopped: {limit}; nothing was kept")]
    DownloadLimit {
        /// The URL (redacted) or local path.
        url: String,
        /// The limit.
        limit: Limit,
    },
    /// Reading the body of a download failed part way.
    #[error("download of {url} broke off after {received} bytes")]
    BodyRead {
        /// The URL (redacted) or local path read from.
        url: String,
        /// Bytes received before the failure.
        received: u64,
        /// The reason (redacted).
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
    /// The fetched bytes do not have the expected sha256.
    #[error("sha256 mismatch for {source_name}: expected {expected}, got {actual}")]
    Sha256Mismatch {
        /// The URL (redacted) or local path fetched.
        source_name: String,
        /// The sha256 asked for.
        expected: String,
        /// The sha256 of what was fetched.
        actual: String,
    },
    /// The sha256 given by the caller is not 64 hex digits.
    #[error("invalid sha256 {value:?} for {source_name}: expected 64 hex digits")]
    InvalidSha256 {
        /// The URL (redacted) or local path it was given for.
        source_name: String,
        /// The value given.
        value: String,
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
        "unknown compression for {}: expected .tar.gz, .tgz, .tar.bz2, .tbz2, .tbz, .tar.xz, .txz, .tar.zst or .tzst",
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
    /// An unpack went past one of its limits ([`crate::UnpackLimits`]) at `entry`; nothing of
    /// it was kept.
    #[error("cannot unpack {}: {limit} (stopped at entry {entry:?}); nothing was kept", tarball.display())]
    UnpackLimit {
        /// The tarball.
        tarball: PathBuf,
        /// The entry that went past the limit.
        entry: String,
        /// The limit.
        limit: Limit,
    },
    /// A cached tarball did not unpack (corrupt, cut short, or refused): it was removed from
    /// the cache, so that the next run fetches it again.
    #[error(
        "{} does not unpack: removed from the cache, the next run fetches it again",
        tarball.display()
    )]
    Discarded {
        /// The cache entry removed.
        tarball: PathBuf,
        /// Why it did not unpack.
        #[source]
        error: Box<Error>,
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
    /// An extended attribute (xattr, ACL or file capability) of an entry could not be set.
    #[error("cannot set {name} on entry {entry:?} of {}", tarball.display())]
    Xattr {
        /// The tarball.
        tarball: PathBuf,
        /// The entry's name as stored in the tarball.
        entry: String,
        /// The xattr's name (`user.mime_type`, `security.capability`, ..).
        name: String,
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

impl Error {
    /// Whether the source could not be reached or read (the server is down, slow, or broke
    /// off; a local file is missing): with a cached copy, that copy is used instead.
    pub(crate) fn unreachable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::BodyRead { .. } | Error::Truncated { .. } => true,
            Error::HttpStatus { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            Error::DownloadLimit {
                limit: Limit::Speed { .. },
                ..
            } => true,
            Error::Io { op, .. } => *op == "open",
            _ => false,
        }
    }
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
