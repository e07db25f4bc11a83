//! proc.yaml: what Velociraptor tells a runner about one proc.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Mapping;

use crate::names::name_problem;
use crate::yaml::{self, KeySpec, Kind};
use crate::{Error, Result};

/// The pids cgroup limit (processes and threads) of a proc's container when its proc.yaml has
/// no `pids_limit`.
pub const DEFAULT_PIDS_LIMIT: u64 = 1024;

/// The largest `pids_limit`: the kernel's `PID_MAX_LIMIT` on 64-bit hosts, beyond which no
/// more processes can exist anyway.
pub(crate) const PID_MAX_LIMIT: u64 = 4_194_304;

/// A bind mount from the host into the container (`volumes: [[host_dir, container_dir]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Absolute path on the host.
    pub host: PathBuf,
    /// Absolute path inside the container, without `..`.
    pub container: PathBuf,
}

/// A parsed proc.yaml. Keys not listed here are accepted and ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcConfig {
    /// The proc.yaml it came from (for messages).
    pub file: PathBuf,
    /// `app_name`.
    pub app_name: Option<String>,
    /// `version`, as written (`1.10` stays `1.10`).
    pub version: Option<String>,
    /// `config_name`.
    pub config_name: Option<String>,
    /// `release_hash`.
    pub release_hash: Option<String>,
    /// `proc_name` (older files say `proc`).
    pub proc_name: Option<String>,
    /// `port`: a number or a numeric string, 1-65535.
    pub port: Option<u16>,
    /// `host`: the host name uptests are given.
    pub host: Option<String>,
    /// `user` the app runs as (name or id, resolved against the image).
    pub user: Option<String>,
    /// `group` the app runs as (name or id, resolved against the image).
    pub group: Option<String>,
    /// `env`: scalar values as strings; keys are valid shell names.
    pub env: BTreeMap<String, String>,
    /// `settings`, written to /settings.yaml.
    pub settings: Mapping,
    /// `cmd`: shell code to run instead of the Procfile line.
    pub cmd: Option<String>,
    /// `build_url`: URL or local path of the build tarball.
    pub build_url: Option<String>,
    /// `build_md5`.
    pub build_md5: Option<String>,
    /// `build_sha256`.
    pub build_sha256: Option<String>,
    /// `image_name`.
    pub image_name: Option<String>,
    /// `image_url`: URL or local path of the OS image tarball.
    pub image_url: Option<String>,
    /// `image_md5`.
    pub image_md5: Option<String>,
    /// `image_sha256`.
    pub image_sha256: Option<String>,
    /// `volumes`.
    pub volumes: Vec<Volume>,
    /// `mem_limit`: bytes, or a number with a K/M/G suffix, as LXC accepts it.
    pub mem_limit: Option<String>,
    /// `memsw_limit`: memory plus swap, same form as `mem_limit`.
    pub memsw_limit: Option<String>,
    /// `pids_limit`: the most processes and threads the container may have, 1 to 4194304.
    pub pids_limit: Option<u64>,
    /// `app_folder`.
    pub app_folder: Option<String>,
    /// `app_repo_url` (informational).
    pub app_repo_url: Option<String>,
    /// `app_repo_type` (informational).
    pub app_repo_type: Option<String>,
    /// `buildpack_url` (informational).
    pub buildpack_url: Option<String>,
    /// `buildpack_version` (informational).
    pub buildpack_version: Option<String>,
    /// Unknown keys that look like typos of known ones (`proc.yaml: unknown key mem_limt, did
    /// you mean mem_limit?`): for the caller to print.
    pub warnings: Vec<String>,
}

/// The keys `vrun setup` requires, typed (see [`ProcConfig::setup_keys`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupKeys<'a> {
    /// `image_name`.
    pub image_name: &'a str,
    /// `image_url`.
    pub image_url: &'a str,
    /// `build_url`.
    pub build_url: &'a str,
    /// `user`.
    pub user: &'a str,
}

