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

#[test]
fn a_new_image_under_the_same_name_leaves_running_procs_their_files() {
    if !vr_tests::e2e_ready("vrun a_new_image_under_the_same_name_leaves_running_procs_their_files")
    {
        return;
    }
    let mut env = env();
    let files = env.tmp.path().join("files");
    let (first, second) = (files.join("first.tar.gz"), files.join("second.tar.gz"));
    let first_md5 = marked_image(env.tmp.path(), "first", &first);
    let second_md5 = marked_image(env.tmp.path(), "second", &second);
    let gate = env.tmp.path().join("gate");
    fs::create_dir(&gate).unwrap();
    fs::set_permissions(&gate, fs::Permissions::from_mode(0o777)).unwrap();
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
    assert!(err.contains("stays at"), "{err}");
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
}
