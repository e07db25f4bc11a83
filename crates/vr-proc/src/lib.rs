//! vr-proc: the proc.yaml and image.yaml models and their validation, container naming, the
//! host layout under `VR_ROOT`, and the rendering of the files a proc's container starts from
//! (`/env.sh`, `/proc.sh`, `/settings.yaml`), including the Procfile lookup and user/group
//! resolution against an image's passwd and group files.
//!
//! vr-proc performs no I/O of its own beyond reading the YAML file handed to
//! [`ProcConfig::load`] / [`ImageConfig::load`]: callers pass in what it needs (the `VR_ROOT`
//! value, the host environment for `$VAR` substitution, the image's passwd text, the Procfile
//! text) and write what it renders. Errors name the file, the key and, where the YAML parser
//! knows it, the line.
// A library never prints (its callers do) and exports only what it means to.
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod image_config;
mod layout;
mod names;
mod proc_config;
mod procfile;
mod read;
mod render;
mod settings;
mod typos;
mod users;
mod yaml;

#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod script_tests;
#[cfg(test)]
mod settings_tests;

pub use error::{Error, Result};
pub use image_config::{ImageConfig, ImageFormat};
pub use layout::{Layout, ProcPaths, DEFAULT_ROOT};
pub use names::{check_name, name_problem, url_basename};
pub use proc_config::{mem_size_bytes, ProcConfig, SetupKeys, Volume, DEFAULT_PIDS_LIMIT};
pub use procfile::{command_for, procfile_command};
pub use read::{read_config, read_unpacked_file, too_deep, MAX_CONFIG_BYTES, MAX_NESTING};
pub use render::{
    env_sh, env_value, proc_sh, shell_quote, APP_DIR, ENV_SH, PROC_SH, SETTINGS_YAML,
};
pub use settings::settings_yaml;
pub use users::{lookup_group, lookup_user, lookup_user_ids, UserIds};
