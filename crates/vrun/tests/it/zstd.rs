//! An image and a build compressed with zstd (as `tar --zstd` writes them), served over HTTP:
//! setup unpacks both, and the proc runs on them.

use super::*;

/// `tar_gz` recompressed by the `zstd` CLI into `out`; returns the md5 of `out`.
fn recompress(tar_gz: &Path, out: &Path) -> String {
    let status = Command::new("sh")
        .arg("-c")
        .arg("gzip -dc \"$1\" | zstd -q -o \"$2\"")
        .arg("sh")
        .arg(tar_gz)
        .arg(out)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "gzip -dc | zstd into {}: {status}",
        out.display()
    );
    vr_tests::md5_file(out).unwrap()
}

#[test]
fn a_zstd_image_and_build_set_up_and_run() {
    let test = "vrun a_zstd_image_and_build_set_up_and_run";
    if !vr_tests::e2e_ready(test) || !vr_tests::tools_ready(test, &["zstd", "gzip"]) {
        return;
    }
    let mut env = env();
    let files = env.image.parent().unwrap().to_path_buf();
    let (image, build) = (files.join("busybox.tar.zst"), files.join("build.tzst"));
    env.image_md5 = recompress(&env.image, &image);
    env.build_md5 = recompress(&env.build, &build);
    // Only the zstd tarballs can be fetched.
    fs::remove_file(&env.image).unwrap();
    fs::remove_file(&env.build).unwrap();
    let server = vr_tests::HttpServer::serve(&files);
    let app = app_name("zstd");
    let port = free_port();
    let yaml = env.proc_yaml_from(
        &app,
        port,
        &server.url("busybox.tar.zst"),
        &server.url("build.tzst"),
        "proc_name: printer\n",
    );
    ok(&env.run(&["setup"], &yaml));
    assert_eq!(server.requests("/busybox.tar.zst"), 1);
    assert_eq!(server.requests("/build.tzst"), 1);
    let contents = env.root.join("images/busybox/contents");
    assert!(contents.join("bin/busybox").is_file());
    assert_eq!(
        fs::read_link(contents.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let name = container(&app, "printer", port);
    assert_eq!(
        fs::read_to_string(env.proc_dir(&name).join("rootfs/app/Procfile")).unwrap(),
        PROCFILE
    );
    // The Procfile's `printer: echo printed`, run on the zstd image's busybox.
    assert_eq!(ok(&env.run(&["run"], &yaml)), "printed\n");
    ok(&env.run(&["teardown"], &yaml));
    assert!(!env.proc_dir(&name).exists());
    nothing_left(&name, &env.root);
}
