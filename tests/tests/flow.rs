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
