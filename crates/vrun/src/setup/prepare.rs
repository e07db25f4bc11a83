//! Everything of setup that can fail before the commit: the image and the build fetched and
//! unpacked (the build into a staging folder), the Procfile read, the plan and the config made.

use super::commit::commit;
use super::layer::{plan, Host, PlanInputs};
use crate::container::{self, Proc};
use crate::pins::{self, Uses};
use crate::volumes;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use vr_fetch::{FetchOptions, Limits, Policy, TerminalProgress, UnpackOptions, Unpacked};
use vr_lxc::IdMap;
use vr_proc::SetupKeys;

/// The steps of setup; `settings` is the rendered `/settings.yaml`.
pub(super) fn do_setup(
    proc: &Proc,
    keys: SetupKeys<'_>,
    settings: String,
    map: IdMap,
    host: &dyn Host,
    stop: vr_stop::Stop,
) -> Result<()> {
    let cfg = &proc.cfg;
    let progress = TerminalProgress::new();
    for dir in [&proc.layout.procs_dir(), &proc.paths.dir] {
        vr_lxc::host::passage(dir, &map)?;
    }
    // From picking the image tree and tarballs until they are recorded, `vrun gc` waits.
    let _gc = crate::gc::lock(&proc.layout.root, false)?;
    let limits = Limits::from_env(|name| host.var(name)).map_err(anyhow::Error::msg)?;
    let image = ensure_image(proc, keys, &map, &limits, stop, &progress)?;
    let contents = image.tree.clone();
    let user = container::resolve_user(cfg, &contents, &map)?;
    let app_owner = map
        .to_host(user)
        .context("the app's user is outside the id map")?;

    let build_tarball = proc.layout.build_entry(&vr_fetch::cache_name_for(
        keys.build_url,
        cfg.build_md5.as_deref(),
        cfg.build_sha256.as_deref(),
    ))?;
    let build_fetch = FetchOptions {
        md5: cfg.build_md5.clone(),
        sha256: cfg.build_sha256.clone(),
        limits: limits.download,
        // Cached by a vr that named entries by the URL's basename: taken over only when a
        // checksum says it is this build.
        adopt: proc.layout.build_tarball(keys.build_url).ok(),
        stop,
        ..FetchOptions::default()
    };
    // The new build goes to a staging folder of the proc's folder (which only host root
    // writes), not into the layer: the previous setup stays whole until the commit.
    let staging = tempfile::Builder::new()
        .prefix(".setup-")
        .tempdir_in(&proc.paths.dir)
        .with_context(|| {
            format!(
                "cannot create a temp folder in {}",
                proc.paths.dir.display()
            )
        })?;
    let staged_app = staging.path().join("app");
    let build_opts = UnpackOptions {
        owner: Some(app_owner),
        policy: Policy::Build,
        staging: Some(staging.path().to_path_buf()),
        limits: limits.unpack,
        stop,
        ..UnpackOptions::default()
    };
    // Unpacked from the very file that was checked; one that does not unpack is removed from
    // the cache, so the next setup fetches it again.
    let fetched = vr_fetch::fetch_and_unpack(
        keys.build_url,
        &build_tarball,
        &staged_app,
        &build_fetch,
        &build_opts,
        &progress,
    )
    .context("build")?;
    if let Some(warning) = fetched.warning {
        eprintln!("vrun: warning: build: {warning}");
    }
    stop.check()?;

    let app_in_layer = proc
        .paths
        .rootfs
        .join(vr_proc::APP_DIR.trim_start_matches('/'));
    let procfile = app_in_layer.join("Procfile");
    // Messages name where the build will be, not the staging folder.
    let in_layer = |err: vr_fs::Error| {
        anyhow::anyhow!(err.to_string().replacen(
            &staged_app.display().to_string(),
            &app_in_layer.display().to_string(),
            1
        ))
    };
    let procfile_text = vr_fs::Beneath::open(&staged_app)
        .and_then(|app| app.read_file(Path::new("Procfile"), vr_proc::MAX_CONFIG_BYTES))
        .map_err(in_layer)?
        .map(|bytes| {
            String::from_utf8(bytes)
                .with_context(|| format!("{} is not UTF-8 text", procfile.display()))
        })
        .transpose()?;
    let plan = plan(
        PlanInputs {
            cfg,
            settings,
            procfile: (procfile_text.as_deref(), &procfile),
            app: app_owner,
            root: map.root(),
        },
        host,
    )?;
    for warning in &plan.warnings {
        eprintln!("vrun: warning: {warning}");
    }
    volumes::check_volumes(proc, &map)?;
    // Its own name resolves inside: harmless to the previous setup, which has the same name.
    container::write_hosts(proc)?;
    let config = container::proc_container(proc, user, &contents, map)?;
    let config_text = container::render_for_host(&config)?;
    let uses = Uses {
        image_name: keys.image_name.to_string(),
        image_md5: image.md5,
        image_tarball: image.tarball,
        build_tarball,
    };
    stop.check()?;
    commit(proc, &map, staging.path(), &plan, &config_text, &uses)
}

