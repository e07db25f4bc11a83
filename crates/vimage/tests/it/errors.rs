//! Bad input and failures: a clear one-line error, a non-zero exit, no tarball, nothing left.

use crate::World;
use std::fs;
use std::path::Path;
use vr_tests::stderr;

fn assert_failed_cleanly(w: &World, o: &std::process::Output, code: i32, needle: &str, name: &str) {
    assert_eq!(o.status.code(), Some(code), "stderr: {}", stderr(o));
    assert!(
        stderr(o).contains(needle),
        "expected {needle:?} in: {}",
        stderr(o)
    );
    assert!(
        !w.out().join(format!("{name}.tar.gz")).exists(),
        "no tarball"
    );
    let stray: Vec<_> = fs::read_dir(w.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part") || n.starts_with(".vimage"))
        .collect();
    assert!(stray.is_empty(), "temp files left: {stray:?}");
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

#[test]
fn failing_script_reports_its_status_keeps_the_log_and_writes_nothing() {
    if !vr_tests::e2e_ready("vimage failing script") {
        return;
    }
    let w = World::new();
    let script = w.script("fail.sh", "#!/bin/sh\necho before failing\nexit 3\n");
    let yaml = w.image_yaml("bad", &script, "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_failed_cleanly(&w, &o, 3, "failed with exit status 3", "bad");
    assert!(fs::read_to_string(w.out().join("bad.failed.log"))
        .unwrap()
        .contains("before failing"));
}

#[test]
fn missing_key_is_named() {
    let w = World::new();
    let yaml = w.yaml(
        "x.yaml",
        "base_image_url: /nowhere.tar.gz\nbase_image_name: b\nnew_image_name: n\n",
    );
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("script_url"), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim().lines().count(),
        1,
        "one line: {}",
        stderr(&o)
    );
}

#[test]
fn new_image_name_must_not_be_a_path() {
    let w = World::new();
    let yaml = w.yaml("x.yaml", "base_image_url: /b.tar.gz\nbase_image_name: b\nnew_image_name: ../evil\nscript_url: /s.sh\n");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("new_image_name"), "{}", stderr(&o));
}

#[test]
fn wrong_base_md5_names_both_sums() {
    if !vr_tests::e2e_ready("vimage wrong md5") {
        return;
    }
    let w = World::new();
    let script = w.script("ok.sh", "#!/bin/sh\ntrue\n");
    let text = format!(
        "base_image_url: {}\nbase_image_name: busybox-base\nbase_image_md5: 0123456789abcdef0123456789abcdef\nnew_image_name: md5\nscript_url: {}\n",
        w.server.url("base.tar.gz"),
        script.display()
    );
    let yaml = w.yaml("md5.yaml", &text);
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_failed_cleanly(&w, &o, 2, "0123456789abcdef0123456789abcdef", "md5");
    assert!(
        stderr(&o).contains(&w.base_md5),
        "actual sum named: {}",
        stderr(&o)
    );
}

#[test]
fn unreachable_url_is_a_clear_error() {
    if !vr_tests::e2e_ready("vimage unreachable url") {
        return;
    }
    let w = World::new();
    let script = w.script("ok.sh", "#!/bin/sh\ntrue\n");
    let text = format!(
        "base_image_url: http://127.0.0.1:9/base.tar.gz\nbase_image_name: busybox-base\nnew_image_name: unreach\nscript_url: {}\n",
        script.display()
    );
    let yaml = w.yaml("u.yaml", &text);
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_failed_cleanly(&w, &o, 2, "http://127.0.0.1:9/base.tar.gz", "unreach");
}

#[test]
fn script_url_that_is_a_directory_is_refused() {
    if !vr_tests::e2e_ready("vimage script dir") {
        return;
    }
    let w = World::new();
    let dir = w.tmp.path().join("www");
    let yaml = w.image_yaml("dir", &dir, "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    let want = format!(
        "script_url {}: {} is a folder, not a file to fetch",
        dir.display(),
        dir.display()
    );
    assert_failed_cleanly(&w, &o, 2, &want, "dir");
    // A device would be copied without end.
    let yaml = w.image_yaml("zero", Path::new("/dev/zero"), "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    let want = "script_url /dev/zero: /dev/zero is a character device, not a file to fetch";
    assert_failed_cleanly(&w, &o, 2, want, "zero");
}

#[test]
fn script_over_http_404_is_refused() {
    if !vr_tests::e2e_ready("vimage script 404") {
        return;
    }
    let w = World::new();
    let text = format!(
        "base_image_url: {}\nbase_image_name: busybox-base\nnew_image_name: nf\nscript_url: {}\n",
        w.server.url("base.tar.gz"),
        w.server.url("status/404")
    );
    let yaml = w.yaml("nf.yaml", &text);
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_failed_cleanly(&w, &o, 2, "404", "nf");
}

#[test]
fn a_container_that_cannot_start_is_not_called_a_failing_script() {
    if !vr_tests::e2e_ready("vimage a_container_that_cannot_start") {
        return;
    }
    // A base whose /etc is a file: LXC cannot bind /etc/resolv.conf into it, so the container
    // never starts. lxc-execute then exits 1, like a script's `exit 1`: the error must say
    // which of the two happened.
    let w = World::new();
    let rootfs = w.tmp.path().join("etcfile");
    vr_tests::busybox_rootfs(&rootfs).unwrap();
    fs::remove_dir_all(rootfs.join("etc")).unwrap();
    fs::write(rootfs.join("etc"), "not a folder\n").unwrap();
    fs::create_dir(w.tmp.path().join("www/etcfile")).unwrap();
    let base = w.tmp.path().join("www/etcfile/base.tar.gz");
    vr_tests::tar_gz(&rootfs, &base).unwrap();
    let script = w.script("ok.sh", "#!/bin/sh\necho never printed\n");
    let yaml = w.yaml(
        "etcfile.yaml",
        &format!(
            "base_image_url: {}\nbase_image_name: busybox-base\nnew_image_name: etcfile\nscript_url: {}\n",
            base.display(),
            script.display()
        ),
    );
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_failed_cleanly(
        &w,
        &o,
        2,
        "the container on busybox-base did not start (lxc-execute exited 1; LXC's messages are above); no image was written",
        "etcfile",
    );
    assert!(
        !stderr(&o).contains("provisioning script"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hostile_image_yaml_fails_fast_with_one_line() {
    let w = World::new();
    let deep = w.yaml(
        "deep.yaml",
        &format!("env: {}{}\n", "{a: ".repeat(100_000), "}".repeat(100_000)),
    );
    for cmd in ["build", "shell"] {
        let o = w.vimage(&[cmd, deep.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(
            stderr(&o),
            format!(
                "vimage: {} line 1: invalid YAML: lists or maps nested more than 64 levels deep\n",
                deep.display()
            )
        );
        let o = w.vimage(&[cmd, "/dev/zero"]);
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(
            stderr(&o),
            "vimage: /dev/zero: larger than 1048576 bytes, refused\n"
        );
    }
}

#[test]
fn a_log_that_is_a_folder_is_named_and_left_alone() {
    if !vr_tests::e2e_ready("vimage log folder") {
        return;
    }
    let w = World::new();
    let folder = w.out().join("dirlog.log");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("keep"), "kept").unwrap();
    let script = w.script("ok.sh", "#!/bin/sh\ntrue\n");
    let yaml = w.image_yaml("dirlog", &script, "");
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert_failed_cleanly(&w, &o, 2, &folder.display().to_string(), "dirlog");
    assert!(stderr(&o).contains("is a folder"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(folder.join("keep")).unwrap(), "kept");
}
