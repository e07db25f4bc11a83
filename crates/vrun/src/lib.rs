//! vrun's library target: only its command line, so that `cargo xtask dist` can generate the
//! man page and shell completions from the same clap definition the binary parses. Everything
//! else of vrun lives in the binary.

pub mod cli;
