//! vr-fetch integration tests: downloads against a local HTTP server, tarballs made by GNU tar
//! and hostile tarballs crafted with the `tar` crate's builder.
#![allow(clippy::unwrap_used)]

mod fetch;
mod hostile;
mod support;
mod unpack;
