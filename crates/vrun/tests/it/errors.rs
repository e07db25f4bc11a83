//! Bad input: each a clear error, and a proc folder that teardown cleans.

use super::*;

fn fails_then_teardown(env: &Env, yaml: &Path, code: i32, want: &str) {
    let out = env.run(&["setup"], yaml);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(want), "stderr {err:?} lacks {want:?}");
    assert!(out.stdout.is_empty());
    ok(&env.run(&["teardown"], yaml));
    let procs: Vec<_> = fs::read_dir(env.root.join("procs"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(procs.is_empty(), "{procs:?}");
}

#[test]
fn wrong_md5() {
    if !vr_tests::e2e_ready("vrun wrong_md5") {
        return;
    }
    let env = env();
    let yaml = env.proc_yaml(&app_name("md5"), free_port(), "proc_name: web\n");
    let text = fs::read_to_string(&yaml)
        .unwrap()
        .replace(&env.build_md5, "0123456789abcdef0123456789abcdef");
    fs::write(&yaml, text).unwrap();
    fails_then_teardown(&env, &yaml, 2, "0123456789abcdef0123456789abcdef");
}

#[test]
fn missing_procfile_line() {
    if !vr_tests::e2e_ready("vrun missing_procfile_line") {
        return;
    }
    let env = env();
    let yaml = env.proc_yaml(&app_name("nop"), free_port(), "proc_name: worker\n");
    fails_then_teardown(&env, &yaml, 2, "worker");
}

#[test]
fn unknown_user() {
    if !vr_tests::e2e_ready("vrun unknown_user") {
        return;
    }
    let env = env();
    let yaml = env.proc_yaml(&app_name("usr"), free_port(), "proc_name: web\n");
    let text = fs::read_to_string(&yaml)
        .unwrap()
        .replace("user: app\n", "user: nosuchuser\n");
    fs::write(&yaml, text).unwrap();
    fails_then_teardown(&env, &yaml, 2, "nosuchuser");
}

#[test]
fn bad_image_tarball() {
    if !vr_tests::e2e_ready("vrun bad_image_tarball") {
        return;
    }
    let env = env();
    let bad = env.tmp.path().join("files/broken.tar.gz");
    fs::write(&bad, b"this is not gzip").unwrap();
    let yaml = env.proc_yaml_from(
        &app_name("img"),
        free_port(),
        bad.to_str().unwrap(),
        env.build.to_str().unwrap(),
        "proc_name: web\n",
    );
    let text = fs::read_to_string(&yaml).unwrap();
    let text = text.replace(&format!("image_md5: {}\n", env.image_md5), "");
    fs::write(&yaml, text).unwrap();
    fails_then_teardown(&env, &yaml, 2, "broken.tar.gz");
}

#[test]
fn run_before_setup_is_125() {
    let env = Env {
        ..env_without_image()
    };
    let yaml = env.proc_yaml(&app_name("early"), free_port(), "proc_name: web\n");
    let out = env.run(&["run"], &yaml);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("is not set up"), "{}", stderr(&out));
    // teardown of a never-set-up proc is fine
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn missing_file_and_bad_yaml() {
    let env = env_without_image();
    let out = env.run(&["setup"], Path::new("/nonexistent/p.yaml"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("vrun: "), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/p.yaml"),
        "{}",
        stderr(&out)
    );
    let yaml = env.tmp.path().join("nocmd.yaml");
    fs::write(&yaml, "app_name: a\nport: 1\n").unwrap();
    let out = env.run(&["uptest"], &yaml);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_vrun"))
        .arg("explode")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("vrun commands: setup, run, uptest, teardown, shell"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vrun"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(ok(&out), format!("vrun {}\n", env!("CARGO_PKG_VERSION")));
    let out = Command::new(env!("CARGO_BIN_EXE_vrun"))
        .arg("--help")
        .output()
        .unwrap();
    let help = ok(&out);
    for c in ["setup", "run", "uptest", "teardown", "shell"] {
        assert!(help.contains(c), "{help}");
    }
}

#[test]
fn uptest_without_uptests_is_an_empty_list() {
    if !vr_tests::e2e_ready("vrun uptest_without_uptests_is_an_empty_list") {
        return;
    }
    let env = env();
    let yaml = env.proc_yaml(&app_name("noup"), free_port(), "proc_name: printer\n");
    ok(&env.run(&["setup"], &yaml));
    assert_eq!(ok(&env.run(&["uptest"], &yaml)), "[]\n");
}

/// An Env whose files are never used (tests that stop before any download).
fn env_without_image() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    Env {
        root: tmp.path().join("vr"),
        image: tmp.path().join("none.tar.gz"),
        image_md5: "0".repeat(32),
        build: tmp.path().join("none-build.tar.gz"),
        build_md5: "0".repeat(32),
        tmp,
    }
}

#[test]
fn hostile_yaml_files_fail_fast_with_one_line() {
    // Each would otherwise hang vrun: an endless file, and flow lists nested so deep that
    // the YAML parser takes minutes (its time grows with the square of the depth).
    let env = env_without_image();
    let deep = env.tmp.path().join("deep.yaml");
    fs::write(
        &deep,
        format!(
            "app_name: a\nsettings: {}{}\n",
            "[".repeat(200_000),
            "]".repeat(200_000)
        ),
    )
    .unwrap();
    for (yaml, want) in [
        (
            Path::new("/dev/zero").to_path_buf(),
            "vrun: /dev/zero: larger than 1048576 bytes, refused\n".to_string(),
        ),
        (
            deep.clone(),
            format!(
                "vrun: {} line 2: invalid YAML: lists or maps nested more than 64 levels deep\n",
                deep.display()
            ),
        ),
    ] {
        for cmd in ["setup", "run", "uptest", "teardown", "shell"] {
            let out = env.run(&[cmd], &yaml);
            assert_eq!(stderr(&out), want, "{cmd}");
            assert_ne!(out.status.code(), Some(0), "{cmd}");
            assert!(out.stdout.is_empty(), "{cmd}");
        }
    }
}

#[test]
fn a_procfile_that_is_a_symlink_is_not_followed() {
    if !vr_tests::e2e_ready("vrun a_procfile_that_is_a_symlink_is_not_followed") {
        return;
    }
    // A build whose Procfile points at a host file (or /dev/zero): vrun must not read it.
    let mut env = env();
    let app = env.tmp.path().join("evil-app");
    fs::create_dir(&app).unwrap();
    std::os::unix::fs::symlink("/dev/zero", app.join("Procfile")).unwrap();
    let build = env.tmp.path().join("files/evil-build.tar.gz");
    vr_tests::tar_gz(&app, &build).unwrap();
    env.build_md5 = vr_tests::md5_file(&build).unwrap();
    env.build = build;
    let yaml = env.proc_yaml(&app_name("evil"), free_port(), "proc_name: web\n");
    fails_then_teardown(
        &env,
        &yaml,
        2,
        "/rootfs/app/Procfile: a path component is a symlink (refused: this tree is writable by a container)",
    );
}

#[test]
fn ctrl_c_during_a_download_leaves_no_temp_file() {
    if !vr_tests::e2e_ready("vrun ctrl_c_during_a_download_leaves_no_temp_file") {
        return;
    }
    // The image server sends half the tarball and then hangs: SIGINT must still stop setup
    // at once (130), and the half-written download must not stay in the cache.
    let env = env();
    let server = vr_tests::HttpServer::serve(env.image.parent().unwrap());
    let (app, port) = (app_name("intr"), free_port());
    let yaml = env.proc_yaml_from(
        &app,
        port,
        &server.url("stall/busybox.tar.gz"),
        env.build.to_str().unwrap(),
        "proc_name: web\n",
    );
    let mut setup = env
        .vrun()
        .arg("setup")
        .arg(&yaml)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cache = env.root.join("images/busybox");
    vr_tests::until(Duration::from_secs(30), "the download started", || {
        vr_tests::has_entry_ending(&cache, ".part")
    });
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill on our own child's pid.
    assert_eq!(unsafe { libc::kill(setup.id() as i32, libc::SIGINT) }, 0);
    let status = wait_for(&mut setup, Duration::from_secs(10));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut setup.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.ends_with(&format!(
            "interrupted by signal 2; nothing was kept ({} was not set up and nothing of it was kept)\n",
            container(&app, "web", port)
        )),
        "{err}"
    );
    let mut left: Vec<String> = fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // Only the entry's lock: no part of the download (the entry is named by its md5).
    assert_eq!(left, [format!("md5-{}-busybox.tar.gz.lock", env.image_md5)]);
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn settings_that_settings_yaml_cannot_hold_fail_before_anything_is_made() {
    let env = env_without_image();
    let yaml = env.proc_yaml(
        &app_name("settings"),
        free_port(),
        "proc_name: web\nsettings:\n  ? [a, b]\n  : a list as a key\n",
    );
    let out = env.run(&["setup"], &yaml);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "vrun: {}: key `settings`: settings has a key that is a list, a map or tagged, which settings.yaml cannot hold\n",
            yaml.display()
        )
    );
    assert!(!env.root.join("procs").exists());
}