/// The image tree a proc is set up on.
struct Image {
    /// The unpacked tree.
    tree: PathBuf,
    /// The md5 of the tarball it came from.
    md5: String,
    /// The cached tarball.
    tarball: PathBuf,
}

/// Fetches and unpacks the proc's image (shared by every proc on it). An `image_md5` naming a
/// tree kept aside (the image was replaced since) uses that tree.
fn ensure_image(
    proc: &Proc,
    keys: SetupKeys<'_>,
    map: &IdMap,
    limits: &Limits,
    stop: vr_stop::Stop,
    progress: &TerminalProgress,
) -> Result<Image> {
    let cfg = &proc.cfg;
    let image_name = keys.image_name;
    let tarball = proc.layout.image_entry(
        image_name,
        &vr_fetch::cache_name_for(
            keys.image_url,
            cfg.image_md5.as_deref(),
            cfg.image_sha256.as_deref(),
        ),
    )?;
    let contents = proc.image_contents()?;
    let image_dir = proc.layout.image_dir(image_name)?;
    // A kept tree is known by its md5 alone (it has no stamp of its own): with a sha256 to
    // check too, the tarball is fetched and checked instead.
    if let (Some(md5), None) = (cfg.image_md5.as_deref(), cfg.image_sha256.as_deref()) {
        let kept = pins::find_tree(&image_dir, md5)
            .filter(|tree| *tree != contents && container::unpacked_for(tree, map));
        if let Some(tree) = kept {
            eprintln!(
                "vrun: image {image_name} with md5 {md5} is kept at {}: using it",
                tree.display()
            );
            return Ok(Image {
                tree,
                md5: md5.to_ascii_lowercase(),
                tarball,
            });
        }
    }
    let fetch = FetchOptions {
        md5: cfg.image_md5.clone(),
        sha256: cfg.image_sha256.clone(),
        limits: limits.download,
        adopt: proc.layout.image_tarball(image_name, keys.image_url).ok(),
        stop,
        ..FetchOptions::default()
    };
    let unpack = UnpackOptions {
        shift: Some(container::image_shift(map)),
        limits: limits.unpack,
        stop,
        ..UnpackOptions::default()
    };
    let image = vr_fetch::ensure_unpacked_with(
        keys.image_url,
        &tarball,
        &contents,
        &fetch,
        &unpack,
        progress,
    )
    .context("image")?;
    for dir in [&proc.layout.images_dir(), &image_dir] {
        vr_lxc::host::passage(dir, map)?;
    }
    // The md5 of what was just checked: asked for, or fetched.
    let mut checked = cfg.image_md5.as_deref().map(str::to_ascii_lowercase);
    if let Unpacked::Ensured {
        fetched,
        unpacked,
        retired,
    } = image
    {
        checked.get_or_insert(fetched.md5.clone());
        if let Some(warning) = fetched.warning {
            eprintln!("vrun: warning: image: {warning}");
        }
        if unpacked {
            eprintln!("vrun: unpacked image {image_name}");
        }
        if let Some(old) = retired {
            eprintln!(
                "vrun: the image {image_name} unpacked from another tarball stays at {} for \
                 procs set up on it; `vrun gc` removes it once none is left",
                old.display()
            );
        }
    }
    // Another setup under the same image_name may have replaced `contents` since it was
    // checked: under its lock, take the tree with the md5 that was checked (kept aside by
    // then), never whatever `contents` holds now.
    let lock_file = PathBuf::from(format!("{}.lock", contents.display()));
    let _lock = vr_fetch::EntryLock::acquire(&lock_file).context("image")?;
    let now = pins::tree_md5(&contents)
        .with_context(|| format!("{} has no md5 stamp", contents.display()))?;
    let (tree, md5) = match checked {
        Some(md5) if md5 != now => {
            let tree = pins::find_tree(&image_dir, &md5)
                .filter(|tree| container::unpacked_for(tree, map))
                .with_context(|| {
                    format!(
                        "the image {image_name} was replaced by another setup while this one \
                         checked it, and the tree with md5 {md5} is gone: run setup again"
                    )
                })?;
            (tree, md5)
        }
        _ => (contents, now),
    };
    Ok(Image { tree, md5, tarball })
}
