//! What a proc sees and how it ends: env, ids, settings, exit codes, volumes, limits, zombies,
//! shell.

use super::*;

#[test]
fn cmd_proc_sees_its_environment() {
    if !vr_tests::e2e_ready("vrun cmd_proc_sees_its_environment") {
        return;
    }
    let env = env();
    let app = app_name("envp");
    let port = free_port();
    let cmd = r#"printf '[%s]\n' "$QUOTES" "$SUBST" "$TICKS" "$LINES" "$SPACES" "$FROM_HOST" "$UNSET_HOST"; id -u; id -g; echo "$PORT"; pwd; echo "$HOME $TMPDIR"; cat "$APP_SETTINGS_YAML""#;
    let extra = format!(
        "proc_name: web\ncmd: {}\nenv:\n  QUOTES: \"it's \\\"quoted\\\"\"\n  SUBST: \"$(id)\"\n  TICKS: \"`id`\"\n  LINES: \"a\\nb\"\n  SPACES: \"  x  \"\n  FROM_HOST: \"$VRUN_TEST_HOST_VALUE\"\n  UNSET_HOST: \"$VRUN_TEST_NOT_SET\"\n  PORT: \"1\"\nsettings:\n  greeting: \"@How's it going?\"\n",
        serde_json::to_string(cmd).unwrap()
    );
    let yaml = env.proc_yaml(&app, port, &extra);
    let out = env
        .vrun()
        .arg("setup")
        .arg(&yaml)
        .env("VRUN_TEST_HOST_VALUE", "from host")
        .output()
        .unwrap();
    ok(&out);
    let out = env.run(&["run"], &yaml);
    let want = format!(
        "[it's \"quoted\"]\n[$(id)]\n[`id`]\n[a\nb]\n[  x  ]\n[from host]\n[]\n1000\n1000\n{port}\n/app\n/app /tmp\ngreeting: \"@How's it going?\"\n"
    );
    assert_eq!(ok(&out), want);
}

#[test]
fn exit_status_passes_through() {
    if !vr_tests::e2e_ready("vrun exit_status_passes_through") {
        return;
    }
    let env = env();
    // 1 is also what lxc-execute exits with when the container cannot start: a proc's own 1
    // must still come through as 1, not as vrun's 125.
    for code in [7, 1] {
        let yaml = env.proc_yaml(
            &app_name(&format!("exit{code}")),
            free_port(),
            &format!("proc_name: x\ncmd: exit {code}\n"),
        );
        ok(&env.run(&["setup"], &yaml));
        let out = env.run(&["run"], &yaml);
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        assert!(!stderr(&out).contains("did not start"), "{}", stderr(&out));
    }
}

#[test]
fn a_container_that_cannot_start_is_125() {
    if !vr_tests::e2e_ready("vrun a_container_that_cannot_start_is_125") {
        return;
    }
    let env = env();
    let port = free_port();
    let app = app_name("nostart");
    let yaml = env.proc_yaml(&app, port, "proc_name: x\ncmd: exit 0\n");
    ok(&env.run(&["setup"], &yaml));
    // The image's /etc became a file: LXC cannot bind the proc's /etc/hosts, the proc never
    // runs.
    let contents = env.root.join("images/busybox/contents");
    let moved = env.root.join("images/busybox/moved");
    fs::rename(&contents, &moved).unwrap();
    fs::create_dir(&contents).unwrap();
    fs::write(contents.join("etc"), "not a folder").unwrap();
    let out = env.run(&["run"], &yaml);
    fs::remove_dir_all(&contents).unwrap();
    fs::rename(&moved, &contents).unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let name = container(&app, "x", port);
    let last = stderr(&out).lines().last().unwrap_or_default().to_owned();
    assert_eq!(
        last,
        format!(
            "vrun: the container of {name} did not start (lxc-execute exited 1; LXC's messages are above)"
        )
    );
    // Nothing of the failed start is left, and the proc still runs once its image is back.
    let dir = env.proc_dir(&name);
    let hidden: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.') && n != ".users.lock")
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    nothing_left(&name, &env.root);
    ok(&env.run(&["run"], &yaml));
}

#[test]
fn volume_is_visible_and_writable() {
    if !vr_tests::e2e_ready("vrun volume_is_visible_and_writable") {
        return;
    }
    let env = env();
    let vol = env.tmp.path().join("volume");
    fs::create_dir_all(&vol).unwrap();
    fs::write(vol.join("in"), "from host\n").unwrap();
    // The app user (uid 1000 inside, host uid 101000 in the default map) must be able to
    // write, as docs/vrun.md tells an operator.
    std::os::unix::fs::chown(&vol, Some(101_000), Some(101_000)).unwrap();
    let extra = format!(
        "proc_name: x\ncmd: cat /data/in && echo from container > /data/out\nvolumes:\n  - [{}, /data]\n",
        vol.display()
    );
    let yaml = env.proc_yaml(&app_name("vol"), free_port(), &extra);
    ok(&env.run(&["setup"], &yaml));
    assert_eq!(ok(&env.run(&["run"], &yaml)), "from host\n");
    assert_eq!(
        fs::read_to_string(vol.join("out")).unwrap(),
        "from container\n"
    );
}

