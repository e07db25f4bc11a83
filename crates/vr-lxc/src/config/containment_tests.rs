//! The containment a rendered config carries: capabilities, seccomp, and the volumes read back.

use super::tests::{hybrid, proc_config};
use super::*;

#[test]
fn containment_is_rendered() {
    let text = render(&proc_config(), &LxcVersion::new(5, 0, 2), &hybrid()).unwrap();
    // Allow-list, never a drop list: and none of the capabilities a container must not hold.
    // (net_raw is kept, inert over the host's network namespace: see KEPT_CAPS; the AF_PACKET
    // probe of the e2e security tests shows it opens nothing.)
    let keep = text
        .lines()
        .find_map(|l| l.strip_prefix("lxc.cap.keep = "))
        .unwrap();
    for cap in [
        "mknod",
        "net_admin",
        "dac_read_search",
        "sys_admin",
        "sys_ptrace",
        "sys_module",
    ] {
        assert!(!keep.split(' ').any(|c| c == cap), "{cap} kept: {keep}");
    }
    assert!(!text.contains("lxc.cap.drop"), "{text}");
    // No sysfs mount: it fails in a user namespace sharing the host's network namespace.
    assert!(!text.contains(" sysfs "), "{text}");
    let mut builder = proc_config();
    builder.no_new_privs = false;
    builder.pids_max = None;
    let text = render(&builder, &LxcVersion::new(5, 0, 2), &hybrid()).unwrap();
    assert!(!text.contains("no_new_privs"), "{text}");
    assert!(!text.contains("pids.max"), "{text}");
}

#[test]
fn the_seccomp_profile_denies_what_docker_denies() {
    let denied: Vec<&str> = SECCOMP_PROFILE
        .lines()
        .skip(3)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(SECCOMP_PROFILE.starts_with("2\ndenylist\n[all]\n"));
    for call in [
        "open_by_handle_at",
        "name_to_handle_at",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "swapon",
        "swapoff",
        "syslog",
        "acct",
        "settimeofday",
        "clock_settime",
        "reboot",
        "unshare",
        "clone",
        "clone3",
        "setns",
        "mount",
    ] {
        assert!(denied.contains(&call), "{call} is not denied");
    }
    // Every rule names its action; unshare and clone only with CLONE_NEWUSER.
    for line in SECCOMP_PROFILE.lines().skip(3) {
        assert!(line.contains(" errno "), "{line}");
    }
    assert!(
        SECCOMP_PROFILE.contains("\nclone errno 1 [0,0x10000000,SCMP_CMP_MASKED_EQ,0x10000000]\n")
    );
    // vsock sockets (AF_VSOCK, 40) are not namespaced: they reach a VM host's services.
    assert!(SECCOMP_PROFILE.contains("\nsocket errno 97 [0,40,SCMP_CMP_EQ]\n"));
}

#[test]
fn writable_binds_are_read_back() {
    let text = render(&proc_config(), &LxcVersion::new(5, 0, 2), &hybrid()).unwrap();
    // The volume (with a space), not the read-only DNS files nor /sys.
    assert_eq!(writable_binds(&text), vec![PathBuf::from("/srv/data dir")]);
    let odd = "lxc.mount.entry = /a\\134b\\011c t none bind,create=dir 0 0\n\
               lxc.mount.entry = /ro t none bind,ro,create=dir 0 0\n\
               lxc.mount.entry = tmpfs dev/shm tmpfs nosuid 0 0\n\
               lxc.mount.entry = /r t none rbind 0 0\n";
    assert_eq!(
        writable_binds(odd),
        vec![PathBuf::from("/a\\b\tc"), PathBuf::from("/r")]
    );
}
