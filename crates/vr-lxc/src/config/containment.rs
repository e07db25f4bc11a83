//! What every container is allowed: its capabilities, system calls, processes and devices.

/// vr's seccomp profile in LXC's format: what Docker's default profile denies a container
/// without CAP_SYS_ADMIN (handles of host inodes, keyrings, bpf, perf events, module and
/// kexec loading, clocks, swap, syslog, new user namespaces, mounts, io_uring, ...). Callers
/// write it to a file and name that file in [`super::ContainerConfig::seccomp`].
pub const SECCOMP_PROFILE: &str = include_str!("../../seccomp/vr.seccomp");

/// The capabilities a container keeps (`lxc.cap.keep`; all others are dropped from the bounding
/// set). They are capabilities of the container's user namespace, never of the host: enough for
/// a package manager (chown, file modes, setuid tools, file capabilities), and none of mknod,
/// net_admin, dac_read_search, sys_admin, sys_ptrace. (net_bind_service and net_raw do not
/// reach the host's network namespace, which the host's user namespace owns: a proc binds
/// ports from `net.ipv4.ip_unprivileged_port_start` up, 1024 by default, and opens no raw or
/// packet socket. net_raw is kept so that a program with that file capability, `ping`'s, can
/// start at all: the kernel refuses to run a file whose capabilities the bounding set lacks,
/// and `ping` then uses ICMP sockets where the host's `net.ipv4.ping_group_range` allows.)
pub const KEPT_CAPS: &[&str] = &[
    "audit_write",
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "net_bind_service",
    "net_raw",
    "setfcap",
    "setgid",
    "setuid",
    "sys_chroot",
];

/// The process limit of a container unless its config says otherwise.
pub const DEFAULT_PIDS_MAX: u64 = 1024;

/// The character devices a container may use (devices cgroup allow list, after deny-all):
/// null, zero, full, random, urandom, tty, console, ptmx and the pts.
pub const ALLOWED_DEVICES: &[&str] = &[
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];
