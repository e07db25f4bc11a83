use super::*;

pub(super) fn hybrid() -> CgroupHost {
    CgroupHost {
        memory: Some(CgroupVersion::V1),
        swap_accounting: true,
        devices: Some(CgroupVersion::V1),
        pids: Some(CgroupVersion::V1),
    }
}

fn unified() -> CgroupHost {
    CgroupHost {
        memory: Some(CgroupVersion::V2),
        swap_accounting: true,
        devices: Some(CgroupVersion::V2),
        pids: Some(CgroupVersion::V2),
    }
}

pub(super) fn proc_config() -> ContainerConfig {
    let mut c = ContainerConfig::new(
        "app-1-cfg-abc-web-5000",
        Rootfs::Overlay {
            lowers: vec!["/apps/images/img/contents".into()],
            upper: "/apps/procs/app-1-cfg-abc-web-5000/rootfs".into(),
        },
        IdMap::DEFAULT,
    );
    c.seccomp = Some("/apps/procs/app-1-cfg-abc-web-5000/seccomp".into());
    c.user = Some((1000, 1001));
    c.binds.push(BindMount {
        source: "/srv/data dir".into(),
        target: "/data".into(),
        read_only: false,
        kind: BindKind::Dir,
    });
    c.mem_limit = Some(100 << 20);
    c.memsw_limit = Some(200 << 20);
    c
}

#[test]
fn renders_lxc5_on_hybrid_cgroups() {
    let text = render(&proc_config(), &LxcVersion::new(5, 0, 2), &hybrid()).unwrap();
    let want = "\
lxc.uts.name = app-1-cfg-abc-web-5000
lxc.rootfs.path = overlay:/apps/images/img/contents:/apps/procs/app-1-cfg-abc-web-5000/rootfs
lxc.net.0.type = none
lxc.apparmor.profile = unconfined
lxc.idmap = u 0 100000 65536
lxc.idmap = g 0 100000 65536
lxc.autodev = 1
lxc.pty.max = 64
lxc.tty.max = 0
lxc.cap.keep = audit_write chown dac_override fowner fsetid kill net_bind_service net_raw setfcap setgid setuid sys_chroot
lxc.no_new_privs = 1
lxc.seccomp.profile = /apps/procs/app-1-cfg-abc-web-5000/seccomp
lxc.cgroup.devices.deny = a
lxc.cgroup.devices.allow = c 1:3 rwm
lxc.cgroup.devices.allow = c 1:5 rwm
lxc.cgroup.devices.allow = c 1:7 rwm
lxc.cgroup.devices.allow = c 1:8 rwm
lxc.cgroup.devices.allow = c 1:9 rwm
lxc.cgroup.devices.allow = c 5:0 rwm
lxc.cgroup.devices.allow = c 5:1 rwm
lxc.cgroup.devices.allow = c 5:2 rwm
lxc.cgroup.devices.allow = c 136:* rwm
lxc.cgroup.pids.max = 1024
lxc.cgroup.memory.limit_in_bytes = 104857600
lxc.cgroup.memory.memsw.limit_in_bytes = 209715200
lxc.init.uid = 1000
lxc.init.gid = 1001
lxc.hook.start-host = /bin/sh -c '[ -z \"$VR_STARTED\" ] || : > \"$VR_STARTED\"'
lxc.mount.entry = proc proc proc ro,nodev,noexec,nosuid,create=dir 0 0
lxc.mount.entry = /sys sys none rbind,ro,create=dir 0 0
lxc.mount.entry = tmpfs sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0
lxc.mount.entry = tmpfs dev/shm tmpfs nosuid,nodev,mode=1777,create=dir 0 0
lxc.mount.entry = /etc/resolv.conf etc/resolv.conf none bind,ro,create=file 0 0
lxc.mount.entry = /etc/hosts etc/hosts none bind,ro,create=file 0 0
lxc.mount.entry = /srv/data\\040dir data none bind,create=dir 0 0
";
    assert_eq!(text, want);
}

