//! setup, run, uptest, lock, SIGTERM, teardown of a web proc over real HTTP.

use super::*;
use std::time::Duration;

#[test]
fn web_proc_lifecycle() {
    if !vr_tests::e2e_ready("vrun web_proc_lifecycle") {
        return;
    }
    let env = env();
    let server = vr_tests::HttpServer::serve(env.image.parent().unwrap());
    let app = app_name("life");
    let port = free_port();
    let yaml = env.proc_yaml_from(
        &app,
        port,
        &server.url("busybox.tar.gz"),
        &server.url("build.tar.gz"),
        "proc_name: web\n",
    );
    let name = container(&app, "web", port);
    ok(&env.run(&["setup"], &yaml));
    let dir = env.proc_dir(&name);
    for f in [
        "proc.lxc",
        "rootfs/app/Procfile",
        "rootfs/env.sh",
        "rootfs/proc.sh",
        "rootfs/settings.yaml",
        "rootfs/dev",
        "seccomp",
        "work",
    ] {
        assert!(dir.join(f).symlink_metadata().is_ok(), "missing {f}");
    }
    // LXC fills a tmpfs /dev in the container: no device node is made on disk.
    assert_eq!(fs::read_dir(dir.join("rootfs/dev")).unwrap().count(), 0);
    assert!(env
        .root
        .join("images/busybox/contents/bin/busybox")
        .is_file());
    // Setup again: fine, and the cached downloads are reused.
    ok(&env.run(&["setup"], &yaml));
    assert_eq!(server.requests("/busybox.tar.gz"), 1);
    assert_eq!(server.requests("/build.tar.gz"), 1);

    let mut run = env.start_run(&yaml, Stdio::null());
    // uptest runs beside the running proc (the lock is not needed).
    let out = env.run(&["uptest"], &yaml);
    let json = ok(&out);
    let results: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {json:?}\nstderr: {}", stderr(&out)));
    let results = results.as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["01_pass", "02_fail"], "{json}");
    assert_eq!(results[0]["Passed"], true, "{json}");
    assert_eq!(results[1]["Passed"], false, "{json}");
    assert!(results[1]["Output"]
        .as_str()
        .unwrap()
        .contains("failing on purpose"));
    // The proc's own layer got nothing from the uptest container.
    assert!(!dir.join("rootfs/.vr").exists());

    // The lock: run/setup/teardown of the same file fail fast while run holds it.
    for cmd in ["run", "setup", "teardown"] {
        let out = env.run(&[cmd], &yaml);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!("ERROR: {} is locked by another process.\n", yaml.display()),
            "{cmd}"
        );
    }

    // Another proc.yaml naming the same container: the proc's folder is locked too, so it
    // can neither rewrite the running proc's layer nor start it twice nor remove it.
    let twin = yaml.with_file_name("twin.yaml");
    fs::copy(&yaml, &twin).unwrap();
    for cmd in ["setup", "run", "teardown"] {
        let out = env.run(&[cmd], &twin);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!("ERROR: {} is locked by another process.\n", dir.display()),
            "{cmd}"
        );
    }

    // SIGTERM ends it (busybox httpd dies of it: 128+15).
    nix_kill(run.id(), libc::SIGTERM);
    let status = wait_for(&mut run, Duration::from_secs(10));
    assert_eq!(status.code(), Some(143));
    nothing_left(&name, &env.root);

    ok(&env.run(&["teardown"], &yaml));
    assert!(!dir.exists());
    ok(&env.run(&["teardown"], &yaml));
}

