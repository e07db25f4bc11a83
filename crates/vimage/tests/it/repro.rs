//! Images exactly as built: with `SOURCE_DATE_EPOCH`, two builds of a deterministic script on
//! the same base give the same bytes (gzip and zstd); without it a build still works (mtimes
//! as they are); a script that changes nothing gives an image that `tar -tv` lists as its
//! GNU-tar-made base; `--format` wins over `new_image_format`.

use crate::World;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vr_tests::stderr;

const EPOCH: u64 = 1_700_000_000;

/// Writes a file and makes a folder: nothing in it depends on time, chance or the host.
const SCRIPT: &str = "#!/bin/sh\nset -e\necho 'stack 1' > /etc/stack-release\n\
                      mkdir -p /opt/app/data\necho data > /opt/app/data/file\n\
                      echo \"epoch=${SOURCE_DATE_EPOCH:-}\" > /opt/app/epoch\n";

/// `vimage ARGS` in the world's output folder, with `env` set on top of the world's.
fn vimage_with(w: &World, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = w.command(args);
    cmd.env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Builds `yaml` (with `args` after it) and returns the image's bytes and its sha256 sidecar,
/// after moving both aside (so the next build cannot reuse them).
fn build(
    w: &World,
    yaml: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    image: &str,
) -> (Vec<u8>, String) {
    let mut all = vec!["build", yaml.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = vimage_with(w, &all, env);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let path = w.out().join(image);
    let sidecar = PathBuf::from(format!("{}.sha256", path.display()));
    let (bytes, sum) = (
        fs::read(&path).unwrap(),
        fs::read_to_string(&sidecar).unwrap(),
    );
    fs::remove_file(&path).unwrap();
    fs::remove_file(&sidecar).unwrap();
    (bytes, sum)
}

/// `tar -tv --full-time` of a tarball (gzip or zstd): name (`./` stripped, no trailing `/`)
/// -> the whole line.
fn listing(tarball: &Path) -> BTreeMap<String, String> {
    let out = Command::new("tar")
        .args(["--numeric-owner", "--full-time", "-tvf"])
        .arg(tarball)
        .env("TZ", "UTC")
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
            let name = line.split_whitespace().nth(5).unwrap();
            (name.to_string(), line.to_string())
        })
        .collect()
}

/// The mtime (seconds) of `name` in the gzip tarball `tarball`.
fn mtime_in(tarball: &Path, name: &str) -> u64 {
    let file = fs::File::open(tarball).unwrap();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        if entry.path_bytes().as_ref() == name.as_bytes() {
            return entry.header().mtime().unwrap();
        }
    }
    panic!("{name} is not in {}", tarball.display());
}

#[test]
fn repro_two_builds_with_source_date_epoch_give_the_same_bytes() {
    if !vr_tests::e2e_ready("vimage repro_two_builds_with_source_date_epoch_give_the_same_bytes") {
        return;
    }
    let w = World::new();
    let script = w.script("repro.sh", SCRIPT);
    let epoch = EPOCH.to_string();
    let env = [("SOURCE_DATE_EPOCH", epoch.as_str())];

    // gzip (the default).
    let yaml = w.image_yaml("repro", &script, "");
    let (a, a_sum) = build(&w, &yaml, &[], &env, "repro.tar.gz");
    // A second later: every mtime the second build sets differs from the first's.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (b, b_sum) = build(&w, &yaml, &[], &env, "repro.tar.gz");
    assert_eq!(a_sum, b_sum, "the sha256 sidecars say the same");
    assert!(a == b, "gzip: {} and {} bytes differ", a.len(), b.len());
    assert_eq!(&a[..2], b"\x1f\x8b");
    // The script saw it too.
    let tarball = w.out().join("seen.tar.gz");
    fs::write(&tarball, &a).unwrap();
    assert_eq!(
        crate::file_in(&tarball, "opt/app/epoch"),
        "epoch=1700000000\n"
    );

    // zstd, by image.yaml's key.
    let yaml = w.image_yaml("repro-zst", &script, "new_image_format: zst\n");
    let (a, a_sum) = build(&w, &yaml, &[], &env, "repro-zst.tar.zst");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (b, b_sum) = build(&w, &yaml, &[], &env, "repro-zst.tar.zst");
    assert_eq!(a_sum, b_sum);
    assert!(a == b, "zstd: {} and {} bytes differ", a.len(), b.len());
    assert_eq!(&a[..4], b"\x28\xb5\x2f\xfd");
    assert!(a_sum.ends_with("  repro-zst.tar.zst\n"), "{a_sum}");
}

