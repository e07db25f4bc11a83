//! `vrun setup` and `vrun teardown`.

use crate::container::{self, Proc};
use crate::{lock, volumes, Stop};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::ExitCode;
use vr_fetch::{Policy, TerminalProgress, UnpackOptions, Unpacked};
use vr_lxc::IdMap;

/// Sets up the proc of `file` (idempotent).
pub fn setup(file: &Path) -> Result<ExitCode, Stop> {
    let proc = Proc::load(file)?;
    // Keys missing or settings that cannot be written: an error before anything is created
    // (locking makes the proc's folder).
    for key in ["image_name", "image_url", "build_url", "user"] {
        proc.cfg.require(key).map_err(anyhow::Error::from)?;
    }
    let settings = vr_proc::settings_yaml(&proc.cfg.settings)
        .with_context(|| proc.cfg.file.display().to_string())?;
    let map = container::host_idmap()?;
    container::check_numeric_ids(&proc.cfg, &map)?;
    // VR_ROOT closed to other host users; only the containers' root may pass through it.
    vr_lxc::host::secure_root(&proc.layout.root, &map)
        .with_context(|| format!("VR_ROOT {}", proc.layout.root.display()))?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::Create)?;
    // Never rewrite the layer under a container that still runs on it.
    container::stop_stale(&proc);
    // Ctrl-C or SIGTERM stops a download or unpack cleanly (no temp data left) and exits 128+N.
    vr_fetch::interrupt::install().context("cannot install signal handlers")?;
    let done = do_setup(&proc, settings, map);
    if let Some(signal) = vr_fetch::interrupt::caught() {
        let code = u8::try_from(128 + signal).unwrap_or(crate::exit::FAILURE);
        let err = done.err().unwrap_or_else(|| {
            anyhow::anyhow!(
                "interrupted by signal {signal} (after {} was set up)",
                proc.name
            )
        });
        return Err(Stop::Failed(code, err));
    }
    done?;
    eprintln!("vrun: {} is set up", proc.name);
    Ok(ExitCode::SUCCESS)
}

/// A proc folder set up by an older vrun has no user namespace: its layer holds files with
/// host ids. Its layer and work dir are emptied so the proc starts on a clean one.
fn clear_unshifted_layer(proc: &Proc) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(&proc.paths.lxc_config) else {
        return Ok(());
    };
    if IdMap::of_config(&text).is_some() {
        return Ok(());
    }
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

/// The proc shares the host's network, which the host's user namespace owns: root inside
/// cannot bind a port below `net.ipv4.ip_unprivileged_port_start`. Said at setup, not found
/// out from the app's `bind: Permission denied`.
fn warn_if_privileged_port(port: u16) {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse::<u16>().ok())
        .unwrap_or(1024);
    if port < start {
        eprintln!(
            "vrun: warning: port {port} is below net.ipv4.ip_unprivileged_port_start ({start}): \
             the proc's root is not root on the host's network and cannot bind it"
        );
    }
}

/// Writes `rel` of the proc's layer; a folder the app left under that name goes first (it
/// must not block the next deploy).
fn replace_file(
    layer: &vr_fs::Beneath,
    rel: &Path,
    data: &[u8],
    mode: u32,
    owner: (u32, u32),
) -> Result<()> {
    if layer.entry_kind(rel)? == Some(vr_fs::Kind::Dir) {
        layer.remove_tree(rel)?;
    }
    layer.write_file(rel, data, mode, Some(owner))?;
    Ok(())
}

