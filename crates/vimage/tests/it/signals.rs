//! SIGINT, SIGTERM and SIGHUP stop `vimage build` at every step: the download of the base, its
//! unpack, the provisioning script (whatever the script does with the signal) and packing.
//! Each time: exit 128+N, a last line "... interrupted by signal N ...", no tarball, no temp
//! file, nothing under the cache but the cache, no process of the container.

use crate::World;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
use vr_tests::stdout;

/// Bound for anything to happen: generous, only to fail instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);

/// A `vimage build` running in the background, its stderr lines arriving on a channel.
pub(crate) struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    pub(crate) fn start(w: &World, yaml: &Path) -> Running {
        let mut child = w
            .command(&["build", yaml.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads stderr until a line contains `needle`.
    pub(crate) fn wait_for_line(&mut self, needle: &str) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("no line with {needle:?} on stderr: {:#?}", self.seen);
    }

    pub(crate) fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own unreaped child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits for the end: its exit code and every stderr line.
    pub(crate) fn end(mut self) -> (Option<i32>, Vec<String>) {
        let status = vr_tests::wait_for(&mut self.child, PATIENCE);
        self.seen.extend(self.lines.iter());
        (status.code(), self.seen)
    }
}

/// The build `name` ended as `signal` asks: 128+N, the last line says so, nothing written.
fn assert_stopped(w: &World, name: &str, ended: (Option<i32>, Vec<String>), signal: i32) {
    let (code, lines) = ended;
    assert_eq!(code, Some(128 + signal), "stderr: {lines:#?}");
    let last = lines.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("vimage: ") && last.contains(&format!("interrupted by signal {signal};")),
        "last line: {last:?} of {lines:#?}"
    );
    assert!(!last.contains("failed with"), "{last:?}");
    assert!(
        !w.out().join(format!("{name}.tar.gz")).exists(),
        "no tarball"
    );
    let stray: Vec<String> = fs::read_dir(w.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".yaml") && !n.ends_with(".log"))
        .collect();
    assert_eq!(
        stray,
        Vec::<String>::new(),
        "temp files in the output folder"
    );
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

/// No process on the host has `marker` in its command line.
fn assert_no_process(marker: &str) {
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let out = stdout(&ps);
    let left: Vec<&str> = out.lines().filter(|l| l.contains(marker)).collect();
    assert_eq!(
        left,
        Vec::<&str>::new(),
        "the container's processes are gone"
    );
}

/// A build whose script prints `started` and then sleeps on `marker`, stopped by `signal`.
fn stop_the_script(name: &str, signal: i32, marker: &str) {
    let w = World::new();
    let script = w.script(
        &format!("{name}.sh"),
        &format!("#!/bin/sh\necho script-started\nsleep {marker}\necho after-the-sleep\n"),
    );
    let yaml = w.image_yaml(name, &script, "");
    let mut run = Running::start(&w, &yaml);
    run.wait_for_line("script-started");
    run.signal(signal);
    let ended = run.end();
    assert!(
        !ended.1.iter().any(|l| l.contains("after-the-sleep")),
        "{:#?}",
        ended.1
    );
    assert_eq!(
        ended.1.last().map(String::as_str),
        Some(format!("vimage: interrupted by signal {signal}; no image was written").as_str())
    );
    assert_stopped(&w, name, ended, signal);
    assert_no_process(&format!("sleep {marker}"));
}

#[test]
fn sigint_during_the_script_exits_130_and_writes_nothing() {
    if !vr_tests::e2e_ready("vimage SIGINT during the script") {
        return;
    }
    stop_the_script("int", libc::SIGINT, "31301");
}

#[test]
fn sigterm_during_the_script_is_an_interruption_not_a_failing_script() {
    if !vr_tests::e2e_ready("vimage SIGTERM during the script") {
        return;
    }
    stop_the_script("term", libc::SIGTERM, "31302");
}

#[test]
fn sighup_during_the_script_exits_129() {
    if !vr_tests::e2e_ready("vimage SIGHUP during the script") {
        return;
    }
    stop_the_script("hup", libc::SIGHUP, "31303");
}

#[test]
fn a_script_that_traps_the_signals_and_exits_0_still_writes_nothing() {
    if !vr_tests::e2e_ready("vimage SIGINT trapped by the script") {
        return;
    }
    let w = World::new();
    // However the container is asked to end, the script gets to its `exit 0`.
    let script = w.script(
        "trap.sh",
        "#!/bin/sh\ntrap 'echo trapped; stop=1' INT TERM HUP\nsleep 31304 &\necho script-started\n\
         while [ -z \"$stop\" ]; do sleep 0.1; done\necho exiting-0\nexit 0\n",
    );
    let yaml = w.image_yaml("trap", &script, "");
    let mut run = Running::start(&w, &yaml);
    run.wait_for_line("script-started");
    run.signal(libc::SIGINT);
    let ended = run.end();
    assert!(
        ended.1.iter().any(|l| l.contains("exiting-0")),
        "the script went on to exit 0: {:#?}",
        ended.1
    );
    assert_stopped(&w, "trap", ended, libc::SIGINT);
    assert_no_process("sleep 31304");
}

