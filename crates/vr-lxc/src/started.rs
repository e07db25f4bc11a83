//! Did the container start? `lxc-execute` exits 1 both when LXC cannot start the container
//! (a missing rootfs, a failed mount) and when the command inside exits 1. A runner must tell
//! the two apart (DESIGN.md: `vrun run` exits 125 when it failed before the proc started), so
//! the rendered config carries an `lxc.hook.start-host` hook: LXC runs it on the host once the
//! container is set up, right before it starts the container's init. The hook creates the file
//! named by [`STARTED_ENV`] in lxc-execute's environment, when that variable is set.

use crate::LxcVersion;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable of `lxc-execute` that names the file the hook creates.
pub const STARTED_ENV: &str = "VR_STARTED";

/// The config key of the hook, LXC 3.0 and later.
pub(crate) const START_HOST_KEY: &str = "lxc.hook.start-host";

/// The hook's command. LXC runs it with `/bin/sh -c "exec <hook> <name> lxc start-host"`, so
/// the appended arguments become `$0 $1 $2` of the inner script and are ignored.
pub(crate) const START_HOST_HOOK: &str =
    r#"/bin/sh -c '[ -z "$VR_STARTED" ] || : > "$VR_STARTED"'"#;

/// Whether configs rendered for LXC `v` carry the hook.
pub(crate) fn has_start_hook(v: &LxcVersion) -> bool {
    *v >= LxcVersion::new(3, 0, 0)
}

/// Whether a rendered config (the text of a `proc.lxc`) reports the container's start.
/// Configs of older vr versions or LXC before 3.0 do not: for those nothing can be told.
pub fn reports_start(config_text: &str) -> bool {
    config_text.lines().any(|l| {
        l.split_once('=')
            .is_some_and(|(k, v)| k.trim() == START_HOST_KEY && v.trim() == START_HOST_HOOK)
    })
}

/// The file the start hook creates for one `lxc-execute`; removed again on drop.
#[derive(Debug)]
pub struct StartMarker {
    path: PathBuf,
}

impl StartMarker {
    /// A marker at `path` (a file of the caller's, which nobody else writes); a stale one
    /// left by a killed earlier run is removed first.
    pub fn new(path: impl Into<PathBuf>) -> StartMarker {
        let path = path.into();
        let _ = std::fs::remove_file(&path);
        StartMarker { path }
    }

    /// Sets [`STARTED_ENV`] on the `lxc-execute` command.
    pub fn arm(&self, cmd: &mut Command) {
        cmd.env(STARTED_ENV, &self.path);
    }

    /// Whether the hook ran, i.e. LXC got as far as starting the container's init.
    pub fn started(&self) -> bool {
        self.path.exists()
    }

    /// The marker's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StartMarker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_is_recognised_only_as_rendered() {
        let line = format!("{START_HOST_KEY} = {START_HOST_HOOK}\n");
        assert!(reports_start(&format!("lxc.uts.name = x\n{line}")));
        assert!(!reports_start("lxc.uts.name = x\n"));
        assert!(!reports_start(&format!(
            "{START_HOST_KEY} = /bin/true\nlxc.uts.name = x\n"
        )));
        assert!(!reports_start(&format!("# {line}")));
    }

    #[test]
    fn versions_with_the_hook() {
        assert!(!has_start_hook(&LxcVersion::new(2, 0, 1)));
        assert!(!has_start_hook(&LxcVersion::new(2, 1, 1)));
        assert!(has_start_hook(&LxcVersion::new(3, 0, 0)));
        assert!(has_start_hook(&LxcVersion::new(5, 0, 2)));
    }

    #[test]
    fn the_hook_creates_the_marker_only_when_asked() {
        // The hook's text run the way LXC runs it, outside a container.
        let dir = tempfile::tempdir().unwrap();
        let marker = StartMarker::new(dir.path().join("started"));
        let run = |armed: bool| {
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c")
                .arg(format!("exec {START_HOST_HOOK} name lxc start-host"))
                .env_remove(STARTED_ENV);
            if armed {
                marker.arm(&mut cmd);
            }
            assert!(cmd.status().unwrap().success());
        };
        run(false);
        assert!(!marker.started());
        run(true);
        assert!(marker.started());
        let path = marker.path().to_owned();
        drop(marker);
        assert!(!path.exists(), "the marker is removed on drop");
    }

    #[test]
    fn a_stale_marker_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("started");
        std::fs::write(&path, "").unwrap();
        let marker = StartMarker::new(&path);
        assert!(!marker.started());
    }
}
