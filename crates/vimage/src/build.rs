//! The `build` and `shell` flows: base image cached once, a fresh overlay over it for every
//! build, the provisioning script (or a shell) as root in an LXC container on that overlay,
//! and the merged result packed into `<new_image_name>.tar.gz`.

pub use crate::error::BuildError;
use crate::error::{chain, io_err};
use crate::ns::Overlay;
use crate::pack::{pack, ImageFormat, PackError, PackOptions, Packed};
use crate::scratch::Scratch;
use crate::tee::{failed_line, succeeded_line, Ending, Log, Tee};
use nix::sys::signal::Signal;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use vr_fs::Beneath;
use vr_lxc::{
    ContainerConfig, Ended, Execute, Foreground, ForwardTo, IdMap, Outcome, RealSys, Rootfs,
};
use vr_proc::{ImageConfig, Layout};
use vr_stop::{Interrupted, Stop};

/// The folder inside the rootfs that holds the provisioning script and its environment while
/// it runs (removed before packing, and never packed).
pub const WORK_IN_ROOTFS: &str = ".vimage";
/// The provisioning script as the container sees it.
const SCRIPT_IN: &str = "/.vimage/provision";

/// The container's command running the script after sourcing its environment: when the
/// script ends, so does everything else in the container. (`env` values may hold anything,
/// newlines too, which LXC's `lxc.environment` cannot carry, so they come from a sourced file
/// of quoted exports.) LXC's init waits for every process of the container, so a daemon the
/// script left behind (one an `apt-get install` started, a `setsid` loop ignoring SIGTERM)
/// would run on, writing into the tree, until [`vr_lxc::Leftovers`] ends the container
/// (SIGTERM once this command has been gone a while, SIGKILL a second later). SIGKILL to -1
/// reaches at once every process of the container's pid namespace but this shell and init
/// (spelt `kill -9 -1`: dash takes no `-s KILL -1`, busybox no `-9 -- -1`). The status is the
/// script's. No signal needs passing on: a build's container is only ever ended whole
/// ([`ForwardTo::EndContainer`]). A script that kills this shell from inside is left to
/// [`vr_lxc::Leftovers`].
fn script_launch() -> Vec<String> {
    sh_c(format!(
        ". {WORK_IN}/env.sh && {{ {SCRIPT_IN}; s=$?; kill -9 -1 2>/dev/null; exit $s; }}"
    ))
}

/// The container's command for an interactive shell: the shell is the command itself, so it
/// gets the signals LXC's init passes on (SIGINT) as a shell on a terminal would. What it
/// leaves running is ended once it is gone, as for any container ([`vr_lxc::Leftovers`]).
fn shell_launch(before: &str, sh: &str) -> Vec<String> {
    sh_c(format!(". {WORK_IN}/env.sh && {before}exec {sh}"))
}

/// The container's command running the shell code `line`.
fn sh_c(line: String) -> Vec<String> {
    vec!["/bin/sh".to_string(), "-c".to_string(), line]
}
/// [`WORK_IN_ROOTFS`] as the container sees it.
const WORK_IN: &str = "/.vimage";
/// The PATH a script gets unless `env` says otherwise.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How `vimage build` runs, beyond what image.yaml says (the command line's flags).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Prefix each line of the log with the time elapsed since the script started
    /// (`--timestamps`).
    pub timestamps: bool,
    /// Open a shell in the failed build's container when the script fails and a terminal is
    /// attached (`--on-error=shell`).
    pub shell_on_error: bool,
    /// The compression of the image (`--format`), over image.yaml's `new_image_format`.
    pub format: Option<ImageFormat>,
}

/// What a finished build wrote.
#[derive(Debug)]
pub struct Built {
    /// The tarball.
    pub packed: Packed,
    /// The log (`<new_image_name>.log`).
    pub log: PathBuf,
    /// `new_image_md5` when it was given and differs from the tarball's md5.
    pub md5_mismatch: Option<String>,
}

/// Progress messages for people (the binary prints them on stderr).
pub trait Report {
    /// One line of progress.
    fn step(&self, line: &str);
    /// The download progress to use for fetches.
    fn progress(&self) -> &dyn vr_fetch::Progress;
}

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

