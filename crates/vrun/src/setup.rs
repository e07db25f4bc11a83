//! `vrun setup` and `vrun teardown`.
//!
//! Setup is atomic. Everything that can fail (the image, the build, the user, the Procfile,
//! the volumes, the rendered files) is prepared first, the new build unpacked into a staging
//! folder in the proc's folder, while the proc's previous setup stays as it was. Only then is
//! it committed: the build swapped in with one rename, the layer's files and then the LXC
//! config rewritten; a failure in the commit puts back what it had changed. So a failed first
//! setup leaves nothing, and a failed re-setup leaves the previous setup runnable; the error
//! says which.

use crate::container::{self, Proc};
use crate::lock::{self, Use};
use crate::pins::{self, Uses};
use crate::{volumes, Exit, Failure};
use anyhow::{Context, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use vr_fetch::{FetchOptions, Limits, Policy, TerminalProgress, UnpackOptions, Unpacked};
use vr_lxc::IdMap;
use vr_proc::{ProcConfig, SetupKeys};

/// What setup asks of the host besides files: the seam its decisions are tested through.
pub trait Host {
    /// An environment variable of vrun (for `$VAR` in the proc.yaml's `env`).
    fn var(&self, name: &str) -> Option<String>;
    /// `net.ipv4.ip_unprivileged_port_start`: the lowest port the containers' root may bind.
    fn unprivileged_port_start(&self) -> u16;
}

/// The real host.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealHost;

impl Host for RealHost {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn unprivileged_port_start(&self) -> u16 {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|t| t.trim().parse::<u16>().ok())
            .unwrap_or(1024)
    }
}

/// A file setup writes into the proc's layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Its path in the container (`/env.sh`).
    pub path: &'static str,
    /// Its content.
    pub data: Vec<u8>,
    /// Its mode.
    pub mode: u32,
    /// Its host uid and gid.
    pub owner: (u32, u32),
}

impl LayerFile {
    /// Its path relative to the layer.
    fn rel(&self) -> &Path {
        Path::new(self.path.trim_start_matches('/'))
    }
}

/// What setup writes into the layer, decided before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The files, in the order they are written.
    pub files: Vec<LayerFile>,
    /// Warnings to print (without the `vrun: warning: ` prefix).
    pub warnings: Vec<String>,
}

/// What [`plan`] decides from.
pub struct PlanInputs<'a> {
    /// The proc.yaml.
    pub cfg: &'a ProcConfig,
    /// The rendered `/settings.yaml`.
    pub settings: String,
    /// The new build's Procfile, if it has one, and where it will be (for messages).
    pub procfile: (Option<&'a str>, &'a Path),
    /// The host uid and gid of the app's user.
    pub app: (u32, u32),
    /// The host uid and gid of the containers' root.
    pub root: (u32, u32),
}

/// Decides the layer's files: `/env.sh` and `/settings.yaml` (0600, the app's: they may hold
/// secrets), `/proc.sh` (0755, the containers' root's, so the app cannot change how it is
/// started), and the warnings to give.
pub fn plan(inputs: PlanInputs<'_>, host: &dyn Host) -> Result<Plan> {
    let cfg = inputs.cfg;
    let (procfile_text, procfile_path) = inputs.procfile;
    let command = vr_proc::command_for(cfg, procfile_text, procfile_path)?;
    let port = cfg.port()?;
    let mut warnings = Vec::new();
    let start = host.unprivileged_port_start();
    if port < start {
        warnings.push(format!(
            "port {port} is below net.ipv4.ip_unprivileged_port_start ({start}): the proc's root \
             is not root on the host's network and cannot bind it"
        ));
    }
    let env_sh = vr_proc::env_sh(&cfg.env, |name| host.var(name));
    let file = |path, data: String, mode, owner| LayerFile {
        path,
        data: data.into_bytes(),
        mode,
        owner,
    };
    Ok(Plan {
        files: vec![
            file(vr_proc::ENV_SH, env_sh, 0o600, inputs.app),
            file(vr_proc::SETTINGS_YAML, inputs.settings, 0o600, inputs.app),
            file(
                vr_proc::PROC_SH,
                vr_proc::proc_sh(&command, port),
                0o755,
                inputs.root,
            ),
        ],
        warnings,
    })
}

