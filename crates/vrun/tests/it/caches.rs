//! Caches and downloads through `vrun setup`, as an operator and an attacker meet them: two
//! builds with one file name, credentials in URLs, a redirect to a file, a dripping server, a
//! sparse bomb on a small VR_ROOT, and what a killed setup left.

use super::*;
use std::time::Instant;

/// A build whose Procfile's `printer` line prints `text`, at `dir/<sub>/release.tar.gz`.
fn printer_build(env: &Env, dir: &Path, sub: &str, text: &str) {
    let app = env.tmp.path().join(format!("app-{sub}"));
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("Procfile"), format!("printer: echo {text}\n")).unwrap();
    fs::create_dir_all(dir.join(sub)).unwrap();
    vr_tests::tar_gz(&app, &dir.join(sub).join("release.tar.gz")).unwrap();
}

/// `yaml` without its `build_md5` line.
fn without_build_md5(yaml: &Path) {
    let text: String = fs::read_to_string(yaml)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("build_md5:"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(yaml, text).unwrap();
}

#[test]
fn two_apps_whose_builds_share_a_file_name_each_run_their_own() {
    if !vr_tests::e2e_ready("vrun two_apps_whose_builds_share_a_file_name_each_run_their_own") {
        return;
    }
    let env = env();
    let www = env.tmp.path().join("www");
    printer_build(&env, &www, "a", "app-a");
    printer_build(&env, &www, "b", "app-b");
    let server = vr_tests::HttpServer::serve(&www);
    let image = env.image.to_str().unwrap().to_string();
    let mut yamls = Vec::new();
    for (name, url) in [
        ("samea", server.url("a/release.tar.gz")),
        ("sameb", server.url("b/release.tar.gz")),
        // The same file name again, differing only in the query string.
        ("sameq", format!("{}?v=2", server.url("b/release.tar.gz"))),
    ] {
        let yaml = env.proc_yaml_from(
            &app_name(name),
            free_port(),
            &image,
            &url,
            "proc_name: printer\n",
        );
        without_build_md5(&yaml);
        ok(&env.run(&["setup"], &yaml));
        yamls.push(yaml);
    }
    assert_eq!(ok(&env.run(&["run"], &yamls[0])), "app-a\n");
    assert_eq!(ok(&env.run(&["run"], &yamls[1])), "app-b\n");
    assert_eq!(ok(&env.run(&["run"], &yamls[2])), "app-b\n");
    let cached = fs::read_dir(env.root.join("builds"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with("release.tar.gz")
        })
        .count();
    assert_eq!(cached, 3, "one cache entry per source");
}

#[test]
fn credentials_in_urls_never_appear() {
    if !vr_tests::e2e_ready("vrun credentials_in_urls_never_appear") {
        return;
    }
    let env = env();
    let server = vr_tests::HttpServer::serve(env.tmp.path());
    let url = format!(
        "{}?token=T0kenValue",
        server.auth_url("missing/release.tar.gz")
    );
    let yaml = env.proc_yaml_from(
        &app_name("secret"),
        free_port(),
        env.image.to_str().unwrap(),
        &url,
        "proc_name: web\n",
    );
    let out = env.run(&["setup"], &yaml);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for secret in [vr_tests::AUTH_PASSWORD, "T0kenValue", "admin:"] {
        assert!(!err.contains(secret), "{secret} in {err}");
    }
    assert!(err.contains("***"), "the URL is shown redacted: {err}");
}

#[test]
fn a_redirect_to_a_file_is_an_error_not_a_panic() {
    if !vr_tests::e2e_ready("vrun a_redirect_to_a_file_is_an_error_not_a_panic") {
        return;
    }
    let env = env();
    let server = vr_tests::HttpServer::serve(env.tmp.path());
    let yaml = env.proc_yaml_from(
        &app_name("redir"),
        free_port(),
        env.image.to_str().unwrap(),
        &server.url("redirect-file"),
        "proc_name: web\n",
    );
    let out = env.run(&["setup"], &yaml);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn a_dripping_server_is_given_up_on_and_the_lock_released() {
    if !vr_tests::e2e_ready("vrun a_dripping_server_is_given_up_on_and_the_lock_released") {
        return;
    }
    let env = env();
    let server = vr_tests::HttpServer::serve(env.build.parent().unwrap());
    let name = env
        .build
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let yaml = env.proc_yaml_from(
        &app_name("drip"),
        free_port(),
        env.image.to_str().unwrap(),
        &server.url(&format!("drip/2000/{name}")),
        "proc_name: printer\n",
    );
    let t = Instant::now();
    let out = env
        .vrun()
        .arg("setup")
        .arg(&yaml)
        .env("VR_DOWNLOAD_SPEED_TIME", "3")
        .output()
        .unwrap();
    // One byte every 2 s is far below 1 KiB/s: given up on after the 3 s window, not after
    // the minutes the whole file would take.
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("VR_DOWNLOAD_SPEED_LIMIT"),
        "the error names the limit: {}",
        stderr(&out)
    );
    // The lock went with it: the next vrun is not refused.
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn a_sparse_bomb_stops_before_a_small_vr_root_fills() {
    if !vr_tests::e2e_ready("vrun a_sparse_bomb_stops_before_a_small_vr_root_fills") {
        return;
    }
    let env = env();
    // VR_ROOT on a 48 MiB tmpfs; the build declares a 1 GiB sparse file in a tarball of a
    // few hundred bytes.
    let small = env.tmp.path().join("small");
    fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48m", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(small.clone());
    fs::set_permissions(&small, fs::Permissions::from_mode(0o755)).unwrap();
    let app = env.tmp.path().join("bomb");
    fs::create_dir(&app).unwrap();
    fs::write(app.join("Procfile"), "printer: echo boom\n").unwrap();
    let big = fs::File::create(app.join("zeros")).unwrap();
    big.set_len(1 << 30).unwrap();
    let bomb = env.tmp.path().join("bomb.tar.gz");
    let packed = Command::new("tar")
        .args(["--sparse", "-czf"])
        .arg(&bomb)
        .arg("-C")
        .arg(&app)
        .arg(".")
        .status()
        .unwrap();
    assert!(packed.success());
    assert!(fs::metadata(&bomb).unwrap().len() < 64 << 10);
    let yaml = env.proc_yaml_from(
        &app_name("bomb"),
        free_port(),
        env.image.to_str().unwrap(),
        bomb.to_str().unwrap(),
        "proc_name: printer\n",
    );
    without_build_md5(&yaml);
    let root = small.join("vr");
    let out = env
        .vrun()
        .arg("setup")
        .arg(&yaml)
        .env("VR_ROOT", &root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("free on the file system"),
        "the error names the limit: {}",
        stderr(&out)
    );
    // Nothing is left of the unpack, and the tmpfs never filled.
    let free = nix_free(&small);
    assert!(free > 30 << 20, "{free} bytes free");
    let procs: Vec<_> = fs::read_dir(root.join("procs"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(procs.is_empty(), "{procs:?}");
}

/// Bytes available on the file system of `path`.
fn nix_free(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    stdout_text(&out)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn stdout_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn what_a_killed_setup_left_is_gone_after_the_next_setup() {
    if !vr_tests::e2e_ready("vrun what_a_killed_setup_left_is_gone_after_the_next_setup") {
        return;
    }
    let env = env();
    let (app, port) = (app_name("swept"), free_port());
    let yaml = env.proc_yaml(&app, port, "proc_name: printer\n");
    ok(&env.run(&["setup"], &yaml));
    // What a setup and an uptest killed with SIGKILL leave in the proc's folder.
    let dir = env.proc_dir(&container(&app, "printer", port));
    for left in [".setup-Kill3d/app/big", ".uptest-Kill3d/upper/x"] {
        let path = dir.join(left);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, vec![0u8; 1 << 20]).unwrap();
    }
    let out = env.run(&["setup"], &yaml);
    ok(&out);
    assert!(
        stderr(&out).contains("left by a vrun that was killed"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join(".setup-Kill3d").exists());
    assert!(!dir.join(".uptest-Kill3d").exists());
    assert_eq!(ok(&env.run(&["run"], &yaml)), "printed\n");
}

#[test]
fn gc_through_a_link_to_vr_root_keeps_what_procs_use() {
    if !vr_tests::e2e_ready("vrun gc_through_a_link_to_vr_root_keeps_what_procs_use") {
        return;
    }
    let env = env();
    let yaml = env.proc_yaml(&app_name("gclink"), free_port(), "proc_name: printer\n");
    ok(&env.run(&["setup"], &yaml));
    let link = env.tmp.path().join("vr-link");
    std::os::unix::fs::symlink(&env.root, &link).unwrap();
    let out = env
        .vrun()
        .args(["gc", "--dry-run"])
        .env("VR_ROOT", &link)
        .output()
        .unwrap();
    assert_eq!(ok(&out), "[]\n", "nothing a set-up proc uses goes");
    ok(&env.run(&["teardown"], &yaml));
}
