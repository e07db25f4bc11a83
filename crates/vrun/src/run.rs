//! `vrun run`, `vrun uptest` and `vrun shell`: a container in the foreground.

use crate::cli::UptestFlags;
use crate::container::{self, Proc};
use crate::lock::{self, Use};
use crate::{oom, uptester, volumes, Exit, Failure};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vr_lxc::{Execute, RealSys};
use vr_proc::shell_quote;

/// Where vuptest is bound inside uptest containers.
const VUPTEST_IN_CONTAINER: &str = "/.vr/vuptest";

/// What the uptest container prints on its stdout right before it starts vuptest (once the
/// proc's startup sequence, `.profile.d` included, is done); vrun takes it out.
const REACHED_VUPTEST: &[u8] = b"\0vr:uptests\n";

/// How long an uptest container may take to reach vuptest without `--timeout`: vuptest's
/// default timeout.
const DEFAULT_STARTUP: Duration = Duration::from_secs(60);

/// How long lxc-execute gets to end the container after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

fn set_up(proc: &Proc) -> Result<()> {
    if !proc.paths.lxc_config.is_file() || !proc.paths.rootfs.is_dir() {
        bail!(
            "{} is not set up ({} is missing): run `vrun setup {}` first",
            proc.name,
            proc.paths.lxc_config.display(),
            proc.cfg.file.display()
        );
    }
    Ok(())
}

/// Runs the proc in the foreground and exits with its status, holding the proc.yaml lock.
pub fn run(file: &Path) -> Result<Exit, Failure> {
    let not_started = |e: anyhow::Error| Failure::Failed(Exit::NotStarted, e);
    let proc = Proc::load(file).map_err(not_started)?;
    let _lock = lock::lock(file, &proc.paths.dir, lock::Folder::IfThere)?;
    set_up(&proc).map_err(not_started)?;
    container::stop_stale(&proc);
    let (config_text, tree) = follow_image(&proc).map_err(not_started)?;
    // Held while the proc runs: `vrun gc` never removes the image under it.
    let _tree = hold(&tree).map_err(not_started)?;
    // Never start a proc of an older vrun's setup: it would run without a user namespace.
    let map = proc.idmap_of_config(&config_text).map_err(not_started)?;
    // LXC names its command socket after the lxcpath: a fresh random one per start, so no
    // one (a proc, a host user) can take the name before it and stop the proc from starting.
    let lxcpath = scratch(&proc, "lxc").map_err(not_started)?;
    vr_lxc::host::passage(lxcpath.path(), &map).map_err(|e| not_started(e.into()))?;
    let execute = Execute {
        name: proc.name.clone(),
        config: proc.paths.lxc_config.clone(),
        lxcpath: Some(lxcpath.path().to_path_buf()),
        command: vec!["/bin/sh".into(), vr_proc::PROC_SH.into()],
    };
    // The volumes again, as they are now: since setup, an app with a volume on a parent
    // folder could have swapped one for a link to anywhere (VR_ROOT among them).
    check_binds(&proc, &config_text, &map).map_err(not_started)?;
    let marker = vr_lxc::StartMarker::new(
        proc.paths
            .dir
            .join(format!(".started-{}", std::process::id())),
    );
    let mut command = execute.command();
    marker.arm(&mut command);
    let mut kernel_log = oom::KernelLog::open_at_end();
    let outcome = vr_lxc::run_foreground(&RealSys, command).map_err(|e| not_started(e.into()))?;
    if let vr_lxc::Outcome::Exited(code) = outcome {
        if code != 0 && vr_lxc::reports_start(&config_text) && !marker.started() {
            return Err(not_started(anyhow::anyhow!(
                "the container of {} did not start (lxc-execute exited {code}; LXC's messages are above)",
                proc.name
            )));
        }
    }
    // Killed (137): by the OOM killer at its limit, or by someone's SIGKILL?
    if outcome.code() == 128 + libc::SIGKILL {
        let limit = proc
            .cfg
            .mem_limit
            .as_deref()
            .or(proc.cfg.memsw_limit.as_deref());
        if let (Some(log), Some(limit)) = (kernel_log.as_mut(), limit) {
            if log
                .new_records()
                .iter()
                .any(|r| oom::is_oom_kill_of(r, &proc.name))
            {
                eprintln!("vrun: {}", oom::message(&proc.name, limit));
            }
        }
    }
    Ok(Exit::Status(outcome.code()))
}