/// The steps of setup; `settings` is the rendered `/settings.yaml`.
fn do_setup(proc: &Proc, settings: String, map: IdMap) -> Result<()> {
    let cfg = &proc.cfg;
    let image_name = cfg.require("image_name")?;
    let image_url = cfg.require("image_url")?;
    let build_url = cfg.require("build_url")?;
    cfg.require("user")?;
    let progress = TerminalProgress::new();

    clear_unshifted_layer(proc)?;
    let rootfs = &proc.paths.rootfs;
    for dir in [&proc.paths.dir, rootfs, &proc.paths.work] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for dir in [&proc.layout.procs_dir(), &proc.paths.dir] {
        vr_lxc::host::passage(dir, &map)?;
    }
    // The overlay's upper and work dirs belong to the containers' root, which mounts them.
    let (root_uid, root_gid) = map.root();
    for dir in [rootfs, &proc.paths.work] {
        std::os::unix::fs::chown(dir, Some(root_uid), Some(root_gid))
            .with_context(|| format!("cannot chown {}", dir.display()))?;
    }
    let shift = container::image_shift(&map);

    let image_tarball = proc.layout.image_tarball(image_name, image_url)?;
    let contents = proc.image_contents()?;
    let image = vr_fetch::ensure_unpacked(
        image_url,
        &image_tarball,
        &contents,
        cfg.image_md5.as_deref(),
        &UnpackOptions {
            shift: Some(shift),
            ..UnpackOptions::default()
        },
        &progress,
    )
    .context("image")?;
    for dir in [
        &proc.layout.images_dir(),
        &proc.layout.image_dir(image_name)?,
    ] {
        vr_lxc::host::passage(dir, &map)?;
    }
    if let Unpacked::Ensured {
        unpacked: true,
        retired,
        ..
    } = image
    {
        eprintln!("vrun: unpacked image {image_name}");
        if let Some(old) = retired {
            eprintln!(
                "vrun: the image {image_name} unpacked from another tarball stays at {} for                  procs still running on it; remove it once they are gone",
                old.display()
            );
        }
    }
    let user = container::resolve_user(cfg, &contents, &map)?;
    let host_user = map
        .to_host(user)
        .context("the app's user is outside the id map")?;

    let build_tarball = proc.layout.build_tarball(build_url)?;
    vr_fetch::ensure_with(
        build_url,
        &build_tarball,
        cfg.build_md5.as_deref(),
        &progress,
    )
    .context("build")?;
    let app = rootfs.join(vr_proc::APP_DIR.trim_start_matches('/'));
    // Unpacked in the proc's folder, which only host root writes, then swapped in as
    // rootfs/app in one rename: in the container-writable layer, an unpack in progress could
    // be redirected through a link. The replaced tree goes without following a link in it.
    let build_opts = UnpackOptions {
        owner: Some(host_user),
        policy: Policy::Build,
        staging: Some(proc.paths.dir.clone()),
        ..UnpackOptions::default()
    };
    vr_fetch::unpack(&build_tarball, &app, &build_opts).context("build")?;

    let layer = proc.layer()?;
    let procfile = app.join("Procfile");
    let procfile_text = layer
        .read_file(Path::new("app/Procfile"), vr_proc::MAX_CONFIG_BYTES)?
        .map(|bytes| {
            String::from_utf8(bytes)
                .with_context(|| format!("{} is not UTF-8 text", procfile.display()))
        })
        .transpose()?;
    let command = vr_proc::command_for(cfg, procfile_text.as_deref(), &procfile)?;
    let port = cfg.port()?;
    warn_if_privileged_port(port);
    volumes::check_volumes(proc, &map)?;

    let env_sh = vr_proc::env_sh(&cfg.env, |name| std::env::var(name).ok());
    let proc_sh = vr_proc::proc_sh(&command, port);
    let private = [
        (vr_proc::ENV_SH, env_sh),
        (vr_proc::SETTINGS_YAML, settings),
    ];
    // The layer is the app's to write: every write goes through the handle, never a link.
    let in_layer = |path: &str| Path::new(path.trim_start_matches('/')).to_path_buf();
    for (path, text) in &private {
        replace_file(&layer, &in_layer(path), text.as_bytes(), 0o600, host_user)?;
    }
    replace_file(
        &layer,
        &in_layer(vr_proc::PROC_SH),
        proc_sh.as_bytes(),
        0o755,
        map.root(),
    )?;
    // LXC mounts a tmpfs on /dev: it must be a folder (an app may have left a link there).
    layer.ensure_dir(Path::new("dev"), 0o755, Some(map.root()))?;

    container::write_atomic(
        &proc.paths.dir.join(container::SECCOMP_FILE),
        vr_lxc::SECCOMP_PROFILE,
        0o644,
    )?;
    let config = container::proc_container(proc, user, &contents, map)?;
    let text = container::render_for_host(&config)?;
    container::write_atomic(&proc.paths.lxc_config, &text, 0o644)?;
    Ok(())
}

/// Removes the proc's folder; nothing to remove is fine.
pub fn teardown(file: &Path) -> Result<ExitCode, Stop> {
    let proc = Proc::load(file)?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::IfThere)?;
    // Never remove the folder of a container that still runs.
    container::stop_stale(&proc);
    match std::fs::remove_dir_all(&proc.paths.dir) {
        Ok(()) => eprintln!("vrun: removed {}", proc.paths.dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot remove {}", proc.paths.dir.display()))
                .into())
        }
    }
    Ok(ExitCode::SUCCESS)
}
