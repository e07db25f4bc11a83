//! The `build` and `shell` flows: base image cached once, a fresh overlay over it for every
//! build, the provisioning script (or a shell) as root in an LXC container on that overlay,
//! and the merged result packed into `<new_image_name>.tar.gz`.
//!
//! The parts: `base` (the base image, fetched, unpacked and held), `container` (the
//! container's config, commands and work folder, and running it), `script` (the script's run,
//! its log and the packing of the result) and `on_error` (the `--on-error=shell` shell).

mod base;
mod container;
mod on_error;
mod script;

pub use crate::error::BuildError;
use crate::ns::Overlay;
use crate::pack::{ImageFormat, Packed};
use crate::scratch::Scratch;
pub use base::{ensure_base, Base};
pub use container::env_file;
use container::{run_container, shell_launch, shell_program, write_work, WORK_IN};
use script::{build_in, close_log};
use std::path::{Path, PathBuf};
use vr_lxc::{ForwardTo, IdMap, Outcome, RealSys};
use vr_proc::{ImageConfig, Layout};
use vr_stop::Stop;

/// The folder inside the rootfs that holds the provisioning script and its environment while
/// it runs (removed before packing, and never packed).
pub const WORK_IN_ROOTFS: &str = ".vimage";
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