/// Whether the layer must start anew: the proc was set up by an older vrun without a user
/// namespace (its `proc.lxc` has no `lxc.idmap`), so its layer holds files with host ids.
pub fn layer_outdated(previous_config: Option<&str>) -> bool {
    previous_config.is_some_and(|text| IdMap::of_config(text).is_none())
}

/// Sets up the proc of `file` (idempotent).
pub fn setup(file: &Path) -> Result<Exit, Failure> {
    let proc = Proc::load(file)?;
    // Keys missing or settings that cannot be written: an error before anything is created
    // (locking makes the proc's folder).
    let keys = proc.cfg.setup_keys().map_err(anyhow::Error::from)?;
    let settings = vr_proc::settings_yaml(&proc.cfg.settings)
        .with_context(|| proc.cfg.file.display().to_string())?;
    let map = container::host_idmap()?;
    container::check_numeric_ids(&proc.cfg, &map)?;
    // VR_ROOT closed to other host users; only the containers' root may pass through it.
    vr_lxc::host::secure_root(&proc.layout.root, &map)
        .with_context(|| format!("VR_ROOT {}", proc.layout.root.display()))?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::Create)?;
    // Whether there is a previous setup to keep should this one fail (looked at holding the
    // lock: another setup may have just finished one).
    let first = !proc.paths.lxc_config.exists();
    let failed = |err: anyhow::Error, exit| {
        let kept = if first {
            let _ = std::fs::remove_dir_all(&proc.paths.dir);
            format!("{} was not set up and nothing of it was kept", proc.name)
        } else {
            format!("the previous setup of {} is unchanged", proc.name)
        };
        Failure::Failed(exit, anyhow::anyhow!("{err:#} ({kept})"))
    };
    let _users = lock::users(&proc.paths.dir, &proc.name, Use::Exclusive)
        .map_err(|err| Failure::Failed(Exit::Failed, err))?;
    // Never rewrite the layer under a container that still runs on it.
    container::stop_stale(&proc);
    // Holding both locks, no other vrun works in the folder: what is there of a setup,
    // uptest, shell or run that was killed is leftover.
    sweep_leftovers(&proc.paths.dir);
    // Ctrl-C or SIGTERM stops a download or unpack cleanly (no temp data left) and exits 128+N.
    let stop = vr_stop::Stop::install().context("cannot install signal handlers")?;
    match do_setup(&proc, keys, settings, map, &RealHost, stop) {
        Ok(()) => {
            eprintln!("vrun: {} is set up", proc.name);
            Ok(Exit::Ok)
        }
        Err(err) => Err(failed(err, stop.signal().map_or(Exit::Error, Exit::Signal))),
    }
}

