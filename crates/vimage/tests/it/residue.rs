//! No build residue: an image is its base plus what the script changed, whatever LXC needed
//! to start the container (mount points, device nodes, /etc/hosts) and whatever vimage put in
//! for the run.

use crate::World;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use vr_tests::stderr;

/// `tar -tv --full-time --numeric-owner` of a gzip tarball: name -> the whole line (type,
/// mode, owner, size or device numbers, mtime to the second, link target).
fn listing(tarball: &Path) -> BTreeMap<String, String> {
    let out = Command::new("tar")
        .args(["--numeric-owner", "--full-time", "-tvzf"])
        .arg(tarball)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            // The name starts after the time: mode owner size date time name...
            let name = line.split_whitespace().nth(5).unwrap().to_string();
            (name, line.to_string())
        })
        .collect()
}

/// [`listing`] with names written the same way whatever their style (`./etc/` and `etc`).
fn normalised(tarball: &Path) -> BTreeMap<String, String> {
    listing(tarball)
        .into_values()
        .map(|line| {
            let name = line.split_whitespace().nth(5).unwrap().to_string();
            let short = name.trim_start_matches("./").trim_end_matches('/');
            let short = if short.is_empty() { "." } else { short };
            let line = line.replacen(&format!(" {name}"), &format!(" {short}"), 1);
            (short.to_string(), line)
        })
        .collect()
}

/// The names whose lines differ between two listings (added, removed or changed).
fn changed(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut names: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Builds `script` on the base tarball `base` (a local path) and returns the image.
fn build_on(w: &World, base: &Path, name: &str, script: &str) -> std::path::PathBuf {
    let script = w.script(&format!("{name}.sh"), script);
    let yaml = w.yaml_on(
        name,
        base.to_str().unwrap(),
        &format!("{name}-base"),
        &script,
    );
    // The base's mtimes are this second's: a second later every mtime LXC or vimage changed
    // shows in the listing.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = w.vimage(&["build", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    w.out().join(format!("{name}.tar.gz"))
}

/// Adds the device nodes a real base has (`/dev/ptmx`, `/dev/null`) and a FIFO to `root`.
fn add_nodes(root: &Path) {
    for (path, kind, major, minor) in [("dev/ptmx", "c", "5", "2"), ("dev/null", "c", "1", "3")] {
        let st = Command::new("mknod")
            .args(["-m", "0666"])
            .arg(root.join(path))
            .args([kind, major, minor])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let st = Command::new("mkfifo")
        .arg(root.join("run/fifo"))
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn a_script_that_changes_nothing_gives_the_base_back_exactly() {
    if !vr_tests::e2e_ready("vimage a_script_that_changes_nothing_gives_the_base_back_exactly") {
        return;
    }
    let w = World::new();
    let root = w.tmp.path().join("base-tree");
    vr_tests::busybox_rootfs(&root).unwrap();
    add_nodes(&root);
    let base = w.tmp.path().join("gnu-base.tar.gz");
    vr_tests::tar_gz(&root, &base).unwrap();
    let image = build_on(&w, &base, "same", "#!/bin/sh\ntrue\n");
    let (want, got) = (listing(&base), listing(&image));
    assert_eq!(
        changed(&want, &got),
        Vec::<String>::new(),
        "base:\n{want:#?}\nimage:\n{got:#?}"
    );
}

#[test]
fn a_docker_export_style_base_gains_nothing() {
    if !vr_tests::e2e_ready("vimage a_docker_export_style_base_gains_nothing") {
        return;
    }
    let w = World::new();
    let root = w.tmp.path().join("base-tree");
    vr_tests::busybox_rootfs(&root).unwrap();
    add_nodes(&root);
    // What `docker export` gives: no /etc/hosts, /etc/resolv.conf, /proc or /sys of its own,
    // names without `./`, and its own marker file.
    for gone in ["etc/hosts", "etc/resolv.conf"] {
        fs::remove_file(root.join(gone)).unwrap();
    }
    for gone in ["proc", "sys"] {
        fs::remove_dir(root.join(gone)).unwrap();
    }
    fs::write(root.join(".dockerenv"), "").unwrap();
    let mut names: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let base = w.tmp.path().join("docker-base.tar.gz");
    let st = Command::new("tar")
        .args(["--numeric-owner", "-czf"])
        .arg(&base)
        .arg("-C")
        .arg(&root)
        .args(&names)
        .status()
        .unwrap();
    assert!(st.success());
    let image = build_on(&w, &base, "docker", "#!/bin/sh\ntrue\n");
    let (want, got) = (normalised(&base), normalised(&image));
    // The base has no entry of its own for the root; the image does (`./`).
    let changes: Vec<String> = changed(&want, &got)
        .into_iter()
        .filter(|n| n != ".")
        .collect();
    assert_eq!(
        changes,
        Vec::<String>::new(),
        "base:\n{want:#?}\nimage:\n{got:#?}"
    );
}

#[test]
fn a_real_script_changes_only_what_it_changed() {
    if !vr_tests::e2e_ready("vimage a_real_script_changes_only_what_it_changed") {
        return;
    }
    let w = World::new();
    let root = w.tmp.path().join("base-tree");
    vr_tests::busybox_rootfs(&root).unwrap();
    add_nodes(&root);
    // This base lacks /etc/hosts: the container's mount point for it must not appear, even
    // though the script writes beside it in /etc.
    fs::remove_file(root.join("etc/hosts")).unwrap();
    let base = w.tmp.path().join("base.tar.gz");
    vr_tests::tar_gz(&root, &base).unwrap();
    let image = build_on(
        &w,
        &base,
        "real",
        "#!/bin/sh\nset -e\necho hi > /etc/motd\nmkdir -p /srv/x\nrm /etc/hostname\n",
    );
    let (want, got) = (normalised(&base), normalised(&image));
    assert_eq!(
        changed(&want, &got),
        [".", "etc", "etc/hostname", "etc/motd", "srv", "srv/x"],
        "base:\n{want:#?}\nimage:\n{got:#?}"
    );
    assert!(!got.contains_key("etc/hosts"), "{got:#?}");
}