const KEYS: &[KeySpec] = &[
    ("app_name", "app_name", Kind::Text),
    ("version", "version", Kind::Text),
    ("config_name", "config_name", Kind::Text),
    ("release_hash", "release_hash", Kind::Text),
    ("proc_name", "proc_name", Kind::Text),
    ("proc", "proc_name", Kind::Text),
    ("port", "port", Kind::Port),
    ("host", "host", Kind::Text),
    ("user", "user", Kind::Text),
    ("group", "group", Kind::Text),
    ("env", "env", Kind::Env),
    ("settings", "settings", Kind::Settings),
    ("cmd", "cmd", Kind::Text),
    ("build_url", "build_url", Kind::Text),
    ("build_md5", "build_md5", Kind::Text),
    ("build_sha256", "build_sha256", Kind::Text),
    ("image_name", "image_name", Kind::Text),
    ("image_url", "image_url", Kind::Text),
    ("image_md5", "image_md5", Kind::Text),
    ("image_sha256", "image_sha256", Kind::Text),
    ("volumes", "volumes", Kind::Volumes),
    ("mem_limit", "mem_limit", Kind::MemSize),
    ("memsw_limit", "memsw_limit", Kind::MemSize),
    ("pids_limit", "pids_limit", Kind::ProcessCount),
    ("app_folder", "app_folder", Kind::Text),
    ("app_repo_url", "app_repo_url", Kind::Text),
    ("app_repo_type", "app_repo_type", Kind::Text),
    ("buildpack_url", "buildpack_url", Kind::Text),
    ("buildpack_version", "buildpack_version", Kind::Text),
];

impl ProcConfig {
    /// Every key a proc.yaml may have, as written in it (aliases such as `proc` included).
    pub fn keys() -> Vec<&'static str> {
        KEYS.iter().map(|(written, _, _)| *written).collect()
    }

    /// Reads and parses the proc.yaml at `path`.
    pub fn load(path: &Path) -> Result<ProcConfig> {
        let text = crate::read_config(path)?;
        Self::parse(path, &text)
    }

    /// Parses `text`, the content of the proc.yaml `file` (named in errors).
    pub fn parse(file: &Path, text: &str) -> Result<ProcConfig> {
        let mut f = yaml::parse_fields(file, text, KEYS)?;
        let cfg = ProcConfig {
            file: file.to_path_buf(),
            app_name: f.text("app_name"),
            version: f.text("version"),
            config_name: f.text("config_name"),
            release_hash: f.text("release_hash"),
            proc_name: f.text("proc_name"),
            port: f.port("port"),
            host: f.text("host"),
            user: f.text("user"),
            group: f.text("group"),
            env: f.env("env"),
            settings: f.settings("settings"),
            cmd: f.text("cmd"),
            build_url: f.text("build_url"),
            build_md5: f.text("build_md5"),
            build_sha256: f.text("build_sha256"),
            image_name: f.text("image_name"),
            image_url: f.text("image_url"),
            image_md5: f.text("image_md5"),
            image_sha256: f.text("image_sha256"),
            volumes: f.volumes("volumes"),
            mem_limit: f.text("mem_limit"),
            memsw_limit: f.text("memsw_limit"),
            pids_limit: f.count("pids_limit"),
            app_folder: f.text("app_folder"),
            app_repo_url: f.text("app_repo_url"),
            app_repo_type: f.text("app_repo_type"),
            buildpack_url: f.text("buildpack_url"),
            buildpack_version: f.text("buildpack_version"),
            warnings: crate::typos::warnings(f.unknown(), KEYS)
                .into_iter()
                .map(|w| format!("{}: {w}", file.display()))
                .collect(),
        };
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        if !has(&cfg.cmd) && !has(&cfg.proc_name) {
            return Err(Error::MissingCommand {
                file: cfg.file.clone(),
            });
        }
        Ok(cfg)
    }

    /// `value` of the key `key`, or [`Error::MissingKey`] when it is absent, null or empty.
    fn required<'a>(&self, value: &'a Option<String>, key: &'static str) -> Result<&'a str> {
        match value.as_deref() {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Error::MissingKey {
                file: self.file.clone(),
                key,
            }),
        }
    }

    /// `image_name`, or [`Error::MissingKey`].
    pub fn image_name(&self) -> Result<&str> {
        self.required(&self.image_name, "image_name")
    }

    /// `image_url`, or [`Error::MissingKey`].
    pub fn image_url(&self) -> Result<&str> {
        self.required(&self.image_url, "image_url")
    }

    /// `build_url`, or [`Error::MissingKey`].
    pub fn build_url(&self) -> Result<&str> {
        self.required(&self.build_url, "build_url")
    }

    /// `user`, or [`Error::MissingKey`].
    pub fn user(&self) -> Result<&str> {
        self.required(&self.user, "user")
    }

    /// `proc_name`, or [`Error::MissingKey`].
    pub fn proc_name(&self) -> Result<&str> {
        self.required(&self.proc_name, "proc_name")
    }

    /// What `vrun setup` needs beyond the container name, all checked at once (the first one
    /// missing is the error, in the order of [`SetupKeys`]' fields).
    pub fn setup_keys(&self) -> Result<SetupKeys<'_>> {
        Ok(SetupKeys {
            image_name: self.image_name()?,
            image_url: self.image_url()?,
            build_url: self.build_url()?,
            user: self.user()?,
        })
    }

    /// `port`, or [`Error::MissingKey`].
    pub fn port(&self) -> Result<u16> {
        self.port.ok_or_else(|| Error::MissingKey {
            file: self.file.clone(),
            key: "port",
        })
    }

    /// `app_name-version-config_name-release_hash-proc_name-port`. Each part must be present
    /// and a safe path component (see [`crate::name_problem`]); errors name the key.
    pub fn container_name(&self) -> Result<String> {
        let mut parts = Vec::with_capacity(6);
        for (key, value) in [
            ("app_name", &self.app_name),
            ("version", &self.version),
            ("config_name", &self.config_name),
            ("release_hash", &self.release_hash),
            ("proc_name", &self.proc_name),
        ] {
            let value = self.required(value, key)?;
            if let Some(reason) = name_problem(value) {
                return Err(yaml::invalid(
                    &self.file,
                    None,
                    key.to_string(),
                    format!("{value:?} {reason}"),
                ));
            }
            parts.push(value.to_string());
        }
        parts.push(self.port()?.to_string());
        Ok(parts.join("-"))
    }
}

