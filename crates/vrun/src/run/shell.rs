//! `vrun shell`: an interactive shell in a container beside the proc.

use super::beside::run_beside;
use super::set_up;
use crate::container::Proc;
use crate::{Exit, Failure};
use anyhow::Result;
use std::path::Path;

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
    fn shell_choice() {
        let tmp = tempfile::tempdir().unwrap();
        let (proc_root, image) = (tmp.path().join("p"), tmp.path().join("i"));
        std::fs::create_dir_all(image.join("bin")).unwrap();
        assert_eq!(shell_for(&proc_root, &image), "/bin/sh");
        std::os::unix::fs::symlink("busybox", image.join("bin/bash")).unwrap();
        assert_eq!(shell_for(&proc_root, &image), "/bin/bash");
    }
}
