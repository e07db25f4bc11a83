//! One image name, two image tarballs: a proc running on the first keeps its files when
//! another proc's setup brings the second.

use super::*;

/// A busybox image whose /etc/marker says `marker`; returns its md5.
fn marked_image(dir: &Path, marker: &str, out: &Path) -> String {
    let root = dir.join(format!("rootfs-{marker}"));
    vr_tests::busybox_rootfs(&root).unwrap();
    fs::write(root.join("etc/marker"), format!("{marker}\n")).unwrap();
    vr_tests::tar_gz(&root, out).unwrap();
    vr_tests::md5_file(out).unwrap()
}

/// Two busybox images marked `first` and `second`, and a folder every uid may write, for the
/// test to tell a running proc when to go on.
struct TwoImages {
    files: PathBuf,
    first: PathBuf,
    first_md5: String,
    second: PathBuf,
    second_md5: String,
    gate: PathBuf,
}

fn two_images(env: &Env) -> TwoImages {
    let files = env.tmp.path().join("files");
    let (first, second) = (files.join("first.tar.gz"), files.join("second.tar.gz"));
    let first_md5 = marked_image(env.tmp.path(), "first", &first);
    let second_md5 = marked_image(env.tmp.path(), "second", &second);
    let gate = env.tmp.path().join("gate");
    fs::create_dir(&gate).unwrap();
    fs::set_permissions(&gate, fs::Permissions::from_mode(0o777)).unwrap();
    TwoImages {
        files,
        first,
        first_md5,
        second,
        second_md5,
        gate,
    }
}

#[test]
fn a_new_image_under_the_same_name_leaves_running_procs_their_files() {
    if !vr_tests::e2e_ready("vrun a_new_image_under_the_same_name_leaves_running_procs_their_files")
    {
        return;
    }
    let mut env = env();
    let TwoImages {
        files,
        first,
        first_md5,
        second,
        second_md5,
        gate,
    } = two_images(&env);
    // The running proc waits for the test's go, then reads its image.
    let cmd = format!(
        "proc_name: x\nvolumes: [[{}, /gate]]\n\
         cmd: \"touch /gate/ready; while [ ! -e /gate/go ]; do sleep 0.05; done; cat /etc/marker && ls /bin/busybox\"\n",
        gate.display()
    );
    env.image = first;
    env.image_md5 = first_md5.clone();
    let running = env.proc_yaml(&app_name("imgold"), free_port(), &cmd);
    ok(&env.run(&["setup"], &running));
    let mut run = env.start_run(&running, Stdio::piped());
    // Wait until it runs.
    vr_tests::until(Duration::from_secs(30), "the proc runs", || {
        gate.join("ready").exists()
    });

    env.image = second;
    env.image_md5 = second_md5;
    let newer = env.proc_yaml(
        &app_name("imgnew"),
        free_port(),
        "proc_name: x\ncmd: cat /etc/marker\n",
    );
    let out = env.run(&["setup"], &newer);
    ok(&out);
    let err = stderr(&out);
    assert!(err.contains("vrun: unpacked image busybox"), "{err}");
    // One line, no stray spaces (a broken string continuation once put 18 in it).
    let line = err.lines().find(|l| l.contains("stays at")).unwrap();
    assert!(
        line.starts_with("vrun: the image busybox unpacked from another tarball stays at ")
            && line.ends_with(" for procs set up on it; `vrun gc` removes it once none is left")
            && !line.contains("  "),
        "{line}"
    );
    assert!(err.contains("vrun gc"), "{err}");
    assert_eq!(ok(&env.run(&["run"], &newer)), "second\n");

    fs::write(gate.join("go"), "").unwrap();
    let status = wait_for(&mut run, Duration::from_secs(30));
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut run.stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(stdout, "first\n/bin/busybox\n");
    assert_eq!(status.code(), Some(0));
    // The first image's copy stays beside the second, named with its md5.
    let kept: Vec<String> = fs::read_dir(env.root.join("images/busybox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".contents.") && n != ".contents.md5")
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].starts_with(&format!(".contents.{}.", first_md5)),
        "{kept:?}"
    );

    // Restarted, the proc runs on the image it was set up on, not the new one, and says so.
    let again = env.run(&["run"], &running);
    assert_eq!(ok(&again), "first\n/bin/busybox\n");
    assert!(
        stderr(&again).contains("its image was replaced since setup"),
        "{}",
        stderr(&again)
    );
    // Its shell (and so its uptests: the same container beside it) sees it too.
    let mut shell = env.vrun();
    shell.arg("shell").arg(&running);
    assert_eq!(ok(&with_stdin(shell, "cat /etc/marker\n")), "first\n");
    // A proc.yaml that pins the first image's md5 uses the kept tree: `contents` stays the
    // second image.
    env.image = files.join("first.tar.gz");
    env.image_md5 = first_md5.clone();
    let pinned = env.proc_yaml(
        &app_name("imgpin"),
        free_port(),
        "proc_name: x\ncmd: cat /etc/marker\n",
    );
    let out = env.run(&["setup"], &pinned);
    assert!(stderr(&out).contains("is kept at"), "{}", stderr(&out));
    assert_eq!(ok(&env.run(&["run"], &pinned)), "first\n");
    assert_eq!(ok(&env.run(&["run"], &newer)), "second\n");
    // Once the kept tree is gone, the proc set up on it is not started on another.
    fs::remove_dir_all(env.root.join("images/busybox").join(&kept[0])).unwrap();
    let out = env.run(&["run"], &running);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("set it up again"), "{}", stderr(&out));
}

