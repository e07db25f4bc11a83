//! vr-fetch: "URL or local path" to a verified file in a cache, and safe tarball unpacking.
//!
//! [`ensure`] makes sure a cache entry holds the file at an http(s) URL or local path: an
//! existing file is reused only when its md5 matches, a download is hashed while it streams into
//! a temp file beside the entry and renamed into place only when complete and matching, and a
//! lock per entry makes concurrent callers (threads or processes) download once. [`unpack`]
//! turns a gzip, bzip2 or xz tarball into a directory through a temp dir beside it, refusing any
//! entry that would land outside it or be written through a link, and keeping modes, links,
//! owners and (as root) device nodes. Memory stays flat whatever the sizes.
//!
//! For containers in a user namespace with shifted ownership on disk, [`UnpackOptions::shift`]
//! ([`IdShift`]) adds a base to every stored uid and gid (uid 0 becomes host uid 100000) and
//! refuses a tarball holding an id the mapping lacks. App builds come from untrusted authors:
//! under [`Policy::Build`] a device node refuses the tarball, setuid and setgid bits are
//! dropped, and the top folder is never group- or other-writable; OS images use
//! [`Policy::Image`], which keeps everything.
//!
//! [`ensure_unpacked`] combines the two for a shared cache entry (an OS image): fetched and
//! unpacked once, and not hashed again while a stamp says what the unpacked folder came from
//! (the tarball and the id shift it was unpacked with).
//!
//! A tool that calls [`interrupt::install`] gets downloads and unpacks that stop on Ctrl-C or
//! SIGTERM with [`Error::Interrupted`], leaving no temp data behind.
//!
//! vr-fetch never prints: progress goes to a [`Progress`] the caller passes
//! ([`TerminalProgress`] draws a bar on stderr when it is a terminal).

mod cached;
mod download;
mod error;
mod fetch;
mod hash;
mod http;
pub mod interrupt;
mod limits;
mod lock;
mod meta;
mod name;
mod progress;
mod redact;
mod stamp;
mod temp;
mod unpack;

pub use cached::{ensure_unpacked, ensure_unpacked_with, fetch_and_unpack, Unpacked};
pub use error::{Error, Result};
pub use fetch::{ensure, ensure_with, fetch, FetchOptions, Fetched, Warning};
pub use hash::{md5_file, sha256_file};
pub use limits::{human, DownloadLimits, KeepFree, Limit, UnpackLimits};
pub use lock::EntryLock;
pub use name::{cache_name, cache_name_for};
pub use progress::{NoProgress, Progress, TerminalProgress};
pub use redact::redact;
pub use stamp::{stamp_path, unpacked_shift};
pub use unpack::{
    unpack, unpack_once, unpack_retiring, Compression, IdShift, Policy, UnpackOptions,
};