#[test]
fn mem_limit_kills_a_greedy_proc() {
    if !vr_tests::e2e_ready("vrun mem_limit_kills_a_greedy_proc") {
        return;
    }
    let env = env();
    let extra = "proc_name: x\nmem_limit: 32M\ncmd: exec awk 'BEGIN{s=\"x\"; while(1) s=s s}'\n";
    let port = free_port();
    let yaml = env.proc_yaml(&app_name("mem"), port, extra);
    ok(&env.run(&["setup"], &yaml));
    let out = env.run(&["run"], &yaml);
    assert_eq!(out.status.code(), Some(137));
    // Said on stderr, the status unchanged.
    let want = format!(
        "vrun: {}: the proc was killed by the out-of-memory killer at mem_limit 32M\n",
        container(&app_name("mem"), "x", port)
    );
    assert!(stderr(&out).ends_with(&want), "{}", stderr(&out));
}

#[test]
fn a_proc_killed_by_sigkill_is_not_blamed_on_memory() {
    if !vr_tests::e2e_ready("vrun a_proc_killed_by_sigkill_is_not_blamed_on_memory") {
        return;
    }
    let env = env();
    let extra = "proc_name: x\nmem_limit: 32M\ncmd: kill -9 $$\n";
    let yaml = env.proc_yaml(&app_name("k9"), free_port(), extra);
    ok(&env.run(&["setup"], &yaml));
    let out = env.run(&["run"], &yaml);
    assert_eq!(out.status.code(), Some(137));
    assert!(!stderr(&out).contains("out-of-memory"), "{}", stderr(&out));
}

#[test]
fn orphans_are_reaped() {
    if !vr_tests::e2e_ready("vrun orphans_are_reaped") {
        return;
    }
    let env = env();
    // Children that exit after their parent is gone: init must reap them, so `ps` shows no
    // zombie (Z) at the end.
    let extra = "proc_name: x\ncmd: \"sh -c 'sleep 0.2 & sleep 0.2 & exit 0'; sleep 0.6; ps -o stat,comm | grep -c '^Z' || true\"\n";
    let yaml = env.proc_yaml(&app_name("zomb"), free_port(), extra);
    ok(&env.run(&["setup"], &yaml));
    assert_eq!(ok(&env.run(&["run"], &yaml)), "0\n");
}

/// Runs a proc whose `cmd` leaves `sleep <mark>` running and exits 4: `vrun run` must end
/// (within `limit`) with the proc's 4, the proc's end being the container's end, and nothing
/// of it may keep running.
fn ends_without_its_leftovers(name: &str, mark: &str, cmd: &str, limit: Duration) {
    let env = env();
    let extra = format!("proc_name: x\ncmd: \"{cmd}\"\n");
    let yaml = env.proc_yaml(&app_name(name), free_port(), &extra);
    ok(&env.run(&["setup"], &yaml));
    let mut child = env.start_run(&yaml, Stdio::null());
    let status = wait_for(&mut child, limit);
    assert_eq!(status.code(), Some(4));
    assert!(
        !vr_tests::running(&["sleep", mark]),
        "sleep {mark} was left running"
    );
}

#[test]
fn leftovers_of_an_ended_proc_do_not_keep_run_alive() {
    if !vr_tests::e2e_ready("vrun leftovers_of_an_ended_proc_do_not_keep_run_alive") {
        return;
    }
    // A background job that outlives the proc.
    let mark = format!("4{}", std::process::id() % 100_000);
    let cmd = format!("(sleep {mark} &) ; exit 4");
    ends_without_its_leftovers("left", &mark, &cmd, Duration::from_secs(15));
}

#[test]
fn a_daemon_in_its_own_session_does_not_keep_an_ended_proc_alive() {
    if !vr_tests::e2e_ready("vrun a_daemon_in_its_own_session_does_not_keep_an_ended_proc_alive") {
        return;
    }
    // The proc daemonizes the way a server that forks into the background does: a child in a
    // session of its own (a session leader, as the proc itself is), ignoring SIGTERM; then
    // the proc exits at once, before vrun ever looked at it.
    let mark = format!("5{}", std::process::id() % 100_000);
    let cmd = format!(
        "setsid sh -c 'trap \\\"\\\" TERM; exec sleep {mark}' </dev/null >/dev/null 2>&1 & exit 4"
    );
    ends_without_its_leftovers("daem", &mark, &cmd, Duration::from_secs(30));
}

