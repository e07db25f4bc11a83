//! A real Debian base (debootstrap minbase, cached between runs) provisioned with apt-get in
//! the user-namespaced build container: apt, dpkg's chowns, setuid tools and setcap all work
//! as root of the namespace, over the host's network and DNS.

use crate::World;
use std::process::Command;
use std::time::Duration;
use vr_tests::stderr;

#[test]
fn a_debian_base_builds_with_apt_get_install() {
    if !vr_tests::e2e_ready("vimage a_debian_base_builds_with_apt_get_install") {
        return;
    }
    let base = vr_tests::debian_base().expect("debootstrap a Debian base");
    let w = World::new();
    let script = w.script(
        "apt.sh",
        "#!/bin/sh\nset -e\napt-get update -qq\n\
         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iputils-ping >/dev/null\n\
         getcap /usr/bin/ping > /ping-caps\nrm -rf /var/lib/apt/lists/*\n\
         setsid sh -c \"trap '' TERM HUP; sleep 2; echo late > /written-after-the-script; \
         exec sleep 987653\" </dev/null >/dev/null 2>&1 &\n",
    );
    let yaml = w.yaml_on(
        "bookworm-ping",
        base.to_str().unwrap(),
        "bookworm-minbase",
        &script,
    );
    // The daemon the script leaves ends with it under dash, Debian's /bin/sh, too.
    let o = crate::daemons::build_within(&w, &yaml, Duration::from_secs(600));
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(!crate::daemons::daemon_running("987653"));
    assert_eq!(
        crate::file_in(
            &w.out().join("bookworm-ping.tar.gz"),
            "written-after-the-script"
        ),
        ""
    );
    let listing = Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(w.out().join("bookworm-ping.tar.gz"))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(&format!(" ./{name}")))
            .unwrap_or_else(|| panic!("{name} is not in the image"))
            .to_string()
    };
    // Installed by apt as root of the namespace, published as uid 0.
    assert!(
        line("usr/bin/ping").contains(" 0/0 "),
        "{}",
        line("usr/bin/ping")
    );
    // The base's setuid tools keep their bit and owner.
    let su = line("usr/bin/su");
    assert!(su.starts_with("-rwsr-xr-x 0/0 "), "{su}");
    // setcap worked inside the namespace...
    let caps = crate::file_in(&w.out().join("bookworm-ping.tar.gz"), "ping-caps");
    assert!(caps.contains("cap_net_raw"), "getcap said {caps:?}");
    // ... and the image carries the capability (a PAX record), as GNU tar restores it.
    let back = w.tmp.path().join("back");
    std::fs::create_dir(&back).unwrap();
    let st = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "-xpzf"])
        .arg(w.out().join("bookworm-ping.tar.gz"))
        .arg("-C")
        .arg(&back)
        .arg("./usr/bin/ping")
        .status()
        .unwrap();
    assert!(st.success());
    let getcap = Command::new("getcap")
        .arg(back.join("usr/bin/ping"))
        .output()
        .unwrap();
    let getcap = String::from_utf8_lossy(&getcap.stdout);
    assert!(
        getcap.trim_end().ends_with("cap_net_raw=ep"),
        "getcap of the unpacked image: {getcap:?}"
    );
}
