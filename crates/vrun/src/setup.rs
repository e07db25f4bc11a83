//! `vrun setup` and `vrun teardown`.

use crate::container::{self, Proc};
use crate::{lock, Stop};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::ExitCode;
use vr_fetch::{TerminalProgress, UnpackOptions, Unpacked};
use vr_lxc::RealSys;

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
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::Create)?;
    // Ctrl-C or SIGTERM stops a download or unpack cleanly (no temp data left) and exits 128+N.
    vr_fetch::interrupt::install().context("cannot install signal handlers")?;
    let done = do_setup(&proc, settings);
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

/// The steps of setup; `settings` is the rendered `/settings.yaml`.
fn do_setup(proc: &Proc, settings: String) -> Result<()> {
    let cfg = &proc.cfg;
    let image_name = cfg.require("image_name")?;
    let image_url = cfg.require("image_url")?;
    let build_url = cfg.require("build_url")?;
    cfg.require("user")?;
    let progress = TerminalProgress::new();

    let rootfs = &proc.paths.rootfs;
    for dir in [&proc.paths.dir, rootfs, &proc.paths.work] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }

    let image_tarball = proc.layout.image_tarball(image_name, image_url)?;
    let contents = proc.image_contents()?;
    let image = vr_fetch::ensure_unpacked(
        image_url,
        &image_tarball,
        &contents,
        cfg.image_md5.as_deref(),
        &UnpackOptions::default(),
        &progress,
    )
    .context("image")?;
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
    let user = container::resolve_user(cfg, &contents)?;

    let build_tarball = proc.layout.build_tarball(build_url)?;
    vr_fetch::ensure_with(
        build_url,
        &build_tarball,
        cfg.build_md5.as_deref(),
        &progress,
    )
    .context("build")?;
    let app = proc.in_rootfs(vr_proc::APP_DIR);
    vr_fetch::unpack(&build_tarball, &app, &UnpackOptions { owner: Some(user) })
        .context("build")?;

    let procfile = app.join("Procfile");
    let procfile_text = vr_proc::read_unpacked_file(&procfile)?;
    let command = vr_proc::command_for(cfg, procfile_text.as_deref(), &procfile)?;
    let port = cfg.port()?;
    for v in &cfg.volumes {
        if !v.host.is_dir() {
            bail!(
                "volume {} -> {}: the host folder {} does not exist",
                v.host.display(),
                v.container.display(),
                v.host.display()
            );
        }
    }

    let env_sh = vr_proc::env_sh(&cfg.env, |name| std::env::var(name).ok());
    let proc_sh = vr_proc::proc_sh(&command, port);
    let private = [
        (vr_proc::ENV_SH, env_sh),
        (vr_proc::SETTINGS_YAML, settings),
    ];
    for (path, text) in &private {
        let dest = proc.in_rootfs(path);
        container::write_atomic(&dest, text, 0o600)?;
        std::os::unix::fs::chown(&dest, Some(user.0), Some(user.1))
            .with_context(|| format!("cannot chown {}", dest.display()))?;
    }
    container::write_atomic(&proc.in_rootfs(vr_proc::PROC_SH), &proc_sh, 0o755)?;
    vr_lxc::create_device_nodes(&RealSys, rootfs)?;

    let config = container::proc_container(proc, user, &contents)?;
    let text = container::render_for_host(&config)?;
    container::write_atomic(&proc.paths.lxc_config, &text, 0o644)?;
    Ok(())
}

/// Removes the proc's folder; nothing to remove is fine.
pub fn teardown(file: &Path) -> Result<ExitCode, Stop> {
    let proc = Proc::load(file)?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::IfThere)?;
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