/// The proc's `proc.lxc`, pointed again at the image tree the proc was set up on when that
/// tree has moved aside since (another setup replaced `images/<image_name>/contents`): a proc
/// restarts on its own image, never silently on a new one.
fn follow_image(proc: &Proc) -> Result<(String, PathBuf)> {
    let text = proc.read_config()?;
    let tree = proc.image_tree()?;
    let image_dir = proc.layout.image_dir(proc.cfg.image_name()?)?;
    match crate::pins::with_image_layer(&text, &image_dir, &tree) {
        Some(moved) => {
            container::write_atomic(&proc.paths.lxc_config, &moved, 0o644)?;
            eprintln!(
                "vrun: {}: its image was replaced since setup; it runs on the one it was set up on, kept at {}",
                proc.name,
                tree.display()
            );
            Ok((moved, tree))
        }
        None => Ok((text, tree)),
    }
}

/// Holds the image tree `tree` shared (see [`crate::gc`]).
fn hold(tree: &Path) -> Result<vr_fs::DirLock> {
    vr_fs::DirLock::shared(tree).with_context(|| format!("cannot lock {}", tree.display()))
}

/// [`volumes::check_volume_source`] for every writable bind of a rendered config.
fn check_binds(proc: &Proc, config_text: &str, map: &vr_lxc::IdMap) -> Result<()> {
    let vr_root = std::fs::canonicalize(&proc.layout.root)
        .with_context(|| format!("cannot resolve VR_ROOT {}", proc.layout.root.display()))?;
    for host in vr_lxc::writable_binds(config_text) {
        volumes::check_volume_source(&host, &vr_root, map)
            .with_context(|| format!("volume {}", host.display()))?;
    }
    Ok(())
}

/// A throwaway folder inside the proc's folder (so teardown removes it even if we are
/// killed), holding the upper layer and config of a container beside the proc.
fn scratch(proc: &Proc, what: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!(".{what}-"))
        .tempdir_in(&proc.paths.dir)
        .with_context(|| {
            format!(
                "cannot create a temp folder in {}",
                proc.paths.dir.display()
            )
        })
}

/// How long an uptest container may take: to reach vuptest, and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Until the script prints `REACHED_VUPTEST`.
    pub startup: Duration,
    /// Until the container has ended: nothing the app does (a `.profile.d` that prints the
    /// marker itself and hangs, an uptest that stops vuptest) keeps it running past this.
    pub total: Duration,
}

impl Bounds {
    /// The bounds of `vrun uptest` with these options over `count` uptests: the start gets
    /// `--timeout`; vuptest then needs at most `--retry-for`, plus `--timeout` and the time
    /// to kill what it started for each uptest (and once more for a rerun under way when the
    /// retry window closes), plus a margin.
    pub fn of_uptests(flags: &UptestFlags, count: usize) -> Bounds {
        let timeout = flags.timeout.unwrap_or(DEFAULT_STARTUP);
        let per_uptest = timeout + Duration::from_secs(5);
        let count = u32::try_from(count).unwrap_or(u32::MAX).saturating_add(1);
        Bounds {
            startup: timeout,
            total: timeout
                + flags.retry_for.unwrap_or_default()
                + per_uptest.saturating_mul(count)
                + Duration::from_secs(5),
        }
    }
}

/// Why a bounded container was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overran {
    /// It did not reach vuptest within [`Bounds::startup`].
    Startup,
    /// It did not end within [`Bounds::total`].
    Total,
}

