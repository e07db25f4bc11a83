//! vimage: builds OS image tarballs from a base image and a provisioning script, and opens a
//! shell in the same environment for debugging.
//!
//! - [`build`]: the `build` and `shell` flows (base cached once, a fresh overlay per build, the
//!   script as root in an LXC container, the merged result packed).
//! - [`cli`]: the command line (shared with `cargo xtask dist` for man pages and completions).
//! - [`ns`]: the private mount namespace and overlay the flows use.
//! - [`pack`]: a rootfs to a sorted, deterministic `.tar.gz` or `.tar.zst`, written atomically
//!   (entries by the private `walk`, as GNU tar writes them).
//! - [`pgz`]: a parallel, deterministic gzip writer (libdeflate, one gzip member per block).
//! - [`zst`]: the zstd writer (zstd's own worker threads, bytes independent of their number).
//!
//! The library never prints: progress goes through [`build::Report`], and the script's output
//! through the build log's tee, which the binary owns.

pub mod build;
pub mod cli;
mod error;
pub mod ns;
pub mod pack;
pub mod pgz;
pub mod residue;
mod scratch;
mod tee;
mod walk;
pub mod zst;
