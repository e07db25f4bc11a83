//! vr-fetch integration tests: downloads against a local HTTP server, tarballs made by GNU tar,
//! hostile tarballs crafted with the `tar` crate's builder, shifted or build-policy unpacks,
//! xattrs, ACLs and file capabilities, and zstd tarballs made by the `zstd` CLI.
#![allow(clippy::unwrap_used)]

mod build_policy;
mod cache;
mod fetch;
mod hostile;
mod limits;
mod server;
mod shift;
mod support;
mod sweep;
mod unpack;
mod xattrs;
mod xz;
mod zstd;