fn nix_kill(pid: u32, sig: i32) {
    // SAFETY: kill on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn procs_of_one_image_set_up_together() {
    if !vr_tests::e2e_ready("vrun procs_of_one_image_set_up_together") {
        return;
    }
    let env = env();
    let app = app_name("pair");
    let yamls: Vec<PathBuf> = (0..2)
        .map(|_| env.proc_yaml(&app, free_port(), "proc_name: printer\n"))
        .collect();
    let children: Vec<_> = yamls
        .iter()
        .map(|y| {
            env.vrun()
                .arg("setup")
                .arg(y)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let unpacked = outs
        .iter()
        .map(|o| {
            ok(o);
            stderr(o).matches("unpacked image").count()
        })
        .sum::<usize>();
    assert_eq!(unpacked, 1);
    for y in &yamls {
        let out = env.run(&["run"], y);
        assert_eq!(ok(&out), "printed\n");
    }
}

#[test]
fn uptest_waits_for_a_starting_proc_with_retry_for() {
    if !vr_tests::e2e_ready("vrun uptest_waits_for_a_starting_proc_with_retry_for") {
        return;
    }
    // A proc that takes 2 s to listen, and an uptest that tries once: readiness mode reruns it.
    let mut env = env();
    let app = env.tmp.path().join("slow-app");
    fs::create_dir_all(app.join("www")).unwrap();
    fs::create_dir_all(app.join("uptests/web")).unwrap();
    fs::write(
        app.join("Procfile"),
        "web: sleep 2; exec httpd -f -p \"$PORT\" -h /app/www\n",
    )
    .unwrap();
    fs::write(app.join("www/index.html"), "slow hello\n").unwrap();
    let once = app.join("uptests/web/01_once");
    fs::write(&once, "#!/bin/sh\nwget -q -O- \"http://$1:$2/\" 2>&1\n").unwrap();
    fs::set_permissions(&once, fs::Permissions::from_mode(0o755)).unwrap();
    let build = env.tmp.path().join("files/slow.tar.gz");
    vr_tests::tar_gz(&app, &build).unwrap();
    env.build_md5 = vr_tests::md5_file(&build).unwrap();
    env.build = build;
    let yaml = env.proc_yaml(&app_name("slow"), free_port(), "proc_name: web\n");
    ok(&env.run(&["setup"], &yaml));
    let mut run = env.start_run(&yaml, Stdio::null());
    let out = env.run(
        &["uptest", "--retry-for", "30", "--interval", "0.2", "--fail"],
        &yaml,
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(json[0]["Passed"], true, "{json}");
    assert_eq!(json[0]["Output"], "slow hello\n", "{json}");
    assert!(json[0]["Attempts"].as_u64().unwrap() >= 2, "{json}");

    nix_kill(run.id(), libc::SIGTERM);
    wait_for(&mut run, Duration::from_secs(10));
    // With the proc gone, --fail turns the failed uptest into status 1; the JSON still comes.
    let out = env.run(&["uptest", "--fail"], &yaml);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["Passed"], false, "{json}");
    assert_eq!(json[0]["Attempts"], 1, "{json}");
    // Bad values are refused before any container starts.
    let out = env.run(&["uptest", "--timeout", "0"], &yaml);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn the_same_proc_runs_under_two_vr_roots_at_once() {
    if !vr_tests::e2e_ready("vrun the_same_proc_runs_under_two_vr_roots_at_once") {
        return;
    }
    // Container names are global to the host, not to a VR_ROOT: each start has its own random
    // lxcpath (LXC's command socket), and LXC gives a taken cgroup name a suffix; a leftover
    // check of one must not touch the other's running container.
    let (a, b) = (env(), env());
    let (app, port) = (app_name("tworoots"), free_port());
    let extra = "proc_name: x\ncmd: echo started; sleep 2; echo done\n";
    let (ya, yb) = (
        a.proc_yaml(&app, port, extra),
        b.proc_yaml(&app, port, extra),
    );
    ok(&a.run(&["setup"], &ya));
    ok(&b.run(&["setup"], &yb));
    let mut first = a.start_run(&ya, Stdio::piped());
    let mut line = String::new();
    use std::io::BufRead;
    let mut out = std::io::BufReader::new(first.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "started\n");
    assert_eq!(ok(&b.run(&["run"], &yb)), "started\ndone\n");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "done\n");
    assert!(first.wait().unwrap().success());
    ok(&a.run(&["teardown"], &ya));
    ok(&b.run(&["teardown"], &yb));
}