/// The container of a build or shell on the merged `rootfs`, in the user namespace `map`, with
/// vr's seccomp profile at `seccomp` but without `no_new_privs` (a provisioning script runs
/// package managers and their setuid helpers): PATH and HOME defaults and TERM passed through
/// (`env` comes on top from [`env_file`]).
fn container(cfg: &ImageConfig, rootfs: &Path, map: IdMap, seccomp: &Path) -> ContainerConfig {
    let mut c = ContainerConfig::new(
        vr_lxc::hostname_for(&cfg.new_image_name),
        Rootfs::Dir(rootfs.to_path_buf()),
        map,
    );
    c.seccomp = Some(seccomp.to_path_buf());
    c.no_new_privs = false;
    c.environment = vec![
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ];
    if let Some(term) = std::env::var("TERM")
        .ok()
        .filter(|t| !t.contains(['\n', '\r', '\0']))
    {
        c.environment.push(("TERM".to_string(), term));
    }
    // The reproducible-builds convention: tools in the script (dpkg, pip, gzip -n users)
    // clamp their own timestamps to it. Only a valid value reaches here (build_in checks it).
    if let Some(epoch) = std::env::var(crate::pack::SOURCE_DATE_EPOCH)
        .ok()
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    {
        c.environment
            .push((crate::pack::SOURCE_DATE_EPOCH.to_string(), epoch));
    }
    c
}

/// The `env` of image.yaml as a POSIX sh file of `export KEY='value'` lines: values arrive
/// byte for byte, whatever they hold.
pub fn env_file(cfg: &ImageConfig) -> String {
    cfg.env
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", vr_proc::shell_quote(v)))
        .collect()
}

/// Writes [`WORK_IN_ROOTFS`] into the merged tree `rootfs` (which the base, and then the
/// script, decides: every write goes through a handle that follows no link): `env.sh`, and
/// the script as `provision` when given. Returns the handle.
fn write_work(
    rootfs: &Path,
    cfg: &ImageConfig,
    map: &IdMap,
    script: Option<&[u8]>,
) -> Result<Beneath, BuildError> {
    let tree = Beneath::open(rootfs)?;
    let work = Path::new(WORK_IN_ROOTFS);
    tree.ensure_dir(work, 0o700, Some(map.root()))?;
    if let Some(script) = script {
        tree.write_file(&work.join("provision"), script, 0o700, Some(map.root()))?;
    }
    tree.write_file(
        &work.join("env.sh"),
        env_file(cfg).as_bytes(),
        0o600,
        Some(map.root()),
    )?;
    Ok(tree)
}

/// A container name unique on this host for this process.
fn container_name(cfg: &ImageConfig) -> String {
    vr_lxc::hostname_for(&format!(
        "vimage-{}-{}",
        cfg.new_image_name,
        std::process::id()
    ))
}

/// Runs `vimage build`: see the module docs. The tarball and log go to `out_dir`.
///
/// `stop` is looked at between steps and while packing; during the script a signal ends the
/// whole container. Either way the build ends with [`BuildError::Interrupted`] and leaves no
/// tarball and no temp data. (The fetches of the base and the script look at the process's
/// flag, the one [`Stop::install`] returns.)
pub fn build(
    cfg: &ImageConfig,
    layout: &Layout,
    out_dir: &Path,
    opts: &BuildOptions,
    report: &dyn Report,
    stop: Stop,
) -> Result<Built, BuildError> {
    let map = IdMap::for_host(&RealSys)?;
    let held = ensure_base(cfg, layout, &map, report, stop)?;
    let base = held.tree();
    stop.check()?;
    let scratch = Scratch::new(layout, &cfg.base_image_name, &base, &map, report)?;
    let mut log = None;
    let result = build_in(
        cfg, &held, &scratch, &map, out_dir, opts, report, stop, &mut log,
    );
    // Whatever happened once the log was started, it gets its status line and its name.
    let result = match log {
        Some(log) => close_log(log, result, report),
        None => result,
    };
    let cleanup = scratch.remove();
    let built = result?;
    cleanup?;
    Ok(built)
}

/// Ends `log` with the status line of `result` and gives it its name: `<name>.log` after a
/// success (a `<name>.failed.log` of an earlier build is removed: it is not this image's),
/// `<name>.failed.log` after a failure.
fn close_log(
    log: Log,
    result: Result<Built, BuildError>,
    report: &dyn Report,
) -> Result<Built, BuildError> {
    match result {
        Ok(mut built) => {
            let (dir, name) = (log.dir().to_path_buf(), log.name().to_string());
            built.log = log
                .finish(Ending::Succeeded, &succeeded_line(&built.packed))
                .map_err(|source| BuildError::LogAfterImage {
                    image: built.packed.path.clone(),
                    source: Box::new(source),
                })?;
            if let Err(e) = crate::tee::remove_failed_log(&dir, &name) {
                report.step(&format!("warning: {}", chain(&e)));
            }
            Ok(built)
        }
        Err(err) => {
            close_failed_log(log, &err, report);
            Err(err)
        }
    }
}