/// The temp folders and files of vrun's own in a proc's folder: a setup's staging, the layer of
/// an uptest or shell, a run's lxcpath and start marker.
pub fn is_leftover(name: &str) -> bool {
    [".setup-", ".uptest-", ".shell-", ".lxc-", ".started-"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Removes what killed vruns left in the proc folder `dir` (see [`is_leftover`]); call it
/// holding the proc's lock and its users lock exclusively.
fn sweep_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !is_leftover(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let removed = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if removed.is_ok() {
            eprintln!(
                "vrun: removed {}, left by a vrun that was killed",
                path.display()
            );
        }
    }
}

/// The steps of setup; `settings` is the rendered `/settings.yaml`.
fn do_setup(
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
fn commit(
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

/// Removes the proc's folder; nothing to remove is fine. Refused while an uptest or shell of
/// the proc runs.
pub fn teardown(file: &Path) -> Result<Exit, Failure> {
    let proc = Proc::load(file)?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::IfThere)?;
    let _users = lock::users(&proc.paths.dir, &proc.name, Use::Exclusive)
        .map_err(|err| Failure::Failed(Exit::Failed, err))?;
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
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeHost {
        port_start: u16,
    }

    impl Host for FakeHost {
        fn var(&self, name: &str) -> Option<String> {
            (name == "SECRET").then(|| "s3cret".to_string())
        }
        fn unprivileged_port_start(&self) -> u16 {
            self.port_start
        }
    }

    fn cfg(extra: &str) -> ProcConfig {
        let yaml = format!(
            "app_name: a\nversion: v1\nconfig_name: c\nrelease_hash: h\nproc_name: web\n\
             port: 5000\nuser: app\nenv: {{TOKEN: $SECRET}}\n{extra}"
        );
        ProcConfig::parse(Path::new("/p.yaml"), &yaml).unwrap()
    }

    fn plan_of(cfg: &ProcConfig, procfile: Option<&str>, port_start: u16) -> Result<Plan> {
        plan(
            PlanInputs {
                cfg,
                settings: "a: 1\n".into(),
                procfile: (procfile, Path::new("/apps/procs/x/rootfs/app/Procfile")),
                app: (101_000, 101_000),
                root: (100_000, 100_000),
            },
            &FakeHost { port_start },
        )
    }

    #[test]
    fn the_layer_files_their_modes_and_owners() {
        let cfg = cfg("");
        let p = plan_of(&cfg, Some("web: ./serve --port $PORT\n"), 1024).unwrap();
        let summary: Vec<(&str, u32, (u32, u32))> =
            p.files.iter().map(|f| (f.path, f.mode, f.owner)).collect();
        assert_eq!(
            summary,
            [
                ("/env.sh", 0o600, (101_000, 101_000)),
                ("/settings.yaml", 0o600, (101_000, 101_000)),
                ("/proc.sh", 0o755, (100_000, 100_000)),
            ]
        );
        let env = String::from_utf8(p.files[0].data.clone()).unwrap();
        assert!(env.contains("s3cret"), "host variables substituted: {env}");
        let proc_sh = String::from_utf8(p.files[2].data.clone()).unwrap();
        assert!(proc_sh.contains("./serve --port $PORT"), "{proc_sh}");
        assert_eq!(p.files[1].data, b"a: 1\n");
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn a_port_below_the_unprivileged_start_is_warned_about() {
        let cfg = cfg("cmd: ./serve\n");
        let p = plan_of(&cfg, None, 8000).unwrap();
        assert_eq!(
            p.warnings,
            [
                "port 5000 is below net.ipv4.ip_unprivileged_port_start (8000): the proc's root \
              is not root on the host's network and cannot bind it"
            ]
        );
    }

    #[test]
    fn a_build_without_the_procs_line_is_refused_before_anything_is_written() {
        let cfg = cfg("");
        let err = plan_of(&cfg, Some("worker: ./work\n"), 1024).unwrap_err();
        assert!(err.to_string().contains("web"), "{err}");
        let err = plan_of(&cfg, None, 1024).unwrap_err();
        assert!(err.to_string().contains("Procfile"), "{err}");
    }

    #[test]
    fn leftovers_are_vruns_own_temp_names_only() {
        for name in [
            ".setup-Ab12",
            ".uptest-x",
            ".shell-y",
            ".lxc-Zz",
            ".started-42",
        ] {
            assert!(is_leftover(name), "{name}");
        }
        for name in [
            "rootfs",
            "work",
            "proc.lxc",
            "uses",
            "hosts",
            ".users.lock",
            "seccomp",
        ] {
            assert!(!is_leftover(name), "{name}");
        }
    }

    #[test]
    fn only_a_layer_of_an_older_vrun_is_cleared() {
        assert!(!layer_outdated(None), "first setup");
        assert!(layer_outdated(Some("lxc.uts.name = x\n")));
        assert!(!layer_outdated(Some(
            "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n"
        )));
    }
}
