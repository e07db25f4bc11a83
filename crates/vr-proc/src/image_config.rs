//! image.yaml: what `vimage build` makes an OS image from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::names::name_problem;
use crate::yaml::{self, KeySpec, Kind};
use crate::{Error, Result};

/// A parsed image.yaml. Keys not listed here are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// The image.yaml it came from (for messages).
    pub file: PathBuf,
    /// `base_image_url`: URL or local path of the base image tarball.
    pub base_image_url: String,
    /// `base_image_name`: a single path component.
    pub base_image_name: String,
    /// `new_image_name`: a single path component; the output is `<new_image_name>.tar.gz`
    /// (or `.tar.zst`, see `new_image_format`).
    pub new_image_name: String,
    /// `script_url`: URL or local path of the provisioning script.
    pub script_url: String,
    /// `base_image_md5`.
    pub base_image_md5: Option<String>,
    /// `base_image_sha256`: the base tarball\'s sha256 (hex), checked like the md5.
    pub base_image_sha256: Option<String>,
    /// `new_image_md5`.
    pub new_image_md5: Option<String>,
    /// `new_image_format`: how the new image is compressed (`gz`, the default, or `zst`).
    pub new_image_format: ImageFormat,
    /// `env` for the script: scalar values as strings; keys are valid shell names.
    pub env: BTreeMap<String, String>,
    /// Unknown keys that look like typos of known ones: for the caller to print.
    pub warnings: Vec<String>,
}

const KEYS: &[KeySpec] = &[
    ("base_image_url", "base_image_url", Kind::Text),
    ("base_image_name", "base_image_name", Kind::Text),
    ("new_image_name", "new_image_name", Kind::Text),
    ("script_url", "script_url", Kind::Text),
    ("base_image_md5", "base_image_md5", Kind::Text),
    ("base_image_sha256", "base_image_sha256", Kind::Text),
    ("new_image_md5", "new_image_md5", Kind::Text),
    (
        "new_image_format",
        "new_image_format",
        Kind::OneOf(ImageFormat::NAMES),
    ),
    ("env", "env", Kind::Env),
];

/// How an image tarball is compressed: `new_image_format` and `vimage build --format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// gzip, `<name>.tar.gz` (the default: every tool reads it).
    #[default]
    Gzip,
    /// Zstandard, `<name>.tar.zst`: several times faster to unpack, a little smaller.
    Zstd,
}

impl ImageFormat {
    /// The names image.yaml and the command line take, in [`ImageFormat::ALL`]'s order.
    pub const NAMES: &'static [&'static str] = &["gz", "zst"];
    /// Every format.
    pub const ALL: [ImageFormat; 2] = [ImageFormat::Gzip, ImageFormat::Zstd];

    /// The format named `name` (`gz`, `zst`), if any.
    pub fn from_name(name: &str) -> Option<ImageFormat> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Its name in image.yaml and on the command line: `gz`, `zst`.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Gzip => "gz",
            ImageFormat::Zstd => "zst",
        }
    }

    /// The ending of a tarball in this format: `tar.gz`, `tar.zst`.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Gzip => "tar.gz",
            ImageFormat::Zstd => "tar.zst",
        }
    }
}

impl ImageConfig {
    /// Every key an image.yaml may have.
    pub fn keys() -> Vec<&'static str> {
        KEYS.iter().map(|(written, _, _)| *written).collect()
    }

    /// Reads and parses the image.yaml at `path`.
    pub fn load(path: &Path) -> Result<ImageConfig> {
        let text = crate::read_config(path)?;
        Self::parse(path, &text)
    }

    /// Parses `text`, the content of the image.yaml `file` (named in errors).
    pub fn parse(file: &Path, text: &str) -> Result<ImageConfig> {
        let mut f = yaml::parse_fields(file, text, KEYS)?;
        let warnings = crate::typos::warnings(f.unknown(), KEYS)
            .into_iter()
            .map(|w| format!("{}: {w}", file.display()))
            .collect();
        let mut required = |key: &'static str| {
            f.text(key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::MissingKey {
                    file: file.to_path_buf(),
                    key,
                })
        };
        let base_image_url = required("base_image_url")?;
        let base_image_name = required("base_image_name")?;
        let new_image_name = required("new_image_name")?;
        let script_url = required("script_url")?;
        for (key, value) in [
            ("base_image_name", &base_image_name),
            ("new_image_name", &new_image_name),
        ] {
            if let Some(reason) = name_problem(value) {
                return Err(yaml::invalid(
                    file,
                    None,
                    key.to_string(),
                    format!("{value:?} {reason}"),
                ));
            }
        }
        Ok(ImageConfig {
            file: file.to_path_buf(),
            base_image_url,
            base_image_name,
            new_image_name,
            script_url,
            base_image_md5: f.text("base_image_md5"),
            base_image_sha256: f.text("base_image_sha256"),
            new_image_md5: f.text("new_image_md5"),
            // The parser let only one of ImageFormat::NAMES through.
            new_image_format: f
                .text("new_image_format")
                .and_then(|name| ImageFormat::from_name(&name))
                .unwrap_or_default(),
            env: f.env("env"),
            warnings,
        })
    }
}
