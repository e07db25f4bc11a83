//! Across the tools: file capabilities, user xattrs and ACLs of a base image survive
//! `vimage build` (unpacked into the build's container, honoured there, packed again as the
//! container saw them) and `vrun setup` (unpacked for a proc), and are no host root's.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GNU tar with xattrs and ACLs, numeric owners.
fn gnu_tar() -> Command {
    let mut c = Command::new("tar");
    c.args([
        "--xattrs",
        "--xattrs-include=*",
        "--acls",
        "--numeric-owner",
    ]);
    c
}

#[test]
fn capabilities_xattrs_and_acls_go_from_base_to_image_to_proc() {
    if !vr_tests::e2e_ready("vimage build -> vrun setup with file capabilities") {
        return;
    }
    for tool in [
        "setcap", "getcap", "setfattr", "getfattr", "setfacl", "getfacl",
    ] {
        assert!(
            vr_tests::which(tool).is_some(),
            "{tool} is missing (apt-get install libcap2-bin attr acl)"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vr");
    // The base: busybox, a copy of it as /opt/caps/cat with cap_net_raw=ep, as ping has (set by host root:
    // a version 2 capability), a user xattr and an ACL for uid 1000.
    let tree = tmp.path().join("base-tree");
    vr_tests::busybox_rootfs(&tree).unwrap();
    fs::create_dir_all(tree.join("opt/caps")).unwrap();
    fs::copy(tree.join("bin/busybox"), tree.join("opt/caps/cat")).unwrap();
    run(Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(tree.join("opt/caps/cat")));
    fs::write(tree.join("opt/caps/notes"), "notes\n").unwrap();
    run(Command::new("setfattr")
        .args(["-n", "user.origin", "-v", "base"])
        .arg(tree.join("opt/caps/notes")));
    run(Command::new("setfacl")
        .args(["-m", "u:1000:r"])
        .arg(tree.join("opt/caps/notes")));
    let base = tmp.path().join("base.tar.gz");
    run(gnu_tar()
        .arg("-czf")
        .arg(&base)
        .arg("-C")
        .arg(&tree)
        .arg("."));

    // The build: as nobody, the capped file runs with cap_net_raw in the build's container.
    let script = tmp.path().join("provision.sh");
    fs::write(
        &script,
        "#!/bin/sh\nset -e\nsu -s /bin/sh nobody -c '/opt/caps/cat /proc/self/status' | grep CapEff > /capeff\n\
         echo 'web:x:1500:1500:web:/app:/bin/sh' >> /etc/passwd\necho 'web:x:1500:' >> /etc/group\n",
    )
    .unwrap();
    let image_yaml = tmp.path().join("image.yaml");
    fs::write(
        &image_yaml,
        format!(
            "base_image_url: {}\nbase_image_name: capbase\nnew_image_name: capstack\nscript_url: {}\n",
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

    // In the build's tree the capability was the container root's (v3, root id 100000 on the
    // host), so the kernel gave it to the capped program.
    let stack = tmp.path().join("capstack.tar.gz");
    let out = tmp.path().join("unpacked");
    fs::create_dir(&out).unwrap();
    run(gnu_tar().arg("-xpzf").arg(&stack).arg("-C").arg(&out));
    assert_eq!(
        fs::read_to_string(out.join("capeff")).unwrap(),
        "CapEff:\t0000000000002000\n"
    );
    // Packed as the container saw it: a plain (v2) capability, as setcap on a host writes it.
    let caps = run(Command::new("getcap").arg(out.join("opt/caps/cat")));
    assert!(caps.trim_end().ends_with("cap_net_raw=ep"), "{caps}");
    let xattr = run(Command::new("getfattr")
        .args(["--only-values", "-n", "user.origin"])
        .arg(out.join("opt/caps/notes")));
    assert_eq!(xattr, "base");
    let acl = run(Command::new("getfacl")
        .args(["-n", "-p"])
        .arg(out.join("opt/caps/notes")));
    assert!(acl.lines().any(|l| l == "user:1000:r--"), "{acl}");

    // A proc on the image: its tree holds the capability for the containers' root only.
    let stack_md5 = vr_tests::md5_file(&stack).unwrap();
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("hello.txt"), "app\n").unwrap();
    fs::copy(vr_tests::probe_binary(), app.join("probe")).unwrap();
    fs::set_permissions(
        app.join("probe"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let build = tmp.path().join("build.tar.gz");
    vr_tests::tar_gz(&app, &build).unwrap();
    let proc_yaml = tmp.path().join("proc.yaml");
    let app_name = format!("caps{}", std::process::id());
    fs::write(
        &proc_yaml,
        format!(
            "app_name: {app_name}\nversion: v1\nconfig_name: c\nrelease_hash: h\nproc_name: main\nport: 5124\n\
             user: web\ngroup: web\nimage_name: capstack\nimage_url: {}\nimage_md5: {stack_md5}\n\
             build_url: {}\ncmd: sleep 1\n",
            stack.display(),
            build.display()
        ),
    )
    .unwrap();
    let vrun = |verb: &str, input: Option<&str>| {
        let mut cmd = Command::new(vr_tests::bin("vrun"));
        cmd.args([verb, proc_yaml.to_str().unwrap()])
            .env("VR_ROOT", &root);
        match input {
            Some(input) => vr_tests::with_stdin(cmd, input),
            None => cmd.stdin(Stdio::null()).output().unwrap(),
        }
    };
    let setup = vrun("setup", None);
    assert!(
        setup.status.success(),
        "setup: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let contents = find_contents(&root.join("images/capstack"));
    // A version 3 capability (magic 0x03000001) whose root id is host uid 100000.
    let raw = cap_hex(&contents.join("opt/caps/cat"));
    assert_eq!(raw, format!("0x0100000300200000{}a0860100", "0".repeat(24)));
    let acl = run(Command::new("getfacl")
        .args(["-n", "-p"])
        .arg(contents.join("opt/caps/notes")));
    assert!(acl.lines().any(|l| l == "user:101000:r--"), "{acl}");
    // Inside the proc the files are there with their xattrs; no_new_privs keeps the capped
    // program from gaining its capability (a proc's containment, see docs/security.md).
    // What `getcap` reads in there: the capability as a plain one (revision 2, effective flag:
    // cap_net_raw=ep), the kernel's view of a v3 capability whose root id is the reader's
    // namespace's root.
    let shell = vrun(
        "shell",
        Some(
            "cat /opt/caps/notes\n/opt/caps/cat /proc/self/status | grep CapEff\n\
             /app/probe getcap /opt/caps/cat\n/app/probe getcap /opt/caps/notes\n",
        ),
    );
    let said = String::from_utf8_lossy(&shell.stdout);
    assert!(said.contains("notes\n"), "{said}");
    let v2_net_raw = format!("getcap: 0100000200200000{}\n", "0".repeat(24));
    assert!(said.contains(&v2_net_raw), "{said}");
    assert!(said.contains("getcap: ENODATA\n"), "{said}");
    assert!(said.contains("CapEff:\t0000000000000000"), "{said}");
    // A host user running that file gets nothing: the capability is the containers' root's,
    // not host root's. (VR_ROOT is closed to other users; a copy with its xattrs shows it.)
    let open = tempfile::tempdir().unwrap();
    fs::set_permissions(
        open.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let copy = open.path().join("cat");
    run(Command::new("cp")
        .arg("--preserve=mode,xattr")
        .arg(contents.join("opt/caps/cat"))
        .arg(&copy));
    assert_eq!(cap_hex(&copy), raw);
    let host = run(Command::new("su")
        .args(["-s", "/bin/sh", "nobody", "-c"])
        .arg(format!("{} /proc/self/status", copy.display())));
    assert!(host.contains("CapEff:\t0000000000000000"), "{host}");

    // An image unpacked by an older vrun lost its xattrs and its stamp lacks the `xattrs
    // restored` line: the next setup unpacks it again (once), capability and all.
    let stamp = root.join("images/capstack/.contents.md5");
    let text = fs::read_to_string(&stamp).unwrap();
    assert!(text.contains("\nxattrs restored\n"), "{text}");
    fs::write(&stamp, text.replace("xattrs restored\n", "")).unwrap();
    run(Command::new("setcap")
        .arg("-r")
        .arg(contents.join("opt/caps/cat")));
    for (round, unpacked) in [(1, true), (2, false)] {
        let again = vrun("setup", None);
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(again.status.success(), "setup {round}: {err}");
        assert_eq!(
            err.contains("unpacked image capstack"),
            unpacked,
            "setup {round}: {err}"
        );
        assert_eq!(
            cap_hex(&find_contents(&root.join("images/capstack")).join("opt/caps/cat")),
            raw
        );
    }
    assert_eq!(fs::read_to_string(&stamp).unwrap(), text);

    let teardown = vrun("teardown", None);
    assert!(teardown.status.success());
}

/// The raw `security.capability` of `path`, in hex (`0x...`).
fn cap_hex(path: &Path) -> String {
    let out = run(Command::new("getfattr")
        .args(["--absolute-names", "-e", "hex", "-n", "security.capability"])
        .arg(path));
    out.lines()
        .find_map(|l| l.strip_prefix("security.capability="))
        .unwrap_or_else(|| panic!("no capability: {out}"))
        .to_string()
}

/// The unpacked tree of an image under `images/<name>/` (`contents`).
fn find_contents(dir: &Path) -> std::path::PathBuf {
    let contents = dir.join("contents");
    assert!(contents.is_dir(), "no {}", contents.display());
    contents
}
