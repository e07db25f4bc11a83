//! Across the tools: an image made by `vimage build` is a working `image_url` for `vrun`.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::{Command, Stdio};

#[test]
fn an_image_built_by_vimage_runs_a_proc_through_vrun() {
    if !vr_tests::e2e_ready("vimage build -> vrun setup/run") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vr");
    let base = tmp.path().join("base.tar.gz");
    let base_md5 = vr_tests::busybox_image(&base).unwrap();
    let script = tmp.path().join("provision.sh");
    fs::write(
        &script,
        "#!/bin/sh\nset -e\nmkdir -p /usr/share\necho 'made by vimage' > /usr/share/stack-marker\n\
         echo 'web:x:1500:1500:web:/app:/bin/sh' >> /etc/passwd\necho 'web:x:1500:' >> /etc/group\n",
    )
    .unwrap();
    let image_yaml = tmp.path().join("image.yaml");
    fs::write(
        &image_yaml,
        format!(
            "base_image_url: {}\nbase_image_md5: {base_md5}\nbase_image_name: flowbase\nnew_image_name: flowstack\nscript_url: {}\n",
            base.display(),
            script.display()
        ),
    )
    .unwrap();
    let built = Command::new(vr_tests::bin("vimage"))
        .args(["build", image_yaml.to_str().unwrap()])
        .current_dir(tmp.path())
        .env("VR_ROOT", &root)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "vimage: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let stack = tmp.path().join("flowstack.tar.gz");
    let stack_md5 = vr_tests::md5_file(&stack).unwrap();

    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("hello.txt"), "app file\n").unwrap();
    let build = tmp.path().join("build.tar.gz");
    vr_tests::tar_gz(&app, &build).unwrap();
    let proc_yaml = tmp.path().join("proc.yaml");
    let app_name = format!("flow{}", std::process::id());
    fs::write(
        &proc_yaml,
        format!(
            "app_name: {app_name}\nversion: v1\nconfig_name: c\nrelease_hash: h\nproc_name: main\nport: 5123\n\
             user: web\ngroup: web\nimage_name: flowstack\nimage_url: {}\nimage_md5: {stack_md5}\n\
             build_url: {}\ncmd: cat /usr/share/stack-marker hello.txt; id -u; exit 5\n",
            stack.display(),
            build.display()
        ),
    )
    .unwrap();
    let vrun = |verb: &str| {
        Command::new(vr_tests::bin("vrun"))
            .args([verb, proc_yaml.to_str().unwrap()])
            .env("VR_ROOT", &root)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let setup = vrun("setup");
    assert!(
        setup.status.success(),
        "setup: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let run = vrun("run");
    assert_eq!(
        run.status.code(),
        Some(5),
        "run: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "made by vimage\napp file\n1500\n"
    );
    let teardown = vrun("teardown");
    assert!(teardown.status.success());
    assert_eq!(fs::read_dir(root.join("procs")).unwrap().count(), 0);
}

/// A proc.yaml author whose `image_name` is a stack's base name replaces `contents` while
/// `vimage build` of that stack is under way (its script is slow to download): the build goes
/// on with the base it checked, and publishes nothing of the author's.
#[test]
fn a_base_replaced_during_a_build_does_not_get_into_the_image() {
    if !vr_tests::e2e_ready("vimage base replaced during a build") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vr");
    let www = tmp.path().join("www");
    fs::create_dir(&www).unwrap();
    let base = www.join("base.tar.gz");
    let base_md5 = vr_tests::busybox_image(&base).unwrap();
    let evil_root = tmp.path().join("evil");
    vr_tests::busybox_rootfs(&evil_root).unwrap();
    fs::write(evil_root.join("etc/evil-marker"), "evil\n").unwrap();
    let evil = tmp.path().join("evil.tar.gz");
    vr_tests::tar_gz(&evil_root, &evil).unwrap();
    // A script of a few hundred bytes, one byte every 20 ms: several seconds to arrive.
    fs::write(
        www.join("provision.sh"),
        format!(
            "#!/bin/sh\n# {}\nif [ -e /etc/evil-marker ]; then echo EVIL-BASE; fi\ntouch /built\n",
            "x".repeat(200)
        ),
    )
    .unwrap();
    let server = vr_tests::HttpServer::serve(&www);
    let image_yaml = tmp.path().join("image.yaml");
    fs::write(
        &image_yaml,
        format!(
            "base_image_url: {}\nbase_image_md5: {base_md5}\nbase_image_name: shared\nnew_image_name: stack\nscript_url: {}\n",
            base.display(),
            server.url("drip/20/provision.sh")
        ),
    )
    .unwrap();
    let mut build = Command::new(vr_tests::bin("vimage"))
        .args(["build", image_yaml.to_str().unwrap()])
        .current_dir(tmp.path())
        .env("VR_ROOT", &root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    vr_tests::until(
        std::time::Duration::from_secs(30),
        "the base is unpacked",
        || root.join("images/shared/contents/bin/busybox").exists(),
    );
    // The author's setup: same image name, another tarball.
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("Procfile"), "x: echo hi\n").unwrap();
    let build_tarball = tmp.path().join("build.tar.gz");
    vr_tests::tar_gz(&app, &build_tarball).unwrap();
    let proc_yaml = tmp.path().join("proc.yaml");
    fs::write(
        &proc_yaml,
        format!(
            "app_name: evil{}\nversion: v1\nconfig_name: c\nrelease_hash: h\nproc_name: x\nport: 5124\n\
             user: app\nimage_name: shared\nimage_url: {}\nbuild_url: {}\n",
            std::process::id(),
            evil.display(),
            build_tarball.display()
        ),
    )
    .unwrap();
    let setup = Command::new(vr_tests::bin("vrun"))
        .args(["setup", proc_yaml.to_str().unwrap()])
        .env("VR_ROOT", &root)
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "vrun: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    assert!(root.join("images/shared/contents/etc/evil-marker").exists());
    let status = build.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut build.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "vimage: {err}");
    assert!(
        !err.contains("EVIL-BASE"),
        "the script ran on the author's base: {err}"
    );
    let listing = Command::new("tar")
        .args(["-tzf"])
        .arg(tmp.path().join("stack.tar.gz"))
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(names.contains("built"), "{names}");
    assert!(!names.contains("evil-marker"), "{names}");
    let _ = Command::new(vr_tests::bin("vrun"))
        .args(["teardown", proc_yaml.to_str().unwrap()])
        .env("VR_ROOT", &root)
        .output();
}