#[test]
fn a_volume_that_reaches_vr_root_is_refused() {
    if !vr_tests::e2e_ready("vrun a_volume_that_reaches_vr_root_is_refused") {
        return;
    }
    // Every proc's root is the same host uid: through `/` (or VR_ROOT itself) one proc
    // would reach the layers of the others and the shared images.
    let env = env();
    for (host, problem) in [("/", "contains VR_ROOT"), ("", "lies inside VR_ROOT")] {
        let host = if host.is_empty() {
            fs::create_dir_all(env.root.join("procs")).unwrap();
            env.root.join("procs").display().to_string()
        } else {
            host.to_string()
        };
        let extra = format!("proc_name: web\nvolumes:\n  - [{host}, /host]\n");
        let yaml = env.proc_yaml(&app_name("vol"), free_port(), &extra);
        fails_then_teardown(&env, &yaml, 2, problem);
    }
}

#[test]
fn a_key_that_looks_like_a_typo_is_warned_about() {
    // No container needed: teardown of a proc never set up loads the proc.yaml and exits 0.
    let env = env();
    let yaml = env.proc_yaml(
        &app_name("typo"),
        free_port(),
        "proc_name: web\nmem_limt: 64M\nsome_other_key: 1\n",
    );
    let out = env.run(&["teardown"], &yaml);
    ok(&out);
    assert_eq!(
        stderr(&out),
        format!(
            "vrun: warning: {}: unknown key mem_limt, did you mean mem_limit?\n",
            yaml.display()
        )
    );
}

#[test]
fn lxc_off_path_is_told_apart_from_lxc_missing() {
    if !vr_tests::e2e_ready("vrun lxc_off_path_is_told_apart_from_lxc_missing") {
        return;
    }
    // A supervisor's minimal PATH without /usr/bin, where LXC is installed.
    let env = env();
    let yaml = env.proc_yaml(&app_name("offpath"), free_port(), "proc_name: web\n");
    let out = env
        .vrun()
        .arg("setup")
        .arg(&yaml)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "LXC is installed in /usr/bin but that folder is not on PATH: add it (PATH=/usr/bin:$PATH)"
        ),
        "{}",
        stderr(&out)
    );
}