/// Bytes of a memory size as proc.yaml's `mem_limit`/`memsw_limit` take it: a positive number
/// with an optional `K`, `M` or `G` suffix (powers of 1024, either case), what the kernel's
/// memparse (and so LXC) accepts. `None` for anything else, zero, or a size past `u64`.
pub fn mem_size_bytes(text: &str) -> Option<u64> {
    let (digits, shift) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 10),
        b'm' | b'M' => (&text[..text.len() - 1], 20),
        b'g' | b'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok().filter(|&n| n > 0)?;
    n.checked_shl(shift).filter(|b| b >> shift == n)
}

impl ProcConfig {
    /// `mem_limit` in bytes (validated when parsed).
    pub fn mem_limit_bytes(&self) -> Option<u64> {
        self.mem_limit.as_deref().and_then(mem_size_bytes)
    }

    /// `memsw_limit` in bytes (validated when parsed).
    pub fn memsw_limit_bytes(&self) -> Option<u64> {
        self.memsw_limit.as_deref().and_then(mem_size_bytes)
    }

    /// `pids_limit`, or [`DEFAULT_PIDS_LIMIT`] when proc.yaml has none (or it is null).
    pub fn pids_limit_or_default(&self) -> u64 {
        self.pids_limit.unwrap_or(DEFAULT_PIDS_LIMIT)
    }
}

#[cfg(test)]
mod mem_size_tests {
    use super::mem_size_bytes;

    #[test]
    fn sizes() {
        let cases = [
            ("1024", 1024),
            ("512M", 512 << 20),
            ("512m", 512 << 20),
            ("2G", 2 << 30),
            ("100k", 100 << 10),
        ];
        for (text, want) in cases {
            assert_eq!(mem_size_bytes(text), Some(want), "{text}");
        }
        for bad in [
            "",
            "M",
            "12X",
            "-1",
            "1.5G",
            "0",
            "64MB",
            "99999999999999999G",
        ] {
            assert_eq!(mem_size_bytes(bad), None, "{bad}");
        }
    }
}
