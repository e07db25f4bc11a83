//! `vimage build --on-error=shell`: when the script fails and stdin is a terminal, a shell in
//! the failed build's container as the script left it; then the build fails with the script's
//! status, writing no image. Without a terminal: one line, and the usual failure.

use crate::World;
use std::fs;
use vr_tests::stderr;

/// A script that leaves a file behind and fails with 3.
const FAILING: &str =
    "#!/bin/sh\necho made-by-$((6*7)) > /marker-the-script-made\necho failing-now\nexit 3\n";

#[test]
fn the_shell_opens_where_the_script_failed_and_the_build_ends_with_the_scripts_status() {
    if !vr_tests::e2e_ready("vimage --on-error=shell") {
        return;
    }
    let w = World::new();
    let script = w.script("onerr.sh", FAILING);
    let yaml = w.image_yaml("onerr", &script, "env:\n  GREETING: \"hi there\"\n");
    let mut tty =
        crate::vimage_on_a_terminal(&w, &["build", "--on-error=shell", yaml.to_str().unwrap()]);
    tty.wait_for("vimage: opening the shell /bin/sh");
    // Typed once the shell shows its prompt (what is typed before may be flushed as the shell
    // sets up its line editing). The terminal echoes the line, so what is looked for is only
    // in the commands' output: 42 and the value of $GREETING.
    tty.wait_for("/ # ");
    tty.type_line("cat /marker-the-script-made; echo \"greeting=$GREETING\"; exit 7");
    tty.wait_for("; no image was written");
    let (status, shown) = tty.finish();
    assert_eq!(status.code(), Some(3), "the script's status: {shown}");
    assert!(shown.contains("failing-now"), "{shown}");
    assert!(shown.contains("made-by-42"), "the script's file: {shown}");
    assert!(
        shown.contains("greeting=hi there"),
        "image.yaml's env: {shown}"
    );
    assert!(
        shown.contains("vimage: the shell exited 7; the build fails with the script's status"),
        "{shown}"
    );
    assert!(
        shown.contains("failed with exit status 3; no image was written"),
        "{shown}"
    );
    assert!(!shown.contains("packing"), "{shown}");
    assert!(!w.out().join("onerr.tar.gz").exists(), "no tarball");
    assert_eq!(
        fs::read_to_string(w.out().join("onerr.failed.log")).unwrap(),
        "failing-now\nvimage: build failed: the provisioning script exited 3\n",
        "the log is the script's, not the shell's"
    );
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

#[test]
fn without_a_terminal_no_shell_is_opened_and_the_build_fails_as_usual() {
    if !vr_tests::e2e_ready("vimage --on-error=shell without a terminal") {
        return;
    }
    let w = World::new();
    let script = w.script("notty.sh", FAILING);
    let yaml = w.image_yaml("notty", &script, "");
    // Output() gives vimage no stdin at all (/dev/null).
    let o = w.vimage(&["build", "--on-error=shell", yaml.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    let said: Vec<&str> = err.lines().filter(|l| l.contains("no terminal")).collect();
    assert_eq!(
        said,
        ["vimage: --on-error=shell: no terminal is attached (stdin is not a tty), so no shell is opened"]
    );
    assert!(!err.contains("opening the shell"), "{err}");
    assert!(
        err.trim_end()
            .ends_with("failed with exit status 3; no image was written"),
        "{err}"
    );
    assert!(!w.out().join("notty.tar.gz").exists(), "no tarball");
    assert!(w.out().join("notty.failed.log").exists());
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

#[test]
fn on_error_takes_abort_or_shell() {
    let w = World::new();
    let o = w.vimage(&["build", "--on-error=ask", "x.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid value 'ask' for '--on-error <ACTION>'"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("[possible values: abort, shell]"),
        "{}",
        stderr(&o)
    );
}