/// Ends `log` with the status line of `err` as `<name>.failed.log` and says where it is (or
/// why it could not be written: `err` stays the build's error).
fn close_failed_log(log: Log, err: &BuildError, report: &dyn Report) {
    match log.finish(Ending::Failed, &failed_line(err)) {
        Ok(path) => report.step(&format!("the failed build's log is {}", path.display())),
        Err(e) => report.step(&chain(&e)),
    }
}

/// The download and unpack limits the environment sets (`VR_DOWNLOAD_*`, `VR_UNPACK_*`).
fn limits() -> Result<vr_fetch::Limits, BuildError> {
    vr_fetch::Limits::from_env(|name| std::env::var(name).ok()).map_err(BuildError::Limits)
}

fn fetch_script(
    cfg: &ImageConfig,
    scratch: &Scratch,
    report: &dyn Report,
    stop: Stop,
) -> Result<PathBuf, BuildError> {
    let dest = scratch.path("script");
    let fetch = vr_fetch::FetchOptions {
        limits: limits()?.download,
        stop,
        ..vr_fetch::FetchOptions::default()
    };
    vr_fetch::fetch(&cfg.script_url, &dest, &fetch, report.progress()).map_err(|source| {
        BuildError::Fetch {
            what: format!("script_url {}", vr_fetch::redact(&cfg.script_url)),
            source,
        }
    })?;
    Ok(dest)
}

#[allow(clippy::too_many_arguments)] // the build's one body, called from build() only
fn build_in(
    cfg: &ImageConfig,
    held: &Base,
    scratch: &Scratch,
    map: &IdMap,
    out_dir: &Path,
    opts: &BuildOptions,
    report: &dyn Report,
    stop: Stop,
    log: &mut Option<Log>,
) -> Result<Built, BuildError> {
    let base = &held.tree();
    // Read before the script runs: a wrong value fails the build before it costs anything.
    let epoch = std::env::var_os(crate::pack::SOURCE_DATE_EPOCH);
    let source_date_epoch = crate::pack::source_date_epoch(epoch.as_deref())?;
    let format = opts.format.unwrap_or(cfg.new_image_format);
    let script = fetch_script(cfg, scratch, report, stop)?;
    stop.check()?;
    // From here on the build ends with a log, whatever happens (build() closes it).
    *log = Some(Log::create(out_dir, &cfg.new_image_name, opts.timestamps)?);
    let log_path = crate::tee::log_path(out_dir, &cfg.new_image_name, Ending::Succeeded);
    let out = out_dir.join(format!("{}.{}", cfg.new_image_name, format.extension()));
    let overlay = Overlay::mount(
        &[base.to_path_buf()],
        &scratch.path("upper"),
        &scratch.path("work"),
        &scratch.path("rootfs"),
    )?;
    let rootfs = overlay.path().to_path_buf();
    // The base (and then the script) decides what is in the merged tree: every write there
    // goes through a handle that follows no link.
    let script_bytes = fs::read(&script).map_err(io_err("read", &script))?;
    let tree = write_work(&rootfs, cfg, map, Some(&script_bytes))?;
    let work = Path::new(WORK_IN_ROOTFS);
    let launch = script_launch();
    // A stopped build ends the whole container, background jobs of the script included, and
    // is stopped whatever the script made of the signal (trapped it, exited 0).
    let ended = run_container(
        cfg,
        scratch,
        &rootfs,
        map,
        log.as_mut(),
        (
            &format!("running {}", vr_fetch::redact(&cfg.script_url)),
            launch,
        ),
        report,
        ForwardTo::EndContainer,
        stop,
    );
    tree.remove_tree(work)?;
    let Ended { outcome, forwarded } = ended?;
    if let Some(signal) = forwarded {
        stop.request(signal as i32);
    }
    stop.check()?;
    if outcome != Outcome::Exited(0) {
        let failed = BuildError::ScriptFailed {
            script: vr_fetch::redact(&cfg.script_url),
            outcome,
        };
        if opts.shell_on_error {
            // The log is complete before the shell opens (it may be read meanwhile).
            if let Some(log) = log.take() {
                close_failed_log(log, &failed, report);
            }
            shell_after_failure(cfg, scratch, &rootfs, map, &script_bytes, report, stop);
        }
        return Err(failed);
    }
    // What LXC made for the container (mount points the base lacked) goes, and folders get
    // the base's mtimes back: the image is the base plus what the script did.
    let lxc_config = scratch.path("container.lxc");
    let lxc_config = fs::read_to_string(&lxc_config).map_err(io_err("read", &lxc_config))?;
    crate::residue::clear(
        &tree,
        &held.beneath()?,
        &crate::residue::mount_targets(&lxc_config),
        work,
    )?;
    report.step(&format!("packing {}", out.display()));
    let cancel = || stop.signal().is_some();
    let exclude = [PathBuf::from(WORK_IN_ROOTFS)];
    let pack_opts = PackOptions {
        unshift: Some(*map),
        exclude: &exclude,
        format,
        source_date_epoch,
        cancel: &cancel,
        ..PackOptions::default()
    };
    let packed = match pack(&rootfs, &out, &pack_opts) {
        Err(PackError::Cancelled) => {
            let signal = stop.signal().unwrap_or(libc::SIGTERM);
            return Err(Interrupted(signal).into());
        }
        other => other?,
    };
    // The tarball is in place: the build is done, and a signal from now on changes nothing.
    overlay.unmount()?;
    let md5_mismatch = cfg
        .new_image_md5
        .as_ref()
        .filter(|want| !want.eq_ignore_ascii_case(&packed.md5))
        .cloned();
    Ok(Built {
        packed,
        log: log_path,
        md5_mismatch,
    })
}

