//! `vrun uptest`: the proc's uptests, run by vuptest in a container beside it.

use super::beside::run_beside;
use super::{set_up, Bounds};
use crate::cli::UptestFlags;
use crate::container::Proc;
use crate::{uptester, Exit, Failure};
use anyhow::Result;
use std::path::Path;
use vr_proc::shell_quote;

/// Where vuptest is bound inside uptest containers.
const VUPTEST_IN_CONTAINER: &str = "/.vr/vuptest";

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
}
