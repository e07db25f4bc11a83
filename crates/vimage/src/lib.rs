//! vimage: builds OS image tarballs from a base image and a provisioning script.
//!
//! - [`pgz`]: a parallel, deterministic gzip writer (one standard gzip member).
//! - [`pack`]: a rootfs to a sorted, deterministic `.tar.gz`, written atomically.
//!
//! The library never prints; the binary reports progress on stderr.

pub mod pack;
pub mod pgz;
mod zlib;