#[test]
fn a_signal_while_packing_stops_it_and_leaves_no_temp_file() {
    if !vr_tests::e2e_ready("vimage signal while packing") {
        return;
    }
    let w = World::new();
    // Random bytes do not compress: packing takes a few seconds. The file sorts last, so a
    // signal that comes while it is being packed finds no entry after it.
    let script = w.script(
        "big.sh",
        "#!/bin/sh\nhead -c 200000000 /dev/urandom > /zzz-big\necho made-big\n",
    );
    for (name, signal) in [("packint", libc::SIGINT), ("packterm", libc::SIGTERM)] {
        let yaml = w.image_yaml(name, &script, "");
        let mut run = Running::start(&w, &yaml);
        run.wait_for_line("vimage: packing");
        // The small files go by at once: the signal comes while the big one is packed.
        std::thread::sleep(Duration::from_millis(500));
        run.signal(signal);
        let started = Instant::now();
        let ended = run.end();
        assert_eq!(
            ended.1.last().map(String::as_str),
            Some(format!("vimage: interrupted by signal {signal}; no image was written").as_str())
        );
        assert_stopped(&w, name, ended, signal);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "did not stop: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_signal_during_the_base_download_leaves_no_temp_file() {
    if !vr_tests::e2e_ready("vimage signal during the base download") {
        return;
    }
    for (name, signal) in [
        ("dlint", libc::SIGINT),
        ("dlterm", libc::SIGTERM),
        ("dlhup", libc::SIGHUP),
    ] {
        let w = World::new();
        let script = w.script("ok.sh", "#!/bin/sh\necho never\n");
        // The server sends half the tarball and then goes silent with the connection open.
        let yaml = w.yaml(
            &format!("{name}.yaml"),
            &format!(
                "base_image_url: {}\nbase_image_name: busybox-base\nnew_image_name: {name}\nscript_url: {}\n",
                w.server.url("stall/base.tar.gz"),
                script.display()
            ),
        );
        let run = Running::start(&w, &yaml);
        let cache = w.root().join("images/busybox-base");
        vr_tests::until(PATIENCE, "the download started", || {
            vr_tests::has_entry_ending(&cache, ".part")
        });
        std::thread::sleep(Duration::from_millis(200));
        run.signal(signal);
        let ended = run.end();
        assert_eq!(ended.0, Some(128 + signal), "{:#?}", ended.1);
        assert!(
            ended.1.last().is_some_and(
                |l| l.ends_with(&format!("interrupted by signal {signal}; nothing was kept"))
            ),
            "{:#?}",
            ended.1
        );
        assert_stopped(&w, name, ended, signal);
    }
}

#[test]
fn a_signal_during_the_unpack_of_the_base_leaves_no_temp_folder() {
    if !vr_tests::e2e_ready("vimage signal during the unpack") {
        return;
    }
    let w = World::new();
    // A base with a large incompressible file (unpacking takes a moment), given as a local
    // path (the copy into the cache is quick).
    let tree = w.tmp.path().join("bigbase");
    vr_tests::busybox_rootfs(&tree).unwrap();
    let out = Command::new("head")
        .args(["-c", "300000000", "/dev/urandom"])
        .output()
        .unwrap();
    fs::write(tree.join("big"), &out.stdout).unwrap();
    let base = w.tmp.path().join("www/bigbase.tar.gz");
    vr_tests::tar_gz(&tree, &base).unwrap();
    let script = w.script("ok.sh", "#!/bin/sh\necho never\n");
    let yaml = w.yaml_on("unpack", base.to_str().unwrap(), "busybox-base", &script);
    let run = Running::start(&w, &yaml);
    let cache = w.root().join("images/busybox-base");
    vr_tests::until(PATIENCE, "the unpack started", || {
        fs::read_dir(&cache).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".unpack-"))
        })
    });
    run.signal(libc::SIGTERM);
    let ended = run.end();
    assert!(
        ended
            .1
            .last()
            .is_some_and(|l| l.ends_with("interrupted by signal 15; nothing was kept")),
        "{:#?}",
        ended.1
    );
    // The downloaded tarball is a verified cache entry (named by its source, ending in its
    // file name, with a lock and a sidecar): it stays, the unpack does not.
    let mut cached = 0;
    for entry in fs::read_dir(&cache).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if [
            "bigbase.tar.gz",
            "bigbase.tar.gz.lock",
            "bigbase.tar.gz.meta",
        ]
        .iter()
        .any(|end| name.ends_with(end))
        {
            fs::remove_file(entry.path()).unwrap();
            cached += 1;
        }
    }
    assert!(cached >= 2, "the tarball and its lock stay");
    assert_stopped(&w, "unpack", ended, libc::SIGTERM);
    assert!(!cache.join("contents").exists(), "no half-unpacked base");
}

#[test]
fn a_build_killed_outright_leaves_nothing_in_the_output_folder() {
    if !vr_tests::e2e_ready("vimage a_build_killed_outright_leaves_nothing_in_the_output_folder") {
        return;
    }
    let w = World::new();
    let script = w.script("slow.sh", "#!/bin/sh\necho script-started\nsleep 60\n");
    let yaml = w.image_yaml("killed", &script, "");
    let mut run = Running::start(&w, &yaml);
    // The log is being written by now: it has no name until the build ends.
    run.wait_for_line("script-started");
    run.signal(libc::SIGKILL);
    let (code, _) = run.end();
    assert_eq!(code, None, "killed by the signal");
    let names: Vec<String> = fs::read_dir(w.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["killed.yaml"]);
}
