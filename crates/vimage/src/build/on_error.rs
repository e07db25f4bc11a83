//! `--on-error=shell`: a shell in the failed build's container.

use super::container::{run_container, shell_launch, shell_program, write_work, WORK_IN};
use super::Report;
use crate::error::chain;
use crate::scratch::Scratch;
use std::io::IsTerminal;
use std::path::Path;
use vr_lxc::{ForwardTo, IdMap};
use vr_proc::ImageConfig;
use vr_stop::Stop;

/// `--on-error=shell`: after the script failed, an interactive shell in its container as it
/// left it (the same overlay, `env`, user namespace), with the script back at
/// `/.vimage/provision`, when stdin is a terminal; otherwise one line saying why not. Signals
/// are the shell's, as for `vimage shell`. What goes wrong here is said and does not change
/// how the build ends: with the script's status.
pub(super) fn shell_after_failure(
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
