//! Volumes that a container could redirect: a volume in a folder a container can write (a
//! parent volume), a volume swapped for a link after setup, and volumes added to proc.yaml
//! after setup reaching VR_ROOT through `uptest` or `shell`.

use super::*;

/// A volume folder `name` in the test's temp dir, owned by the app's host uid (as
/// docs/vrun.md tells an operator to make it writable).
fn app_folder(env: &Env, name: &str) -> PathBuf {
    let dir = env.tmp.path().join(name);
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(101_000), Some(101_000)).unwrap();
    dir
}

#[test]
fn a_volume_inside_a_folder_a_container_can_write_is_refused() {
    if !vr_tests::e2e_ready("vrun a_volume_inside_a_folder_a_container_can_write_is_refused") {
        return;
    }
    // Pins: every folder above a volume must be root's. Else the app, through the outer
    // volume, swaps the inner one for a link (to VR_ROOT, say) before the next start.
    let env = env();
    let outer = app_folder(&env, "data");
    let inner = outer.join("cache");
    fs::create_dir(&inner).unwrap();
    let extra = format!(
        "proc_name: web\nvolumes:\n  - [{}, /data]\n  - [{}, /cache]\n",
        outer.display(),
        inner.display()
    );
    let yaml = env.proc_yaml(&app_name("nested"), free_port(), &extra);
    let out = env.run(&["setup"], &yaml);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let want = format!(
        "{} belongs to uid 101000: every folder above a volume must be root's",
        outer.display()
    );
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn a_volume_swapped_for_a_link_after_setup_is_not_bound() {
    if !vr_tests::e2e_ready("vrun a_volume_swapped_for_a_link_after_setup_is_not_bound") {
        return;
    }
    // Pins: run checks the volumes of proc.lxc again before every start.
    let env = env();
    let vol = app_folder(&env, "vol");
    let extra = format!(
        "proc_name: x\ncmd: ls /data\nvolumes:\n  - [{}, /data]\n",
        vol.display()
    );
    let yaml = env.proc_yaml(&app_name("swap"), free_port(), &extra);
    ok(&env.run(&["setup"], &yaml));
    fs::remove_dir(&vol).unwrap();
    std::os::unix::fs::symlink(&env.root, &vol).unwrap();
    let out = env.run(&["run"], &yaml);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let want = format!("{} is a symlink", vol.display());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(
        out.stdout.is_empty(),
        "the proc ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn volumes_added_after_setup_are_checked_by_uptest_and_shell() {
    if !vr_tests::e2e_ready("vrun volumes_added_after_setup_are_checked_by_uptest_and_shell") {
        return;
    }
    // Pins: uptest and shell render their container from the proc.yaml of now, so they check
    // its volumes as setup does (VR_ROOT as a volume would hand the shared images to root).
    let env = env();
    let app = app_name("late");
    let port = free_port();
    let yaml = env.proc_yaml(&app, port, "proc_name: web\n");
    ok(&env.run(&["setup"], &yaml));
    let extra = format!(
        "proc_name: web\nvolumes:\n  - [{}, /host]\n",
        env.root.display()
    );
    let yaml = env.proc_yaml(&app, port, &extra);
    for verb in ["uptest", "shell"] {
        let out = env.run(&[verb], &yaml);
        assert_eq!(out.status.code(), Some(2), "{verb}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("lies inside VR_ROOT"),
            "{verb}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{verb}");
    }
    ok(&env.run(&["teardown"], &yaml));
}