/// A `vrun run` killed when the test ends, even by a panic (it would hold the harness's
/// pipes and run on).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The paths of `vrun gc`'s JSON.
fn gc_paths(out: &Output) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&ok(out)).unwrap();
    let mut paths: Vec<String> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["bytes"].as_u64().is_some(), "{r}");
            r["path"].as_str().unwrap().to_string()
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn gc_keeps_what_procs_use_and_removes_the_rest() {
    if !vr_tests::e2e_ready("vrun gc_keeps_what_procs_use_and_removes_the_rest") {
        return;
    }
    let mut env = env();
    let TwoImages {
        files: _,
        first,
        first_md5,
        second,
        second_md5,
        gate,
    } = two_images(&env);
    let waiting = format!(
        "proc_name: x\nvolumes: [[{}, /gate]]\n\
         cmd: \"touch /gate/ready; while [ ! -e /gate/go ]; do sleep 0.05; done; cat /etc/marker\"\n",
        gate.display()
    );
    env.image = first.clone();
    env.image_md5 = first_md5.clone();
    let old = env.proc_yaml(&app_name("gcold"), free_port(), &waiting);
    ok(&env.run(&["setup"], &old));
    let mut run = KillOnDrop(env.start_run(&old, Stdio::null()));
    vr_tests::until(Duration::from_secs(30), "the proc runs", || {
        gate.join("ready").exists()
    });
    env.image = second;
    env.image_md5 = second_md5;
    let new = env.proc_yaml(
        &app_name("gcnew"),
        free_port(),
        "proc_name: x\ncmd: cat /etc/marker\n",
    );
    ok(&env.run(&["setup"], &new));
    let images = env.root.join("images/busybox");
    let kept: String = fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(&format!(".contents.{first_md5}.")))
        .expect("the first image's tree is kept aside");
    // A build no proc uses any more.
    let gone_build = env.tmp.path().join("files/unused.tar.gz");
    fs::copy(&env.build, &gone_build).unwrap();
    env.build = gone_build;
    let torn = env.proc_yaml(&app_name("gctorn"), free_port(), "proc_name: printer\n");
    ok(&env.run(&["setup"], &torn));
    ok(&env.run(&["teardown"], &torn));

    let vrun = |args: &[&str]| env.vrun().args(args).stdin(Stdio::null()).output().unwrap();
    // The cache entries of a tarball: named by its source or checksum, ending in its file
    // name, with a lock and a sidecar beside it.
    let entries_of = |dir: &Path, file: &str| -> Vec<String> {
        let mut found: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                [
                    file.to_string(),
                    format!("{file}.lock"),
                    format!("{file}.meta"),
                ]
                .iter()
                .any(|end| name.ends_with(end))
            })
            .map(|p| p.display().to_string())
            .collect();
        found.sort();
        found
    };
    let unused = entries_of(&env.root.join("builds"), "unused.tar.gz");
    assert_eq!(unused.len(), 3, "{unused:?}");
    let unused_build = unused
        .iter()
        .find(|p| p.ends_with("unused.tar.gz"))
        .unwrap()
        .clone();
    // While the old proc runs (and is set up) on the kept tree, only the unused build goes.
    let out = vrun(&["gc", "--dry-run"]);
    assert_eq!(gc_paths(&out), unused, "{}", stderr(&out));
    assert!(
        Path::new(&unused_build).exists(),
        "a dry run removes nothing"
    );
    // Without its record, the running proc's tree is still kept: it is mounted.
    let record = env
        .proc_dir(&container(&app_name("gcold"), "x", {
            let text = fs::read_to_string(&old).unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("port: "))
                .unwrap()
                .parse()
                .unwrap()
        }))
        .join("uses");
    let saved = fs::read_to_string(&record).unwrap();
    fs::remove_file(&record).unwrap();
    let out = vrun(&["gc", "--dry-run"]);
    assert_eq!(gc_paths(&out), Vec::<String>::new(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kept every cached tarball"),
        "{}",
        stderr(&out)
    );
    fs::write(&record, saved).unwrap();

    let out = vrun(&["gc"]);
    assert_eq!(gc_paths(&out), unused, "{}", stderr(&out));
    assert!(!Path::new(&unused_build).exists());
    assert!(images.join(&kept).is_dir());

    // Once the old proc has ended and is torn down, its tree and tarball go; what the new
    // proc uses stays, and it still runs.
    fs::write(gate.join("go"), "").unwrap();
    assert!(wait_for(&mut run.0, Duration::from_secs(30)).success());
    ok(&env.run(&["teardown"], &old));
    let mut want = entries_of(&images, "first.tar.gz");
    want.push(images.join(&kept).display().to_string());
    want.sort();
    let second = entries_of(&images, "second.tar.gz");
    let out = vrun(&["gc"]);
    assert_eq!(gc_paths(&out), want, "{}", stderr(&out));
    assert!(!images.join(&kept).exists());
    assert_eq!(entries_of(&images, "second.tar.gz"), second);
    assert_eq!(ok(&env.run(&["run"], &new)), "second\n");
    // Nothing more to do.
    assert_eq!(gc_paths(&vrun(&["gc"])), Vec::<String>::new());
}
