//! Setup is all or nothing, and the proc's users are told apart: a failed first setup leaves
//! nothing, a failed re-setup leaves the previous one runnable; teardown and setup wait for no
//! uptest or shell but refuse while one runs; `vrun uptest` is bounded as a whole, a hung
//! `.profile.d` included.

use super::*;
use std::io::Read;
use std::time::Instant;

/// A build of `files` (path, content; scripts are made executable) as the env's build.
fn use_build(env: &mut Env, name: &str, files: &[(&str, &str)]) {
    let app = env.tmp.path().join(name);
    for (path, text) in files {
        let p = app.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let build = env.tmp.path().join(format!("files/{name}.tar.gz"));
    vr_tests::tar_gz(&app, &build).unwrap();
    env.build_md5 = vr_tests::md5_file(&build).unwrap();
    env.build = build;
}

#[test]
fn a_failed_first_setup_leaves_nothing() {
    if !vr_tests::e2e_ready("vrun a_failed_first_setup_leaves_nothing") {
        return;
    }
    let env = env();
    let (app, port) = (app_name("first"), free_port());
    let yaml = env.proc_yaml(&app, port, "proc_name: worker\n");
    let out = env.run(&["setup"], &yaml);
    assert_eq!(out.status.code(), Some(2));
    let want = format!(
        "({} was not set up and nothing of it was kept)\n",
        container(&app, "worker", port)
    );
    assert!(stderr(&out).ends_with(&want), "{}", stderr(&out));
    let procs: Vec<_> = fs::read_dir(env.root.join("procs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(procs.is_empty(), "{procs:?}");
}

#[test]
fn a_failed_re_setup_leaves_the_previous_one_runnable() {
    if !vr_tests::e2e_ready("vrun a_failed_re_setup_leaves_the_previous_one_runnable") {
        return;
    }
    let mut env = env();
    let (app, port) = (app_name("resetup"), free_port());
    let name = container(&app, "printer", port);
    let yaml = env.proc_yaml(&app, port, "proc_name: printer\n");
    ok(&env.run(&["setup"], &yaml));
    assert_eq!(ok(&env.run(&["run"], &yaml)), "printed\n");
    let procfile = env.proc_dir(&name).join("rootfs/app/Procfile");
    let before = fs::read_to_string(&procfile).unwrap();
    let unchanged = format!("(the previous setup of {name} is unchanged)\n");

    // A new build whose md5 does not match: refused before anything is unpacked.
    let bad_md5 = fs::read_to_string(&yaml)
        .unwrap()
        .replace(&env.build_md5, "0123456789abcdef0123456789abcdef");
    let yaml_bad = env.tmp.path().join("bad-md5.yaml");
    fs::write(&yaml_bad, bad_md5).unwrap();
    let out = env.run(&["setup"], &yaml_bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).ends_with(&unchanged), "{}", stderr(&out));
    assert_eq!(ok(&env.run(&["run"], &yaml)), "printed\n");

    // A new build that unpacks but lacks the proc's Procfile line: found out after the
    // unpack, and still nothing of the previous setup changed.
    use_build(
        &mut env,
        "no-printer",
        &[("Procfile", "web: echo web\n"), ("marker", "new\n")],
    );
    let yaml_new = env.proc_yaml(&app, port, "proc_name: printer\n");
    let out = env.run(&["setup"], &yaml_new);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("printer"), "{}", stderr(&out));
    assert!(stderr(&out).ends_with(&unchanged), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&procfile).unwrap(), before);
    assert!(!env.proc_dir(&name).join("rootfs/app/marker").exists());
    assert_eq!(ok(&env.run(&["run"], &yaml)), "printed\n");
    // No staging folder stays behind.
    let left: Vec<String> = fs::read_dir(env.proc_dir(&name))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".setup-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // And a good one is taken.
    use_build(&mut env, "good", &[("Procfile", "printer: echo second\n")]);
    let yaml_good = env.proc_yaml(&app, port, "proc_name: printer\n");
    ok(&env.run(&["setup"], &yaml_good));
    assert_eq!(ok(&env.run(&["run"], &yaml_good)), "second\n");
    ok(&env.run(&["teardown"], &yaml_good));
}

/// A build whose uptest `slow` takes `secs` seconds and passes.
fn slow_uptest_build(env: &mut Env, secs: u32) {
    use_build(
        env,
        "slow-uptest",
        &[
            ("Procfile", "web: sleep 1000\n"),
            (
                "uptests/web/slow",
                &format!("#!/bin/sh\nsleep {secs}\necho slow done\n"),
            ),
        ],
    );
}

