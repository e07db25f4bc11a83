//! The commit of setup: the staged build swapped in, the layer's files and then the LXC config
//! written, and what was changed put back should a step fail.

use super::layer::{layer_outdated, Plan};
use crate::container::{self, Proc};
use crate::pins::{self, Uses};
use anyhow::{Context, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use vr_lxc::IdMap;

/// The largest previous layer file (`/env.sh`, ...) the commit keeps a copy of to put back;
/// one the app made larger stops the setup before anything changes.
const MAX_KEPT_BYTES: u64 = 16 << 20;

/// What the commit changed, to put back should a later step fail.
struct Undo {
    /// The build was exchanged with the previous one, now at `staging/app`.
    swapped: bool,
    /// The build was moved in where there was none (a first setup's).
    moved_in: bool,
    /// The layer files as they were.
    files: Vec<Previous>,
    /// The previous record of what the proc uses.
    uses: Option<String>,
}

/// A layer file as it was before the commit.
struct Previous {
    /// Its path relative to the layer.
    rel: PathBuf,
    /// Its content (None: there was no file).
    data: Option<Vec<u8>>,
    /// The mode and owner it gets back (those setup gives it).
    mode: u32,
    owner: (u32, u32),
}

/// Puts the staged build, the planned files and the config in place.
pub(super) fn commit(
    proc: &Proc,
    map: &IdMap,
    staging: &Path,
    plan: &Plan,
    config_text: &str,
    uses: &Uses,
) -> Result<()> {
    let previous = std::fs::read_to_string(&proc.paths.lxc_config).ok();
    if layer_outdated(previous.as_deref()) {
        clear_layer(proc)?;
    }
    // The overlay's upper and work dirs belong to the containers' root, which mounts them.
    let (root_uid, root_gid) = map.root();
    for dir in [&proc.paths.rootfs, &proc.paths.work] {
        if !dir.is_dir() {
            std::fs::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::os::unix::fs::chown(dir, Some(root_uid), Some(root_gid))
            .with_context(|| format!("cannot chown {}", dir.display()))?;
    }
    let layer = proc.layer()?;
    let staged = vr_fs::Beneath::open(staging)?;
    let mut undo = Undo {
        swapped: false,
        moved_in: false,
        files: Vec::new(),
        uses: std::fs::read_to_string(proc.paths.dir.join(pins::USES_FILE)).ok(),
    };
    let done = commit_steps(
        proc,
        &layer,
        &staged,
        plan,
        (config_text, uses),
        map.root(),
        &mut undo,
    );
    let Err(err) = done else {
        return Ok(());
    };
    match roll_back(proc, &layer, &staged, undo) {
        Ok(()) => Err(err),
        Err(rollback) => Err(err.context(format!(
            "and putting the previous setup back failed too: {rollback:#}"
        ))),
    }
}

fn commit_steps(
    proc: &Proc,
    layer: &vr_fs::Beneath,
    staged: &vr_fs::Beneath,
    plan: &Plan,
    (config_text, uses): (&str, &Uses),
    root: (u32, u32),
    undo: &mut Undo,
) -> Result<()> {
    // The layer is the app's to write: every access goes through the handle, never a link.
    for f in &plan.files {
        let (data, mode, owner) = match layer.entry_kind(f.rel())? {
            Some(vr_fs::Kind::File) => {
                // Put back as it was: with its own owner and mode (the user may change).
                use std::os::unix::fs::MetadataExt;
                let meta = std::fs::symlink_metadata(proc.paths.rootfs.join(f.rel()))
                    .with_context(|| format!("cannot look at the previous {}", f.path))?;
                let data = layer
                    .read_file(f.rel(), MAX_KEPT_BYTES)
                    .with_context(|| format!("cannot keep a copy of the previous {}", f.path))?;
                (data, meta.mode() & 0o7777, (meta.uid(), meta.gid()))
            }
            _ => (None, f.mode, f.owner),
        };
        undo.files.push(Previous {
            rel: f.rel().to_path_buf(),
            data,
            mode,
            owner,
        });
    }
    let exchanged = layer.swap_in(Path::new("app"), staged, OsStr::new("app"))?;
    undo.swapped = exchanged;
    undo.moved_in = !exchanged;
    for f in &plan.files {
        // A folder the app left under that name goes first (it must not block the deploy).
        if layer.entry_kind(f.rel())? == Some(vr_fs::Kind::Dir) {
            layer.remove_tree(f.rel())?;
        }
        layer.write_file(f.rel(), &f.data, f.mode, Some(f.owner))?;
    }
    // LXC mounts a tmpfs on /dev: it must be a folder (an app may have left a link there).
    layer.ensure_dir(Path::new("dev"), 0o755, Some(root))?;
    container::write_atomic(
        &proc.paths.dir.join(container::SECCOMP_FILE),
        vr_lxc::SECCOMP_PROFILE,
        0o644,
    )?;
    container::write_atomic(&proc.paths.dir.join(pins::USES_FILE), &uses.render(), 0o644)?;
    // Last: until this rename the previous config (and so the previous setup) is in force.
    container::write_atomic(&proc.paths.lxc_config, config_text, 0o644)
}

/// Puts back the previous build, layer files and record after a failed commit.
fn roll_back(
    proc: &Proc,
    layer: &vr_fs::Beneath,
    staged: &vr_fs::Beneath,
    undo: Undo,
) -> Result<()> {
    let record = proc.paths.dir.join(pins::USES_FILE);
    match &undo.uses {
        Some(text) => container::write_atomic(&record, text, 0o644)?,
        None => {
            let _ = std::fs::remove_file(&record);
        }
    }
    if undo.swapped {
        layer.swap_in(Path::new("app"), staged, OsStr::new("app"))?;
    } else if undo.moved_in {
        layer.remove_tree(Path::new("app"))?;
    }
    for p in undo.files {
        match p.data {
            Some(data) => layer.write_file(&p.rel, &data, p.mode, Some(p.owner))?,
            None if layer.entry_kind(&p.rel)?.is_some() => layer.remove_tree(&p.rel)?,
            None => {}
        }
    }
    Ok(())
}

/// Empties the layer and work dir of a proc set up without a user namespace.
fn clear_layer(proc: &Proc) -> Result<()> {
    for dir in [&proc.paths.rootfs, &proc.paths.work] {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot remove {}", dir.display()))
                )
            }
            _ => {}
        }
    }
    eprintln!(
        "vrun: {} was set up by an older vrun without a user namespace: its layer starts anew",
        proc.name
    );
    Ok(())
}