/// The keys each version must (and must not) get.
#[test]
fn keys_per_version() {
    struct Case {
        version: LxcVersion,
        has: &'static [&'static str],
        lacks: &'static [&'static str],
    }
    let legacy_lacks: &[&str] = &[
        "lxc.rootfs.path",
        "lxc.net.0.type",
        "lxc.apparmor.profile",
        "lxc.uts.name",
        "lxc.init.uid",
    ];
    let cases = [
        Case {
            version: LxcVersion::new(5, 0, 2),
            has: &["lxc.idmap = u 0 100000 65536\n", "lxc.no_new_privs = 1\n"],
            lacks: &["lxc.id_map"],
        },
        Case {
            version: LxcVersion::new(2, 0, 1),
            has: &["lxc.id_map = u 0 100000 65536\n"],
            lacks: &["lxc.idmap", "lxc.no_new_privs"],
        },
        Case {
            version: LxcVersion::new(0, 9, 0),
            has: &[
                "lxc.utsname = ",
                "lxc.rootfs = overlayfs:/img:/up\n",
                "lxc.network.type = none",
                "lxc.aa_profile = unconfined",
                "lxc.pts = 64",
            ],
            lacks: legacy_lacks,
        },
        Case {
            version: LxcVersion::new(1, 0, 8),
            has: &[
                "lxc.utsname = ",
                "lxc.rootfs = overlayfs:/img:/up\n",
                "lxc.network.type = none",
                "lxc.aa_profile = unconfined",
            ],
            lacks: legacy_lacks,
        },
        Case {
            version: LxcVersion::new(2, 0, 1),
            has: &[
                "lxc.utsname = ",
                "lxc.rootfs = overlay:/img:/up\n",
                "lxc.network.type = none",
                "lxc.aa_profile = unconfined",
            ],
            lacks: legacy_lacks,
        },
        Case {
            version: LxcVersion::new(2, 0, 1),
            has: &[],
            lacks: &["lxc.hook.start-host"],
        },
        Case {
            version: LxcVersion::new(5, 0, 0),
            has: &[
                "lxc.uts.name = ",
                "lxc.rootfs.path = overlay:/img:/up\n",
                "lxc.net.0.type = none",
                "lxc.apparmor.profile = unconfined",
                "lxc.pty.max = 64",
                "lxc.hook.start-host = /bin/sh -c ",
            ],
            lacks: &[
                "lxc.rootfs =",
                "lxc.network.",
                "lxc.aa_profile",
                "lxc.utsname",
                "lxc.pts =",
            ],
        },
    ];
    for c in cases {
        let mut cfg = ContainerConfig::new(
            "h",
            Rootfs::Overlay {
                lowers: vec!["/img".into()],
                upper: "/up".into(),
            },
            IdMap::DEFAULT,
        );
        cfg.no_new_privs = c.version >= LxcVersion::new(2, 1, 0);
        let text = render(&cfg, &c.version, &hybrid()).unwrap();
        for k in c.has {
            assert!(text.contains(k), "{}: missing {k:?} in\n{text}", c.version);
        }
        for k in c.lacks {
            assert!(
                !text.contains(k),
                "{}: unexpected {k:?} in\n{text}",
                c.version
            );
        }
    }
}

#[test]
fn user_keys_per_version() {
    let mut cfg = ContainerConfig::new("h", Rootfs::Dir("/r".into()), IdMap::DEFAULT);
    cfg.no_new_privs = false;
    cfg.user = Some((5, 6));
    let text = render(&cfg, &LxcVersion::new(2, 0, 1), &hybrid()).unwrap();
    assert!(
        text.contains("lxc.init_uid = 5\nlxc.init_gid = 6\n"),
        "{text}"
    );
    let err = render(&cfg, &LxcVersion::new(1, 0, 8), &hybrid()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "running the command as a user needs LXC 2.0 or newer, this host has LXC 1.0.8"
    );
}

#[test]
fn cgroup_v2_keys() {
    let text = render(&proc_config(), &LxcVersion::new(5, 0, 2), &unified()).unwrap();
    for k in [
        "lxc.cgroup2.devices.deny = a\n",
        "lxc.cgroup2.devices.allow = c 136:* rwm\n",
        "lxc.cgroup2.memory.max = 104857600\n",
        "lxc.cgroup2.memory.swap.max = 104857600\n",
    ] {
        assert!(text.contains(k), "missing {k:?} in\n{text}");
    }
    assert!(!text.contains("lxc.cgroup.memory"), "{text}");
    let mut old = proc_config();
    old.no_new_privs = false;
    let err = render(&old, &LxcVersion::new(2, 0, 1), &unified()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the devices cgroup on cgroup v2 needs LXC 4.0 or newer, this host has LXC 2.0.1"
    );
}

#[test]
fn several_lowers_and_environment() {
    let mut cfg = ContainerConfig::new(
        "h",
        Rootfs::Overlay {
            lowers: vec!["/p/rootfs".into(), "/img".into()],
            upper: "/t/upper".into(),
        },
        IdMap::DEFAULT,
    );
    cfg.host_dns = false;
    cfg.environment.push(("TERM".into(), "xterm".into()));
    cfg.binds.push(BindMount {
        source: "/usr/bin/vuptest".into(),
        target: "/.vr/vuptest".into(),
        read_only: true,
        kind: BindKind::File,
    });
    let text = render(&cfg, &LxcVersion::new(5, 0, 2), &hybrid()).unwrap();
    assert!(
        text.contains("lxc.rootfs.path = overlay:/p/rootfs:/img:/t/upper\n"),
        "{text}"
    );
    assert!(text.contains("lxc.environment = TERM=xterm\n"), "{text}");
    assert!(
        text.contains(
            "lxc.mount.entry = /usr/bin/vuptest .vr/vuptest none bind,ro,create=file 0 0\n"
        ),
        "{text}"
    );
    assert!(!text.contains("resolv.conf"), "{text}");
}