#[test]
fn shell_reads_commands_from_a_pipe() {
    if !vr_tests::e2e_ready("vrun shell_reads_commands_from_a_pipe") {
        return;
    }
    let env = env();
    let port = free_port();
    let yaml = env.proc_yaml(&app_name("shell"), port, "proc_name: web\n");
    ok(&env.run(&["setup"], &yaml));
    let mut cmd = env.vrun();
    cmd.arg("shell").arg(&yaml);
    let out = with_stdin(cmd, "id -u\necho \"$PORT\"\npwd\ntouch /tmp/scratch-file\n");
    assert_eq!(ok(&out), format!("1000\n{port}\n/app\n"));
    // The shell's writes went to its throwaway layer.
    let name = container(&app_name("shell"), "web", port);
    assert!(!env.proc_dir(&name).join("rootfs/tmp/scratch-file").exists());
    let mut leftovers: Vec<_> = fs::read_dir(env.proc_dir(&name))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        [
            ".users.lock",
            "hosts",
            "proc.lxc",
            "rootfs",
            "seccomp",
            "uses",
            "work"
        ]
    );
}

#[test]
fn signals_reach_the_proc() {
    if !vr_tests::e2e_ready("vrun signals_reach_the_proc") {
        return;
    }
    use std::io::BufRead;
    let env = env();
    for (sig, name) in [
        (libc::SIGHUP, "HUP"),
        (libc::SIGINT, "INT"),
        (libc::SIGTERM, "TERM"),
    ] {
        let extra = format!(
            "proc_name: x\ncmd: \"trap 'echo got {name}; exit 4' {name}; echo ready; while :; do sleep 0.05; done\"\n"
        );
        let yaml = env.proc_yaml(&app_name(&format!("sig{name}")), free_port(), &extra);
        ok(&env.run(&["setup"], &yaml));
        let mut run = env.start_run(&yaml, Stdio::piped());
        let mut lines = std::io::BufReader::new(run.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(run.id() as i32, sig) };
        assert_eq!(lines.next().unwrap().unwrap(), format!("got {name}"));
        let status = wait_for(&mut run, std::time::Duration::from_secs(10));
        assert_eq!(status.code(), Some(4), "{name}");
    }
}

#[test]
fn shell_works_on_a_terminal() {
    if !vr_tests::e2e_ready("vrun shell_works_on_a_terminal") {
        return;
    }
    let env = env();
    let yaml = env.proc_yaml(&app_name("tty"), free_port(), "proc_name: web\n");
    ok(&env.run(&["setup"], &yaml));
    let shell = |typed: &str| {
        let mut tty = vr_tests::Terminal::spawn(
            Path::new(env!("CARGO_BIN_EXE_vrun")),
            &["shell", yaml.to_str().unwrap()],
            env.tmp.path(),
            &[("VR_ROOT", env.root.as_path())],
        );
        // Type only once the prompt is there (LXC flushes type-ahead when it takes the
        // terminal).
        tty.wait_for("$ ");
        tty.type_line(typed);
        tty.finish()
    };
    let (status, text) = shell("tty; echo TERM=$TERM; exit 5");
    assert_eq!(status.code(), Some(5), "{text}");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("TERM=dumb"), "{text}");
    // A job left running is ended with the shell, and the status is still the shell's (LXC's
    // lxc-execute, told to end by SIGTERM on a terminal, detached and exited 1 instead).
    let (status, text) = shell("sleep 4321 & exit 6");
    assert_eq!(status.code(), Some(6), "{text}");
    assert!(!vr_tests::running(&["sleep", "4321"]), "the job was ended");
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn the_containers_own_name_resolves_inside_it() {
    if !vr_tests::e2e_ready("vrun the_containers_own_name_resolves_inside_it") {
        return;
    }
    let env = env();
    let port = free_port();
    // A version with a dot: the hostname is still one label.
    let app = app_name("Host");
    let yaml = env.proc_yaml(
        &app,
        port,
        "proc_name: x\ncmd: \"hostname; hostname -i; grep -c localhost /etc/hosts || true\"\n",
    );
    let text = fs::read_to_string(&yaml)
        .unwrap()
        .replace("version: v1", "version: 1.10");
    fs::write(&yaml, text).unwrap();
    ok(&env.run(&["setup"], &yaml));
    let out = ok(&env.run(&["run"], &yaml));
    let label = format!("{}-1-10-test-abc123-x-{port}", app.to_lowercase());
    let host_has_localhost = fs::read_to_string("/etc/hosts")
        .map(|t| t.lines().filter(|l| l.contains("localhost")).count())
        .unwrap_or(0);
    assert_eq!(
        out,
        format!("{label}\n127.0.1.1\n{host_has_localhost}\n"),
        "the host's entries and the container's name"
    );
    ok(&env.run(&["teardown"], &yaml));
}