#[test]
fn teardown_and_setup_refuse_while_an_uptest_runs() {
    if !vr_tests::e2e_ready("vrun teardown_and_setup_refuse_while_an_uptest_runs") {
        return;
    }
    let mut env = env();
    slow_uptest_build(&mut env, 4);
    let (app, port) = (app_name("busy"), free_port());
    let name = container(&app, "web", port);
    let yaml = env.proc_yaml(&app, port, "proc_name: web\n");
    ok(&env.run(&["setup"], &yaml));
    let mut uptest = env
        .vrun()
        .arg("uptest")
        .arg(&yaml)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = env.proc_dir(&name);
    vr_tests::until(
        Duration::from_secs(30),
        "the uptest container exists",
        || {
            fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with(".uptest-"))
                })
                .unwrap_or(false)
        },
    );
    let want = format!(
        "vrun: {name} is in use by a running `vrun uptest` or `vrun shell`: try again once it has ended\n"
    );
    for verb in ["teardown", "setup"] {
        let out = env.run(&[verb], &yaml);
        assert_eq!(out.status.code(), Some(1), "{verb}: {}", stderr(&out));
        assert!(stderr(&out).ends_with(&want), "{verb}: {}", stderr(&out));
    }
    assert!(dir.join("rootfs/app/uptests/web/slow").exists());
    let status = wait_for(&mut uptest, Duration::from_secs(60));
    let mut json = String::new();
    uptest
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    assert!(status.success(), "{json}");
    let results: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(results[0]["Name"], "slow");
    assert_eq!(results[0]["Passed"], true, "{json}");
    ok(&env.run(&["teardown"], &yaml));
    assert!(!dir.exists());
}

#[test]
fn a_hung_profile_d_is_bounded_by_the_uptest_timeout() {
    if !vr_tests::e2e_ready("vrun a_hung_profile_d_is_bounded_by_the_uptest_timeout") {
        return;
    }
    let mut env = env();
    let marker = format!("4{}", std::process::id());
    use_build(
        &mut env,
        "hung-profile",
        &[
            ("Procfile", "web: sleep 1000\n"),
            (".profile.d/hang.sh", &format!("sleep {marker}\n")),
            ("uptests/web/ok", "#!/bin/sh\necho ok\n"),
        ],
    );
    let (app, port) = (app_name("hung"), free_port());
    let name = container(&app, "web", port);
    let yaml = env.proc_yaml(&app, port, "proc_name: web\n");
    ok(&env.run(&["setup"], &yaml));
    let t = Instant::now();
    let out = env.run(&["uptest", "--timeout", "2", "--retry-for", "3"], &yaml);
    // Well below the hang (the sleep's seconds are in the tens of thousands): did not wait
    // for it.
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let want = format!(
        "vrun: the uptest container of {name} did not reach its uptests within 2 s (--timeout): \
         its start or the proc's startup sequence (.profile.d) hangs; it was stopped\n"
    );
    assert!(stderr(&out).ends_with(&want), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    vr_tests::until(Duration::from_secs(10), "the hung sleep is gone", || {
        !String::from_utf8_lossy(
            &Command::new("ps")
                .args(["-eo", "args"])
                .output()
                .unwrap()
                .stdout,
        )
        .lines()
        .any(|l| l.trim() == format!("sleep {marker}"))
    });
    // The uptest's temp folder went with it.
    vr_tests::until(Duration::from_secs(10), "no uptest folder", || {
        !fs::read_dir(env.proc_dir(&name))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".uptest-"))
    });
    // Without the hang the same uptest passes and its JSON alone is on stdout.
    fs::remove_file(env.proc_dir(&name).join("rootfs/app/.profile.d/hang.sh")).unwrap();
    let out = env.run(&["uptest", "--timeout", "2"], &yaml);
    let results: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(results[0]["Passed"], true);
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn a_re_setup_that_cannot_keep_the_previous_files_changes_nothing() {
    if !vr_tests::e2e_ready("vrun a_re_setup_that_cannot_keep_the_previous_files_changes_nothing") {
        return;
    }
    let env = env();
    let (app, port) = (app_name("keep"), free_port());
    let name = container(&app, "printer", port);
    let yaml = env.proc_yaml(&app, port, "proc_name: printer\n");
    ok(&env.run(&["setup"], &yaml));
    // The app grew its own /env.sh past what setup keeps a copy of.
    let env_sh = env.proc_dir(&name).join("rootfs/env.sh");
    let f = fs::OpenOptions::new().append(true).open(&env_sh).unwrap();
    f.set_len(17 << 20).unwrap();
    let out = env.run(&["setup"], &yaml);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with(&format!("(the previous setup of {name} is unchanged)\n")),
        "{}",
        stderr(&out)
    );
    assert!(
        env.proc_dir(&name).join("rootfs/app/Procfile").exists(),
        "the previous build is still there"
    );
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn an_app_that_fakes_its_start_and_hangs_is_bounded_in_all() {
    if !vr_tests::e2e_ready("vrun an_app_that_fakes_its_start_and_hangs_is_bounded_in_all") {
        return;
    }
    let mut env = env();
    let marker = format!("5{}", std::process::id());
    // The app's .profile.d shares the uptest shell: it prints the start marker itself, then
    // hangs, so vuptest never starts.
    use_build(
        &mut env,
        "fake-start",
        &[
            ("Procfile", "web: sleep 1000\n"),
            (
                ".profile.d/fake.sh",
                &format!("printf '\\000vr:uptests\\n' >&3; sleep {marker}\n"),
            ),
            ("uptests/web/ok", "#!/bin/sh\necho ok\n"),
        ],
    );
    let (app, port) = (app_name("fake"), free_port());
    let name = container(&app, "web", port);
    let yaml = env.proc_yaml(&app, port, "proc_name: web\n");
    ok(&env.run(&["setup"], &yaml));
    let t = Instant::now();
    let out = env.run(&["uptest", "--timeout", "1"], &yaml);
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("the uptests of {name} did not end within")),
        "{}",
        stderr(&out)
    );
    // Teardown is not kept waiting.
    ok(&env.run(&["teardown"], &yaml));
}
