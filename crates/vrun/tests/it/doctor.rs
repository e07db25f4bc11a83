//! `vrun doctor` on this host: every check passes here; a VR_ROOT behind a closed folder and an
//! open VR_ROOT fail with a fix, and running the fix it prints makes doctor pass.

use super::*;
use std::os::unix::fs::MetadataExt;
use vr_tests::stdout;

/// The checks, in order: the names scripts select on.
const NAMES: [&str; 14] = [
    "root",
    "lxc",
    "lxc-version",
    "cgroups",
    "cgroup-memory",
    "cgroup-pids",
    "overlayfs",
    "user-namespaces",
    "id-range",
    "seccomp",
    "vr-root",
    "vr-root-path",
    "disk",
    "vuptest",
];

/// `vrun doctor` with `root` as VR_ROOT and the static vuptest.
fn doctor(root: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrun"))
        .arg("doctor")
        .env("VR_ROOT", root)
        .env("VR_UPTESTER", static_vuptest())
        .env_remove("VR_IDMAP")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The JSON array (one line on stdout), checked to hold the checks in order with their keys.
fn report(out: &Output) -> Vec<serde_json::Value> {
    let text = stdout(out);
    assert_eq!(text.lines().count(), 1, "one line of JSON: {text}");
    assert!(
        text.starts_with("[{\"Name\":\"root\",\"Passed\":"),
        "{text}"
    );
    let items: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = items.iter().map(|c| c["Name"].as_str().unwrap()).collect();
    assert_eq!(names, NAMES, "{text}");
    for c in &items {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{c}");
        assert!(c["Passed"].is_boolean() && c["Detail"].is_string(), "{c}");
        assert_eq!(
            c["Fix"].is_null(),
            c["Passed"] == true,
            "a fix exactly for failures: {c}"
        );
    }
    items
}

fn check<'a>(items: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    items.iter().find(|c| c["Name"] == name).unwrap()
}

/// Runs a fix doctor printed, as an operator would paste it.
fn run_fix(fix: &str) {
    let out = Command::new("sh").args(["-c", fix]).output().unwrap();
    assert!(out.status.success(), "`{fix}`: {}", stderr(&out));
}

#[test]
fn doctor_passes_on_this_host() {
    if !vr_tests::e2e_ready("vrun doctor_passes_on_this_host") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vr");
    let out = doctor(&root);
    let items = report(&out);
    let err = stderr(&out);
    for c in &items {
        assert_eq!(c["Passed"], true, "{c}\nstderr:\n{err}");
    }
    assert_eq!(out.status.code(), Some(0), "{err}");
    // The table: a line per check, then the summary.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), NAMES.len() + 1, "{err}");
    for (line, name) in lines.iter().zip(NAMES) {
        assert!(line.starts_with(&format!("ok    {name} ")), "{line}");
    }
    assert_eq!(lines[NAMES.len()], "vrun: doctor: all 14 checks passed");
    assert!(
        check(&items, "vr-root")["Detail"]
            .as_str()
            .unwrap()
            .contains("does not exist yet: vrun setup creates it"),
        "{err}"
    );
    assert!(
        check(&items, "vuptest")["Detail"]
            .as_str()
            .unwrap()
            .starts_with(&static_vuptest().display().to_string()),
        "{err}"
    );
    // Doctor only looks.
    assert!(!root.exists());
}

#[test]
fn doctor_fails_when_a_folder_above_vr_root_is_closed() {
    if !vr_tests::e2e_ready("vrun doctor_fails_when_a_folder_above_vr_root_is_closed") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let closed = tmp.path().join("closed");
    fs::create_dir(&closed).unwrap();
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o700)).unwrap();
    let root = closed.join("vr");
    let out = doctor(&root);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let items = report(&out);
    let path = check(&items, "vr-root-path");
    assert_eq!(path["Passed"], false, "{path}");
    assert!(
        path["Detail"].as_str().unwrap().starts_with(&format!(
            "{} is not searchable by the containers' root (host uid ",
            closed.display()
        )),
        "{path}"
    );
    let fix = path["Fix"].as_str().unwrap();
    assert_eq!(fix, format!("chmod o+x {}", closed.display()));
    for c in items.iter().filter(|c| c["Name"] != "vr-root-path") {
        assert_eq!(c["Passed"], true, "{c}");
    }
    let err = stderr(&out);
    assert!(err.contains("FAIL  vr-root-path "), "{err}");
    assert!(err.contains(&format!("  fix: {fix}\n")), "{err}");
    assert!(
        err.ends_with("vrun: doctor: 1 of 14 checks failed\n"),
        "{err}"
    );
    // The fix as printed fixes it.
    run_fix(fix);
    let out = doctor(&root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn doctor_names_the_fix_for_an_open_vr_root() {
    if !vr_tests::e2e_ready("vrun doctor_names_the_fix_for_an_open_vr_root") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vr");
    fs::create_dir(&root).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    let out = doctor(&root);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let items = report(&out);
    let c = check(&items, "vr-root");
    assert_eq!(c["Passed"], false, "{c}");
    assert!(
        c["Detail"]
            .as_str()
            .unwrap()
            .contains("other host users can enter it"),
        "{c}"
    );
    let fix = c["Fix"].as_str().unwrap();
    let shown = root.display();
    assert!(
        fix.starts_with("chown root:") && fix.ends_with(&format!(" {shown} && chmod 0710 {shown}")),
        "{fix}"
    );
    run_fix(fix);
    let meta = fs::metadata(&root).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o710));
    let out = doctor(&root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(check(&report(&out), "vr-root")["Passed"], true);
}

#[test]
fn doctor_tells_lxc_off_path_from_lxc_missing() {
    if !vr_tests::e2e_ready("vrun doctor_tells_lxc_off_path_from_lxc_missing") {
        return;
    }
    // Where vr-lxc and doctor look when PATH lacks LXC, in their order.
    let lxc_dir = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        .into_iter()
        .find(|d| Path::new(d).join("lxc-execute").exists())
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vr");
    // A supervisor's PATH without LXC's folder.
    let out = Command::new(env!("CARGO_BIN_EXE_vrun"))
        .arg("doctor")
        .env("PATH", "/nonexistent")
        .env("VR_ROOT", &root)
        .env("VR_UPTESTER", static_vuptest())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let items = report(&out);
    let fix = format!("export PATH=\"{lxc_dir}:$PATH\"");
    for name in ["lxc", "lxc-version"] {
        let c = check(&items, name);
        assert_eq!(c["Passed"], false, "{c}");
        assert!(c["Detail"].as_str().unwrap().contains("not on PATH"), "{c}");
        assert_eq!(c["Fix"], fix.as_str(), "{c}");
    }
    // The fix, then vrun doctor, in one shell: everything passes.
    let out = Command::new("/bin/sh")
        .args(["-c", &format!("{fix} && exec \"$0\" doctor")])
        .arg(env!("CARGO_BIN_EXE_vrun"))
        .env("PATH", "/nonexistent")
        .env("VR_ROOT", &root)
        .env("VR_UPTESTER", static_vuptest())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