#[test]
fn repro_without_source_date_epoch_mtimes_are_the_builds() {
    if !vr_tests::e2e_ready("vimage repro_without_source_date_epoch_mtimes_are_the_builds") {
        return;
    }
    let w = World::new();
    let script = w.script("repro.sh", SCRIPT);
    let yaml = w.image_yaml("control", &script, "");
    let o = vimage_with(&w, &["build", yaml.to_str().unwrap()], &[]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let image = w.out().join("control.tar.gz");
    assert!(mtime_in(&image, "./etc/stack-release") > EPOCH);
    // With the variable, the script's file is clamped to it.
    let epoch = EPOCH.to_string();
    let o = vimage_with(
        &w,
        &["build", yaml.to_str().unwrap()],
        &[("SOURCE_DATE_EPOCH", &epoch)],
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(mtime_in(&image, "./etc/stack-release"), EPOCH);
    assert_eq!(mtime_in(&image, "./opt/app/data/"), EPOCH);
}

#[test]
fn repro_a_bad_source_date_epoch_fails_before_the_script_runs() {
    if !vr_tests::e2e_ready("vimage repro_a_bad_source_date_epoch_fails_before_the_script_runs") {
        return;
    }
    let w = World::new();
    let script = w.script("repro.sh", SCRIPT);
    let yaml = w.image_yaml("bad-epoch", &script, "");
    let o = vimage_with(
        &w,
        &["build", yaml.to_str().unwrap()],
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    );
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
    let last = stderr(&o).lines().last().unwrap_or_default().to_string();
    assert_eq!(
        last,
        "vimage: SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC \
         (like 1700000000), not \"yesterday\""
    );
    let left: Vec<String> = fs::read_dir(w.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".yaml"))
        .collect();
    assert!(left.is_empty(), "no image, no log: {left:?}");
}

#[test]
fn repro_a_script_that_changes_nothing_lists_as_its_base() {
    if !vr_tests::e2e_ready("vimage repro_a_script_that_changes_nothing_lists_as_its_base") {
        return;
    }
    let w = World::new();
    let script = w.script("nothing.sh", "#!/bin/sh\ntrue\n");
    let yaml = w.image_yaml("same", &script, "");
    // A second later: an mtime the build changed would show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = vimage_with(&w, &["build", yaml.to_str().unwrap()], &[]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let base = listing(&w.tmp.path().join("www/base.tar.gz"));
    let image = listing(&w.out().join("same.tar.gz"));
    assert!(base.contains_key("./bin/busybox"), "{base:?}");
    let differ: Vec<(&String, Option<&String>)> = base
        .iter()
        .filter(|(name, line)| image.get(*name) != Some(line))
        .map(|(name, _)| (name, image.get(name)))
        .collect();
    assert!(differ.is_empty(), "differ from the base: {differ:#?}");
    let extra: Vec<&String> = image.keys().filter(|n| !base.contains_key(*n)).collect();
    assert!(extra.is_empty(), "not in the base: {extra:?}");
}

#[test]
fn repro_format_flag_wins_over_new_image_format() {
    if !vr_tests::e2e_ready("vimage repro_format_flag_wins_over_new_image_format") {
        return;
    }
    let w = World::new();
    let script = w.script("repro.sh", SCRIPT);
    let yaml = w.image_yaml("flag", &script, "new_image_format: zst\n");
    let o = vimage_with(
        &w,
        &["build", yaml.to_str().unwrap(), "--format", "gz"],
        &[],
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(w.out().join("flag.tar.gz").is_file());
    assert!(w.out().join("flag.tar.gz.md5").is_file());
    assert!(!w.out().join("flag.tar.zst").exists());
    let zst_yaml = w.image_yaml("flag2", &script, "");
    let o = vimage_with(
        &w,
        &["build", zst_yaml.to_str().unwrap(), "--format=zst"],
        &[],
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let image = w.out().join("flag2.tar.zst");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        stdout.ends_with(&format!("  {}\n", image.display())),
        "{stdout}"
    );
    assert_eq!(
        listing(&image)["./etc/stack-release"]
            .split_whitespace()
            .nth(2),
        Some("8"),
        "the script's file is in the zstd image"
    );
    let bad = vimage_with(
        &w,
        &["build", zst_yaml.to_str().unwrap(), "--format", "xz"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("'xz'"), "{}", stderr(&bad));
}
