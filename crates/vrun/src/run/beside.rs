//! A container beside the proc, for `vrun uptest` and `vrun shell`: its throwaway folder, its
//! config and its lxc-execute.

use super::bounded::{run_bounded, Bounds, Overran};
use super::{hold, scratch, set_up};
use crate::container::{self, Proc};
use crate::lock::{self, Use};
use crate::volumes;
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::PathBuf;
use vr_lxc::{Execute, RealSys};

/// Runs `script` (shell code, after the proc's startup sequence) in a container beside the
/// proc, with `tools` bound read-only, and returns its exit status. With `bounds`, the
/// script must print [`REACHED_VUPTEST`] on its stdout within their startup, and end within
/// their total, or the container is stopped and that is the error; the rest of its stdout
/// becomes ours.
///
/// [`REACHED_VUPTEST`]: super::bounded::REACHED_VUPTEST
pub(super) fn run_beside(
    proc: &Proc,
    what: &str,
    script: &str,
    tools: &[(PathBuf, &str)],
    environment: Vec<(String, String)>,
    bounds: Option<Bounds>,
) -> Result<i32> {
    // Shared with other uptests and shells, and with `run`; setup and teardown wait for it.
    let _users = lock::users(&proc.paths.dir, &proc.name, Use::Shared)?;
    set_up(proc)?;
    // The proc's files carry the ids of the map it was set up with.
    let map = proc.set_up_idmap()?;
    volumes::check_volumes(proc, &map)?;
    let contents = proc.image_tree()?;
    let _tree = hold(&contents)?;
    let user = container::resolve_user(&proc.cfg, &contents, &map)?;
    for (tool, _) in tools {
        vr_lxc::host::check_reachable(tool, &map)
            .with_context(|| format!("cannot bind {} into the container", tool.display()))?;
    }
    let dir = scratch(proc, what)?;
    vr_lxc::host::passage(dir.path(), &map)?;
    // The throwaway upper layer and LXC's work dir beside it belong to the containers' root.
    for sub in ["upper", "work"] {
        let path = dir.path().join(sub);
        std::fs::create_dir(&path).with_context(|| format!("cannot create {}", path.display()))?;
        std::os::unix::fs::chown(&path, Some(map.host_uid), Some(map.host_gid))
            .with_context(|| format!("cannot chown {}", path.display()))?;
    }
    let upper = dir.path().join("upper");
    let config =
        container::beside_container(proc, user, &contents, map, &upper, tools, environment)?;
    let config_path = dir.path().join("config.lxc");
    std::fs::write(&config_path, container::render_for_host(&config)?)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let execute = Execute {
        name: format!("{}-{what}-{}", proc.name, std::process::id()),
        config: config_path,
        // A random lxcpath (the throwaway folder): an unguessable command socket name.
        lxcpath: Some(dir.path().to_path_buf()),
        command: vec!["/bin/sh".into(), "-c".into(), OsString::from(script)],
    };
    let outcome = match bounds {
        None => vr_lxc::run_foreground(&RealSys, execute.command())?,
        Some(bounds) => match run_bounded(execute.command(), bounds)? {
            Ok(outcome) => outcome,
            Err(overran) => {
                let _ = dir.close();
                match overran {
                    Overran::Startup => bail!(
                        "the uptest container of {} did not reach its uptests within {} s (--timeout): \
                         its start or the proc's startup sequence (.profile.d) hangs; it was stopped",
                        proc.name,
                        bounds.startup.as_secs_f64()
                    ),
                    Overran::Total => bail!(
                        "the uptests of {} did not end within {} s (--timeout and --retry-for for \
                         each uptest): something in the container hangs or stopped vuptest; it was stopped",
                        proc.name,
                        bounds.total.as_secs_f64()
                    ),
                }
            }
        },
    };
    dir.close()
        .with_context(|| format!("cannot remove the temp folder of {what}"))?;
    Ok(outcome.code())
}
