//! The build's body: the script fetched and run in the container with its log, then the
//! residue cleared and the result packed; and the closing of the log.

use super::base::{limits, Base};
use super::container::{run_container, script_launch, write_work};
use super::on_error::shell_after_failure;
use super::{BuildOptions, Built, Report, WORK_IN_ROOTFS};
use crate::error::{chain, io_err, BuildError};
use crate::ns::Overlay;
use crate::pack::{pack, PackError, PackOptions};
use crate::scratch::Scratch;
use crate::tee::{failed_line, succeeded_line, Ending, Log};
use std::fs;
use std::path::{Path, PathBuf};
use vr_lxc::{Ended, ForwardTo, IdMap, Outcome};
use vr_proc::ImageConfig;
use vr_stop::{Interrupted, Stop};

/// Ends `log` with the status line of `result` and gives it its name: `<name>.log` after a
/// success (a `<name>.failed.log` of an earlier build is removed: it is not this image's),
/// `<name>.failed.log` after a failure.
pub(super) fn close_log(
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
pub(super) fn build_in(
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
