//! Trees made by a vr without user namespaces: an image unpacked with host ids and a proc set
//! up without `lxc.idmap` are redone once, never half-used; a host range that root was not
//! given is told before anything is made.

use super::*;
use std::os::unix::fs::MetadataExt;

/// Turns the proc's setup into what an older vrun left: no idmap in proc.lxc, the layer and
/// the image owned by host ids as stored, the image's stamp without its ids line.
fn make_it_old(env: &Env, name: &str) {
    let dir = env.proc_dir(name);
    let config = dir.join("proc.lxc");
    let text: String = fs::read_to_string(&config)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("lxc.idmap"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&config, text).unwrap();
    fs::write(dir.join("rootfs/old-file"), "left by the old proc\n").unwrap();
    set_image_ids(env, None);
    let contents = env.root.join("images/busybox/contents");
    let status = Command::new("chown")
        .args(["-R", "-h", "0:0"])
        .arg(&contents)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Rewrites the ids line of the busybox image's stamp (`None`: none, as an older vr wrote it).
fn set_image_ids(env: &Env, ids: Option<&str>) {
    let stamp = env.root.join("images/busybox/.contents.md5");
    let text = fs::read_to_string(&stamp).unwrap();
    let first = text.lines().next().unwrap();
    let ids = ids.map(|l| format!("{l}\n")).unwrap_or_default();
    fs::write(&stamp, format!("{first}\n{ids}")).unwrap();
}

#[test]
fn a_proc_and_image_of_an_older_vrun_are_redone_once() {
    if !vr_tests::e2e_ready("vrun a_proc_and_image_of_an_older_vrun_are_redone_once") {
        return;
    }
    let env = env();
    let port = free_port();
    let app = app_name("old");
    let yaml = env.proc_yaml(&app, port, "proc_name: x\ncmd: id -u; if test -e /old-file; then echo old layer; else echo new layer; fi\n");
    let name = container(&app, "x", port);
    ok(&env.run(&["setup"], &yaml));
    make_it_old(&env, &name);
    // run refuses it (125: before the proc started) rather than start it without a namespace.
    let out = env.run(&["run"], &yaml);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("was set up by an older vrun, without a user namespace"),
        "{}",
        stderr(&out)
    );
    // So does a shell beside it.
    let out = env.run(&["shell"], &yaml);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("run `vrun setup"), "{}", stderr(&out));
    // Setup again: the image is unpacked anew (shifted), the layer starts anew.
    let out = env.run(&["setup"], &yaml);
    ok(&out);
    let err = stderr(&out);
    assert!(err.contains("vrun: unpacked image busybox"), "{err}");
    assert!(err.contains("its layer starts anew"), "{err}");
    let busybox = env.root.join("images/busybox/contents/bin/busybox");
    assert_ne!(fs::metadata(&busybox).unwrap().uid(), 0);
    assert_eq!(ok(&env.run(&["run"], &yaml)), "1000\nnew layer\n");
    ok(&env.run(&["teardown"], &yaml));
}

#[test]
fn a_host_range_not_given_to_root_is_told_before_anything_is_made() {
    if !vr_tests::e2e_ready("vrun a_host_range_not_given_to_root_is_told_before_anything_is_made") {
        return;
    }
    let env = env();
    let yaml = env.proc_yaml(&app_name("range"), free_port(), "proc_name: web\n");
    let out = env
        .vrun()
        .env("VR_IDMAP", "3000000:65536")
        .arg("setup")
        .arg(&yaml)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "vrun: host uids 3000000-3065535 are not delegated to root in /etc/subuid, which LXC's \
         newuidmap needs: add the line `root:3000000:65536` to /etc/subuid\n"
    );
    assert!(!env.root.exists(), "VR_ROOT was made");
}

#[test]
fn a_proc_whose_image_was_unpacked_for_another_map_is_refused() {
    if !vr_tests::e2e_ready("vrun a_proc_whose_image_was_unpacked_for_another_map_is_refused") {
        return;
    }
    // VR_IDMAP changed and another proc's setup unpacked the image for the new map: the old
    // proc's files and the image's no longer agree on who is who.
    let env = env();
    let port = free_port();
    let yaml = env.proc_yaml(&app_name("remap"), port, "proc_name: x\ncmd: id -u\n");
    ok(&env.run(&["setup"], &yaml));
    set_image_ids(&env, Some("ids 200000:200000:65536"));
    let out = env.run(&["run"], &yaml);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not unpacked for the id map it was set up with"),
        "{}",
        stderr(&out)
    );
    ok(&env.run(&["setup"], &yaml));
    assert_eq!(ok(&env.run(&["run"], &yaml)), "1000\n");
    ok(&env.run(&["teardown"], &yaml));
}
