//! The base image of a build or shell: fetched, checked, unpacked once into the shared images
//! cache, and held shared while it is used.

use super::Report;
use crate::error::BuildError;
use std::path::{Path, PathBuf};
use vr_fs::Beneath;
use vr_lxc::IdMap;
use vr_proc::{ImageConfig, Layout};
use vr_stop::Stop;

/// The unpacked base a build or shell runs on, held shared for as long as this lives: `vrun
/// gc` never removes it, and should another setup or build replace `contents` meanwhile, the
/// build goes on with the very tree that was checked (kept aside by then).
pub struct Base {
    held: vr_fs::DirLock,
    /// Where it was unpacked (`images/<base_image_name>/contents`), for messages.
    pub path: PathBuf,
}

impl Base {
    /// A handle on the held tree itself, for reading it without following a link.
    pub fn beneath(&self) -> Result<Beneath, BuildError> {
        Ok(self.held.beneath(&self.path)?)
    }

    /// A path that names the held tree itself, whatever was renamed where since
    /// (`/proc/self/fd/<n>`): what is mounted and looked at.
    pub fn tree(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&self.held)
        ))
    }
}

/// Holds `contents`, checking under its lock that it is still the tree with `md5` (what was
/// just checked), so a replacement between the check and the hold is caught.
fn hold_base(contents: &Path, md5: Option<&str>, name: &str) -> Result<Base, BuildError> {
    let lock_file = PathBuf::from(format!("{}.lock", contents.display()));
    let _lock = vr_fetch::EntryLock::acquire(&lock_file).map_err(|source| BuildError::Fetch {
        what: format!("lock {}", lock_file.display()),
        source,
    })?;
    let held = vr_fs::DirLock::shared(contents).map_err(|source| BuildError::Io {
        action: "lock",
        path: contents.to_path_buf(),
        source,
    })?;
    let now = vr_fetch::stamp_md5(contents);
    if let Some(md5) = md5 {
        if now.as_deref() != Some(&md5.to_ascii_lowercase()) {
            return Err(BuildError::BaseReplaced {
                base: name.to_string(),
            });
        }
    }
    Ok(Base {
        held,
        path: contents.to_path_buf(),
    })
}

/// Makes sure the base image is downloaded (md5- and sha256-checked when given, within the
/// limits of `VR_DOWNLOAD_*`/`VR_UNPACK_*`) and unpacked once in the shared images cache;
/// returns the unpacked folder. `stop` stops the download or unpack and removes its temp data.
/// The base is unpacked with its owners shifted into `map` (root of the image = the
/// containers' root), and `VR_ROOT` is closed to other host users first.
pub fn ensure_base(
    cfg: &ImageConfig,
    layout: &Layout,
    map: &IdMap,
    report: &dyn Report,
    stop: Stop,
) -> Result<Base, BuildError> {
    vr_lxc::host::secure_root(&layout.root, map)?;
    let url = &cfg.base_image_url;
    let fetch_err = |source| BuildError::Fetch {
        what: format!("base_image_url {}", vr_fetch::redact(url)),
        source,
    };
    let limits = limits()?;
    let tarball = layout.image_entry(
        &cfg.base_image_name,
        &vr_fetch::cache_name_for(
            url,
            cfg.base_image_md5.as_deref(),
            cfg.base_image_sha256.as_deref(),
        ),
    )?;
    let contents = layout.image_contents(&cfg.base_image_name)?;
    let fetch = vr_fetch::FetchOptions {
        md5: cfg.base_image_md5.clone(),
        sha256: cfg.base_image_sha256.clone(),
        limits: limits.download,
        adopt: layout.image_tarball(&cfg.base_image_name, url).ok(),
        stop,
        ..vr_fetch::FetchOptions::default()
    };
    let opts = vr_fetch::UnpackOptions {
        shift: Some(vr_fetch::IdShift {
            uid_base: map.host_uid,
            gid_base: map.host_gid,
            count: map.count,
        }),
        limits: limits.unpack,
        stop,
        ..vr_fetch::UnpackOptions::default()
    };
    let done =
        vr_fetch::ensure_unpacked_with(url, &tarball, &contents, &fetch, &opts, report.progress())
            .map_err(fetch_err)?;
    // What was checked: the md5 asked for, or the one just fetched or verified.
    let mut checked = cfg.base_image_md5.clone();
    if let vr_fetch::Unpacked::Ensured {
        fetched,
        unpacked,
        retired,
    } = done
    {
        checked.get_or_insert(fetched.md5.clone());
        let how = if fetched.downloaded {
            "fetched"
        } else {
            "verified cached"
        };
        report.step(&format!(
            "{how} base image {} (md5 {})",
            vr_fetch::redact(url),
            fetched.md5
        ));
        if let Some(warning) = fetched.warning {
            report.step(&format!("warning: {warning}"));
        }
        if unpacked {
            report.step(&format!("unpacked base image into {}", contents.display()));
        }
        if let Some(old) = retired {
            report.step(&format!(
                "the base image unpacked from another tarball stays at {} for builds still \
                 running on it; `vrun gc` removes it once they are done",
                old.display()
            ));
        }
    }
    hold_base(&contents, checked.as_deref(), &cfg.base_image_name)
}

/// The download and unpack limits the environment sets (`VR_DOWNLOAD_*`, `VR_UNPACK_*`).
pub(super) fn limits() -> Result<vr_fetch::Limits, BuildError> {
    vr_fetch::Limits::from_env(|name| std::env::var(name).ok()).map_err(BuildError::Limits)
}