#[test]
fn refusals() {
    let v = LxcVersion::new(5, 0, 2);
    let base = || ContainerConfig::new("h", Rootfs::Dir("/r".into()), IdMap::DEFAULT);
    let no_cgroups = CgroupHost {
        memory: None,
        swap_accounting: false,
        devices: None,
        pids: Some(CgroupVersion::V1),
    };
    let no_pids = CgroupHost {
        pids: None,
        ..hybrid()
    };
    let no_swap = CgroupHost {
        swap_accounting: false,
        ..hybrid()
    };
    type Edit = fn(&mut ContainerConfig);
    let cases: [(&str, Edit, &CgroupHost, &str); 14] = [
        ("uid outside the map", |c| c.user = Some((u32::MAX, 0)), &hybrid(),
         "user \"4294967295:0\" cannot be used in an LXC config: is outside the container's id map"),
        ("gid outside the map", |c| c.user = Some((0, 65_536)), &hybrid(),
         "user \"0:65536\" cannot be used in an LXC config: is outside the container's id map"),
        ("smaller map", |c| { c.idmap.count = 1000; c.user = Some((1000, 0)) }, &hybrid(),
         "user \"1000:0\" cannot be used in an LXC config: is outside the container's id map"),
        ("relative seccomp profile", |c| c.seccomp = Some("seccomp".into()), &hybrid(),
         "seccomp profile \"seccomp\" cannot be used in an LXC config: must be an absolute path"),
        ("no pids controller", |_| {}, &no_pids,
         "a process limit (pids_limit) is set but this host has no pids cgroup controller (looked in /proc/self/mountinfo and /proc/cgroups)"),
        ("newline in hostname", |c| c.hostname = "a\nb".into(), &hybrid(),
         "hostname \"a\\nb\" cannot be used in an LXC config: contains a line break or NUL"),
        ("empty hostname", |c| c.hostname = String::new(), &hybrid(),
         "hostname \"\" cannot be used in an LXC config: must be 1 to 64 bytes"),
        ("colon in a layer", |c| c.rootfs = Rootfs::Overlay { lowers: vec!["/a:b".into()], upper: "/u".into() }, &hybrid(),
         "rootfs layer \"/a:b\" cannot be used in an LXC config: must be an absolute path without `:`"),
        ("no lower", |c| c.rootfs = Rootfs::Overlay { lowers: vec![], upper: "/u".into() }, &hybrid(),
         "rootfs \"/u\" cannot be used in an LXC config: an overlay needs at least one lower layer"),
        ("dotdot target", |c| c.binds.push(BindMount { source: "/s".into(), target: "/a/../../etc".into(), read_only: false, kind: BindKind::Dir }), &hybrid(),
         "mount target \"/a/../../etc\" cannot be used in an LXC config: must not contain `..`"),
        ("relative source", |c| c.binds.push(BindMount { source: "s".into(), target: "/t".into(), read_only: false, kind: BindKind::Dir }), &hybrid(),
         "bind mount source \"s\" cannot be used in an LXC config: must be an absolute path"),
        ("no memory controller", |c| c.mem_limit = Some(1), &no_cgroups,
         "mem_limit is set but this host has no memory cgroup controller (looked in /proc/self/mountinfo and /proc/cgroups)"),
        ("no swap accounting", |c| c.memsw_limit = Some(1), &no_swap,
         "memsw_limit is set but this host has no swap accounting (no memory.memsw.limit_in_bytes; boot with swapaccount=1)"),
        ("memsw below mem", |c| { c.mem_limit = Some(10); c.memsw_limit = Some(5) }, &hybrid(),
         "memsw_limit (5) is below mem_limit (10)"),
    ];
    for (name, edit, cgroups, want) in cases {
        let mut cfg = base();
        edit(&mut cfg);
        let err = render(&cfg, &v, cgroups).unwrap_err();
        assert_eq!(err.to_string(), want, "{name}");
    }
}

#[test]
fn hostnames() {
    let cases = [
        ("app-1.0-web_x", "app-1-0-web-x"),
        (
            "pyapp-1.10-prod-abc-web-5000",
            "pyapp-1-10-prod-abc-web-5000",
        ),
        ("My_App-V1", "my-app-v1"),
        ("-x-", "x"),
        ("...", "vr"),
    ];
    for (name, want) in cases {
        assert_eq!(hostname_for(name), want, "{name}");
    }
    let (a, b) = (
        hostname_for(&format!("{}-web-5000", "a".repeat(80))),
        hostname_for(&format!("{}-web-5001", "a".repeat(80))),
    );
    assert_eq!((a.len(), b.len()), (63, 63));
    assert_ne!(a, b, "long names stay apart");
    assert!(a.starts_with(&"a".repeat(54)), "{a}");
}
