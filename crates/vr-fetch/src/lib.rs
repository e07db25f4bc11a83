//! vr-fetch: "URL or local path" to a verified file in a cache, and safe tarball unpacking.
//!
//! [`fetch`] makes sure a cache entry holds the file at an http(s) URL or local path
//! ([`FetchOptions`]): a cached file is reused when it has every checksum asked for (md5,
//! sha256 or both); without a checksum it is revalidated with its source (a conditional GET;
//! an unreachable source leaves it in use, with a [`Warning`]). A download is hashed (md5 and
//! sha256, in the same pass) while it streams into a locked temp file beside the entry, within
//! [`DownloadLimits`] (low speed, size, free space, redirects), and renamed over the entry only
//! when complete and matching: a failed download or check leaves the cached file as it was. A
//! lock per entry makes concurrent callers (threads or processes) download once.
//! [`cache_name`] names entries by the whole source, so two sources never share one
//! ([`cache_name_for`]: by content, when a checksum is given).
//!
//! [`unpack`] turns a gzip, bzip2, xz or zstd tarball into a directory through a temp dir
//! beside it, refusing any entry that would land outside it or be written through a link,
//! keeping modes, links, owners, (as root) device nodes, and the xattrs vr carries (`user.*`,
//! file capabilities, POSIX ACLs: never `trusted.*` or other `security.*`), and stopping at the
//! [`UnpackLimits`] (bytes, declared sparse sizes included, entries, free space) with nothing
//! left behind. Memory stays flat whatever the sizes.
//!
//! For containers in a user namespace with shifted ownership on disk, [`UnpackOptions::shift`]
//! ([`IdShift`]) adds a base to every stored uid and gid (uid 0 becomes host uid 100000) and
//! refuses a tarball holding an id the mapping lacks, in its owners, its ACLs or its file
//! capabilities (written as v3 capabilities of the namespace's root). App builds come from
//! untrusted authors: under [`Policy::Build`] a device node refuses the tarball, setuid and
//! setgid bits, file capabilities and ACLs are dropped, and the top folder is never group- or
//! other-writable; OS images use [`Policy::Image`], which keeps everything.
//!
//! [`ensure_unpacked_with`] combines the two for a shared cache entry (an OS image): fetched and
//! unpacked once, and not hashed again while a stamp says what the unpacked folder came from
//! (the tarball's sums and the id shift it was unpacked with); [`fetch_and_unpack`] for a
//! folder of one's own (a proc's build). Either removes a cached tarball that does not unpack
//! ([`Error::Discarded`]), so the next run fetches it again.
//!
//! Downloads and unpacks stop at their [`vr_stop::Stop`] ([`FetchOptions::stop`],
//! [`UnpackOptions::stop`]; by default the process's flag, which a binary sets up with
//! [`vr_stop::Stop::install`]) with [`Error::Interrupted`], leaving no temp data behind; what a
//! killed run left is swept by the next run on the same entry.
//!
//! vr-fetch never prints: progress goes to a [`Progress`] the caller passes
//! ([`TerminalProgress`] draws a bar on stderr when it is a terminal), warnings are returned.
//! A URL's user info and query never appear in an error, a warning or a progress line
//! ([`redact`]).
//!
//! [`ensure`], [`ensure_with`], [`ensure_unpacked`] are the older entry points: md5 only,
//! default limits, the process's stop flag.

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
mod origin;
mod progress;
mod redact;
mod stamp;
mod temp;
mod unpack;

pub use cached::{ensure_unpacked, ensure_unpacked_with, fetch_and_unpack, Unpacked};
pub use error::{Error, Result};
pub use fetch::{ensure, ensure_with, fetch, FetchOptions, Fetched, Warning};
pub use hash::{md5_file, sha256_file};
pub use limits::{human, DownloadLimits, KeepFree, Limit, Limits, UnpackLimits};
pub use lock::EntryLock;
pub use name::{cache_name, cache_name_for};
pub use progress::{NoProgress, Progress, TerminalProgress};
pub use redact::redact;
pub use stamp::{stamp_md5, stamp_path, unpacked_shift};
pub use unpack::{
    unpack, unpack_once, unpack_retiring, Compression, IdShift, Policy, UnpackOptions,
};