/// Runs the container on `rootfs` with `command`; with `log`, its output (stdout and stderr
/// together) streams to our stderr and into the log; without, stdio is inherited.
/// Signals go `to` the container; one that `stop` caught before the start (or in another
/// thread) is forwarded too.
#[allow(clippy::too_many_arguments)] // one private helper of the two flows
fn run_container(
    cfg: &ImageConfig,
    scratch: &Scratch,
    rootfs: &Path,
    map: &IdMap,
    log: Option<&mut Log>,
    (what, command): (&str, Vec<String>),
    report: &dyn Report,
    to: ForwardTo,
    stop: Stop,
) -> Result<Ended, BuildError> {
    let version = vr_lxc::detect_version(&RealSys)?;
    let cgroups = vr_lxc::CgroupHost::detect(&RealSys)?;
    let seccomp = scratch.path("seccomp");
    fs::write(&seccomp, vr_lxc::SECCOMP_PROFILE).map_err(io_err("write", &seccomp))?;
    let c = container(cfg, rootfs, *map, &seccomp);
    let text = vr_lxc::render(&c, &version, &cgroups)?;
    let config = scratch.path("container.lxc");
    fs::write(&config, &text).map_err(io_err("write", &config))?;
    let exec = Execute {
        name: container_name(cfg),
        config,
        // The scratch folder's random name makes LXC's command socket name unguessable.
        lxcpath: Some(scratch.dir().to_path_buf()),
        command: command.into_iter().map(Into::into).collect(),
    };
    let mut cmd = exec.command();
    let marker = vr_lxc::StartMarker::new(scratch.path("started"));
    marker.arm(&mut cmd);
    let tee = match log.as_deref() {
        Some(log) => {
            let pipe = |e| io_err("make a pipe for the log", &log.path())(e);
            let tee = Tee::new(log).map_err(pipe)?;
            let (out, err) = tee.child_stdio().map_err(pipe)?;
            cmd.stdin(Stdio::null()).stdout(out).stderr(err);
            Some(tee)
        }
        None => None,
    };
    report.step(&format!("{what} in a container on {}", cfg.base_image_name));
    stop.check()?;
    // From the spawn to the end of the wait this thread blocks the signals and forwards them
    // (see vr_lxc::Foreground).
    let fg = Foreground::spawn(cmd)?;
    // Started after the spawn so that the copying thread inherits the blocked signal mask: a
    // signal sent to vimage then finds no thread but the waiting one to take it.
    let copier = tee.map(|t| t.start());
    let caught = || stop.signal().and_then(|s| Signal::try_from(s).ok());
    let ended = fg.wait_ended(&RealSys, to, &caught);
    let copied = match (copier, log) {
        (Some(copier), Some(log)) => copier
            .finish(log)
            .map_err(|e| io_err("write the log", &log.path())(e)),
        _ => Ok(()),
    };
    let ended = ended?;
    copied?;
    // lxc-execute exits 1 both for a script's `exit 1` and when LXC cannot start at all.
    if let (Outcome::Exited(code), None) = (ended.outcome, ended.forwarded) {
        if code != 0 && vr_lxc::reports_start(&text) && !marker.started() {
            return Err(BuildError::NotStarted {
                base: cfg.base_image_name.clone(),
                code,
            });
        }
    }
    Ok(ended)
}

