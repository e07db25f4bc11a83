//! The build log: the script's output byte for byte (with `--timestamps`, each line prefixed
//! with the time since the script started), always ended by one status line of vimage's;
//! `<name>.log` beside the image it belongs to, `<name>.failed.log` for a build that wrote no
//! image, and nothing half-written under any name.

use crate::signals::Running;
use crate::World;
use std::fs;
use std::path::Path;
use std::process::Command;
use vr_tests::stderr;

/// The sha256 of `path`, as `sha256sum` prints it.
fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// The status line a successful build of `name` in `w` ends its log with, from the tarball.
fn succeeded_line(w: &World, name: &str) -> String {
    let tarball = w.out().join(format!("{name}.tar.gz"));
    format!(
        "vimage: build succeeded: wrote {name}.tar.gz ({} bytes, md5 {}, sha256 {})\n",
        fs::metadata(&tarball).unwrap().len(),
        vr_tests::md5_file(&tarball).unwrap(),
        sha256(&tarball)
    )
}

/// The names in the output folder that are not image.yaml files, sorted.
fn out_names(w: &World) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(w.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// `[   12.345s] `: 13 bytes, seconds right-aligned, milliseconds.
fn split_stamp(line: &[u8]) -> (f64, &[u8]) {
    let text = String::from_utf8_lossy(line);
    assert!(
        line.len() >= 13 && line[0] == b'[' && &line[10..13] == b"s] ",
        "no timestamp: {text:?}"
    );
    let secs: f64 = std::str::from_utf8(&line[1..10])
        .unwrap()
        .trim_start()
        .parse()
        .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    assert_eq!(&line[6..7], b".", "three decimals: {text:?}");
    (secs, &line[13..])
}

#[test]
fn the_log_is_the_scripts_output_byte_for_byte_then_the_images_sums() {
    if !vr_tests::e2e_ready("vimage log without timestamps") {
        return;
    }
    let w = World::new();
    let script = w.script(
        "plain.sh",
        "#!/bin/sh\necho first line\necho to stderr >&2\nprintf '\\377\\376 not utf-8\\n'\n\
         printf 'no newline at the end'\n",
    );
    let yaml = w.image_yaml("plain", &script, "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = fs::read(w.out().join("plain.log")).unwrap();
    let mut want = b"first line\nto stderr\n\xff\xfe not utf-8\nno newline at the end\n".to_vec();
    want.extend_from_slice(succeeded_line(&w, "plain").as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&log),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(log, want);
    assert_eq!(
        out_names(&w),
        [
            "plain.log",
            "plain.tar.gz",
            "plain.tar.gz.md5",
            "plain.tar.gz.sha256"
        ],
        "no temp file, no failed log"
    );
}

#[test]
fn timestamps_prefix_every_line_of_the_log_but_not_the_terminal() {
    if !vr_tests::e2e_ready("vimage --timestamps") {
        return;
    }
    let w = World::new();
    let script = w.script(
        "stamped.sh",
        "#!/bin/sh\necho one\necho two >&2\nprintf '\\377 three\\n'\nprintf 'partial'\n",
    );
    let yaml = w.image_yaml("stamped", &script, "");
    let o = w.vimage(&["build", "--timestamps", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = fs::read(w.out().join("stamped.log")).unwrap();
    assert_eq!(log.last(), Some(&b'\n'));
    let mut last = 0.0;
    let mut bodies = Vec::new();
    for line in log[..log.len() - 1].split(|b| *b == b'\n') {
        let (secs, body) = split_stamp(line);
        assert!(secs >= last, "stamps go forward: {secs} after {last}");
        last = secs;
        bodies.push(body.to_vec());
    }
    let status = succeeded_line(&w, "stamped");
    assert_eq!(
        bodies,
        [
            &b"one"[..],
            b"two",
            b"\xff three",
            b"partial",
            status.trim_end().as_bytes()
        ]
    );
    // The terminal gets the script's output as it wrote it.
    let err = stderr(&o);
    assert!(err.contains("\none\ntwo\n"), "{err}");
    assert!(!err.contains("s] one"), "{err}");
}

#[test]
fn a_failed_build_writes_name_failed_log_and_leaves_the_previous_image_and_log_alone() {
    if !vr_tests::e2e_ready("vimage failed log") {
        return;
    }
    let w = World::new();
    let script = w.script("keep.sh", "#!/bin/sh\necho first build\n");
    let yaml = w.image_yaml("keep", &script, "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let kept = [
        "keep.log",
        "keep.tar.gz",
        "keep.tar.gz.md5",
        "keep.tar.gz.sha256",
    ];
    let before: Vec<Vec<u8>> = kept
        .iter()
        .map(|n| fs::read(w.out().join(n)).unwrap())
        .collect();

    // The same image.yaml, its script now failing.
    fs::write(&script, "#!/bin/sh\necho second attempt\nexit 7\n").unwrap();
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let failed = w.out().join("keep.failed.log");
    assert_eq!(
        fs::read_to_string(&failed).unwrap(),
        "second attempt\nvimage: build failed: the provisioning script exited 7\n"
    );
    assert!(
        stderr(&o).contains(&format!(
            "vimage: the failed build's log is {}\n",
            failed.display()
        )),
        "{}",
        stderr(&o)
    );
    for (name, bytes) in kept.iter().zip(&before) {
        assert_eq!(
            &fs::read(w.out().join(name)).unwrap(),
            bytes,
            "{name} is as the first build left it"
        );
    }
    let mut all = kept.to_vec();
    all.insert(0, "keep.failed.log");
    assert_eq!(out_names(&w), all, "no temp file");

    // A successful build again: its log, and the failed one is gone (it is no image's).
    fs::write(&script, "#!/bin/sh\necho third build\n").unwrap();
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(w.out().join("keep.log")).unwrap(),
        format!("third build\n{}", succeeded_line(&w, "keep"))
    );
    assert_eq!(out_names(&w), kept);
}

#[test]
fn an_interrupted_build_says_so_in_its_failed_log() {
    if !vr_tests::e2e_ready("vimage interrupted log") {
        return;
    }
    let w = World::new();
    fs::write(w.out().join("int.log"), "the previous image's log\n").unwrap();
    let script = w.script(
        "int.sh",
        "#!/bin/sh\necho script-started\nsleep 31311\necho after-the-sleep\n",
    );
    let yaml = w.image_yaml("int", &script, "");
    let mut run = Running::start(&w, &yaml);
    run.wait_for_line("script-started");
    run.signal(libc::SIGTERM);
    let (code, lines) = run.end();
    assert_eq!(code, Some(143), "{lines:#?}");
    let log = fs::read_to_string(w.out().join("int.failed.log")).unwrap();
    assert!(log.starts_with("script-started\n"), "{log}");
    assert!(
        log.ends_with("\nvimage: build failed: interrupted by signal 15\n"),
        "{log}"
    );
    assert!(!log.contains("after-the-sleep"), "{log}");
    assert_eq!(
        fs::read_to_string(w.out().join("int.log")).unwrap(),
        "the previous image's log\n"
    );
    assert_eq!(out_names(&w), ["int.failed.log", "int.log"], "no temp file");
}