/// Runs `script` (shell code, after the proc's startup sequence) in a container beside the
/// proc, with `tools` bound read-only, and returns its exit status. With `bounds`, the
/// script must print [`REACHED_VUPTEST`] on its stdout within their startup, and end within
/// their total, or the container is stopped and that is the error; the rest of its stdout
/// becomes ours.
fn run_beside(
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

/// Runs `cmd` (an lxc-execute whose script prints [`REACHED_VUPTEST`] first on its stdout) in
/// the foreground, passing the rest of its stdout on to ours; [`Overran`] when it overran
/// `bounds` (the container was then stopped).
fn run_bounded(
    mut cmd: std::process::Command,
    bounds: Bounds,
) -> Result<std::result::Result<vr_lxc::Outcome, Overran>> {
    cmd.stdout(std::process::Stdio::piped());
    let mut fg = vr_lxc::Foreground::spawn(cmd)?;
    let pid = fg.child().id() as i32;
    let stdout = fg
        .child()
        .stdout
        .take()
        .context("no pipe to the container's stdout")?;
    let reached = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicBool::new(false));
    let stopped = Arc::new(std::sync::Mutex::new(None::<Overran>));
    // Both threads start after the spawn, so they inherit its blocked signal mask: the
    // signals stay the foreground wait's to forward.
    let reader = {
        let reached = Arc::clone(&reached);
        std::thread::spawn(move || pass_on_after_marker(stdout, &reached))
    };
    let watchdog = {
        let (reached, ended, stopped) = (
            Arc::clone(&reached),
            Arc::clone(&ended),
            Arc::clone(&stopped),
        );
        std::thread::spawn(move || {
            let start = Instant::now();
            let overran = loop {
                if ended.load(Ordering::SeqCst) {
                    return;
                }
                let reached = reached.load(Ordering::SeqCst);
                if !reached && start.elapsed() >= bounds.startup {
                    break Overran::Startup;
                }
                if start.elapsed() >= bounds.total {
                    break Overran::Total;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            if let Ok(mut slot) = stopped.lock() {
                *slot = Some(overran);
            }
            // lxc-execute hands SIGTERM to the container's init, which ends every process
            // in it; SIGKILL if that takes too long.
            // SAFETY: kill(2) on our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let stopping = Instant::now();
            while stopping.elapsed() < STOP_GRACE {
                if ended.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: as above; not yet reaped, since `ended` is set only after the wait.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        })
    };
    let outcome = fg.wait(&RealSys);
    ended.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    let _ = reader.join();
    let outcome = outcome?;
    match stopped.lock().ok().and_then(|slot| *slot) {
        Some(overran) => Ok(Err(overran)),
        None => Ok(Ok(outcome)),
    }
}

/// Copies `from` to our stdout, leaving out everything up to and including the first
/// [`REACHED_VUPTEST`] (and setting `reached` when it has come).
fn pass_on_after_marker(mut from: impl Read, reached: &AtomicBool) {
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    let mut out = std::io::stdout();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if reached.load(Ordering::SeqCst) {
            // A reader that went away (`| head`) is ignored: the pipe is drained all the same
            // so the container is never blocked on it.
            let _ = out.write_all(&buf[..n]);
            continue;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = find(&head, REACHED_VUPTEST) {
            reached.store(true, Ordering::SeqCst);
            let _ = out.write_all(&head[i + REACHED_VUPTEST.len()..]);
            head = Vec::new();
        } else if head.len() > 1 << 20 {
            // Nothing but the marker is printed before vuptest; keep the memory bounded.
            let keep = head.len() - REACHED_VUPTEST.len();
            head.drain(..keep);
        }
    }
    let _ = out.flush();
}

/// The index of the first `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The script of an uptest container: the proc's startup sequence ending in vuptest, whose
/// stdout is the only thing that reaches ours (profile scripts print to stderr).
pub fn uptest_script(proc_name: &str, host: &str, port: u16, flags: &[String]) -> String {
    let flags: String = flags
        .iter()
        .map(|f| format!("{} ", shell_quote(f)))
        .collect();
    let command = format!(
        "printf '\\000vr:uptests\\n' >&3; exec {VUPTEST_IN_CONTAINER} {flags}{} {} {port} 1>&3 3>&-",
        shell_quote(&format!("/app/uptests/{proc_name}")),
        shell_quote(host),
    );
    format!("exec 3>&1 1>&2\n{}", vr_proc::proc_sh(&command, port))
}

/// Runs the proc's uptests beside it and prints vuptest's JSON (only that) on stdout.
pub fn uptest(file: &Path, flags: &UptestFlags) -> Result<Exit, Failure> {
    let proc = Proc::load(file)?;
    let Some(proc_name) = proc.cfg.proc_name.clone() else {
        println!("[]");
        return Ok(Exit::Ok);
    };
    set_up(&proc)?;
    // The layer is the app's: look without following a link it may have planted.
    let folder = Path::new("app/uptests").join(&proc_name);
    let kind = proc
        .layer()?
        .entry_kind(&folder)
        .map_err(anyhow::Error::from)?;
    if kind != Some(vr_fs::Kind::Dir) {
        println!("[]");
        return Ok(Exit::Ok);
    }
    let vuptest = uptester::find()?;
    let host = proc.cfg.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port = proc.cfg.port().map_err(anyhow::Error::from)?;
    let script = uptest_script(&proc_name, &host, port, &flags.to_args());
    let count = proc
        .layer()?
        .open_dir(&folder)
        .and_then(|dir| dir.names())
        .map_err(anyhow::Error::from)?
        .len();
    let code = run_beside(
        &proc,
        "uptest",
        &script,
        &[(vuptest, VUPTEST_IN_CONTAINER)],
        Vec::new(),
        Some(Bounds::of_uptests(flags, count)),
    )?;
    Ok(Exit::Status(code))
}

/// The shell of a container: bash when the image or the proc's layer has it, else sh.
pub fn shell_for(proc_rootfs: &Path, contents: &Path) -> &'static str {
    let has_bash = [proc_rootfs, contents].iter().any(|root| {
        vr_fs::Beneath::open(root)
            .and_then(|dir| dir.entry_kind(Path::new("bin/bash")))
            .is_ok_and(|kind| kind.is_some())
    });
    if has_bash {
        "/bin/bash"
    } else {
        "/bin/sh"
    }
}

/// An interactive shell in a container like the proc's, beside it.
pub fn shell(file: &Path) -> Result<Exit, Failure> {
    let proc = Proc::load(file)?;
    set_up(&proc)?;
    let shell = shell_for(&proc.paths.rootfs, &proc.image_tree()?);
    let script = vr_proc::proc_sh(
        &format!("exec {shell}"),
        proc.cfg.port().map_err(anyhow::Error::from)?,
    );
    let environment = std::env::var("TERM")
        .ok()
        .filter(|t| !t.contains('\n'))
        .map(|t| vec![("TERM".to_string(), t)])
        .unwrap_or_default();
    let code = run_beside(&proc, "shell", &script, &[], environment, None)?;
    Ok(Exit::Status(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptest_script_sends_only_vuptest_to_stdout() {
        let s = uptest_script("web", "my host", 5000, &[]);
        assert!(s.starts_with("exec 3>&1 1>&2\n"), "{s}");
        let command = "printf '\\000vr:uptests\\n' >&3; exec /.vr/vuptest '/app/uptests/web' 'my host' 5000 1>&3 3>&-";
        assert!(s.ends_with(&vr_proc::proc_sh(command, 5000)), "{s}");
        let flags = ["--retry-for".to_string(), "30".to_string()];
        let s = uptest_script("web", "h", 80, &flags);
        let command = "printf '\\000vr:uptests\\n' >&3; exec /.vr/vuptest '--retry-for' '30' '/app/uptests/web' 'h' 80 1>&3 3>&-";
        assert!(s.ends_with(&vr_proc::proc_sh(command, 80)), "{s}");
    }

    #[test]
    fn only_what_follows_the_marker_is_passed_on() {
        // The marker itself is what the container's printf writes.
        assert_eq!(REACHED_VUPTEST, b"\0vr:uptests\n");
        assert_eq!(find(b"ab\0vr:uptests\n[]", REACHED_VUPTEST), Some(2));
        assert_eq!(find(b"ab", REACHED_VUPTEST), None);
    }

    #[test]
    fn the_bounds_of_uptests() {
        let flags = UptestFlags {
            timeout: Some(Duration::from_secs(2)),
            retry_for: Some(Duration::from_secs(3)),
            ..UptestFlags::default()
        };
        assert_eq!(
            Bounds::of_uptests(&flags, 4),
            Bounds {
                startup: Duration::from_secs(2),
                // 2 + 3 + (4 + 1) * (2 + 5) + 5
                total: Duration::from_secs(45),
            }
        );
        let default = Bounds::of_uptests(&UptestFlags::default(), 0);
        assert_eq!(default.startup, Duration::from_secs(60));
        assert_eq!(default.total, Duration::from_secs(60 + 65 + 5));
    }

    #[test]
    fn shell_choice() {
        let tmp = tempfile::tempdir().unwrap();
        let (proc_root, image) = (tmp.path().join("p"), tmp.path().join("i"));
        std::fs::create_dir_all(image.join("bin")).unwrap();
        assert_eq!(shell_for(&proc_root, &image), "/bin/sh");
        std::os::unix::fs::symlink("busybox", image.join("bin/bash")).unwrap();
        assert_eq!(shell_for(&proc_root, &image), "/bin/bash");
    }
}