/// The interactive shell of the tree at `rootfs`: `/bin/bash`, or `/bin/sh` when it has none.
fn shell_program(rootfs: &Path) -> Result<&'static str, BuildError> {
    let has_bash = Beneath::open(rootfs)?
        .entry_kind(Path::new("bin/bash"))?
        .is_some();
    Ok(if has_bash { "/bin/bash" } else { "/bin/sh" })
}

/// `--on-error=shell`: after the script failed, an interactive shell in its container as it
/// left it (the same overlay, `env`, user namespace), with the script back at
/// `/.vimage/provision`, when stdin is a terminal; otherwise one line saying why not. Signals
/// are the shell's, as for `vimage shell`. What goes wrong here is said and does not change
/// how the build ends: with the script's status.
fn shell_after_failure(
    cfg: &ImageConfig,
    scratch: &Scratch,
    rootfs: &Path,
    map: &IdMap,
    script: &[u8],
    report: &dyn Report,
    stop: Stop,
) {
    if !std::io::stdin().is_terminal() {
        report.step(
            "--on-error=shell: no terminal is attached (stdin is not a tty), so no shell is opened",
        );
        return;
    }
    let opened = (|| {
        write_work(rootfs, cfg, map, Some(script))?;
        let sh = shell_program(rootfs)?;
        report.step(&format!(
            "the script failed: a shell in its container, as it left it ({WORK_IN}/provision is \
             the script; image.yaml's env is set); nothing is packed, exit the shell to end the \
             build"
        ));
        run_container(
            cfg,
            scratch,
            rootfs,
            map,
            None,
            (&format!("opening the shell {sh}"), shell_launch("", sh)),
            report,
            ForwardTo::Container,
            stop,
        )
    })();
    match opened {
        Ok(ended) => report.step(&format!(
            "the shell exited {}; the build fails with the script's status",
            ended.outcome.code()
        )),
        Err(e) => report.step(&format!("cannot open the shell: {}", chain(&e))),
    }
}

/// Runs `vimage shell`: the build's container with an interactive shell; nothing is kept.
/// Signals that come while the shell runs are the shell's (SIGINT to it alone, SIGTERM and
/// SIGHUP end the container), and its status is returned; before, `stop` ends the setup.
pub fn shell(
    cfg: &ImageConfig,
    layout: &Layout,
    report: &dyn Report,
    stop: Stop,
) -> Result<Outcome, BuildError> {
    let map = IdMap::for_host(&RealSys)?;
    let held = ensure_base(cfg, layout, &map, report, stop)?;
    let base = held.tree();
    stop.check()?;
    let scratch = Scratch::new(layout, &cfg.base_image_name, &base, &map, report)?;
    let result = (|| {
        let overlay = Overlay::mount(
            std::slice::from_ref(&base),
            &scratch.path("upper"),
            &scratch.path("work"),
            &scratch.path("rootfs"),
        )?;
        let rootfs = overlay.path().to_path_buf();
        let sh = shell_program(&rootfs)?;
        // The build's environment: image.yaml's `env` exported exactly as for the script
        // (then its file goes; the shell's changes are thrown away anyway).
        write_work(&rootfs, cfg, &map, None)?;
        let launch = shell_launch(&format!("rm -rf {WORK_IN} && "), sh);
        let ended = run_container(
            cfg,
            &scratch,
            &rootfs,
            &map,
            None,
            (&format!("opening the shell {sh}"), launch),
            report,
            ForwardTo::Container,
            stop,
        );
        overlay.unmount()?;
        ended.map(|e| e.outcome)
    })();
    let cleanup = scratch.remove();
    let outcome = result?;
    cleanup?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_quotes_every_value() {
        let yaml =
            "base_image_url: b.tar.gz\nbase_image_name: b\nnew_image_name: n\nscript_url: s.sh\n\
                    env:\n  A: \"it's $(id)\"\n  B: \"two\\nlines\"\n";
        let cfg = ImageConfig::parse(Path::new("image.yaml"), yaml).unwrap();
        assert_eq!(
            env_file(&cfg),
            "export A='it'\\''s $(id)'\nexport B='two\nlines'\n"
        );
    }
}
