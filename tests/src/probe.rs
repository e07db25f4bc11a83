//! A static C probe that tries, from inside a container, the syscalls an attacker would use to
//! reach the host. Its source is [`PROBE_C`]; [`probe_binary`] compiles it once (gcc, static
//! glibc) into the target folder and returns the executable.
//!
//! Subcommands, one line per check (`<check>: OK` or `<check>: <ERRNO NAME>`):
//! - `probe syscalls`: `uid`, `keyctl`, `add_key`, `bpf`, `perf_event_open`, `unshare_user`,
//!   `af_packet`, `mknod`, `syslog`, `af_vsock`.
//! - `probe handle MARKER MOUNT...`: for each MOUNT (a path on a host file system bound into
//!   the container) `name_to_handle_at MOUNT` and `open_by_handle_at MOUNT` with the "shocker"
//!   handle of the file system's root inode (type 1, FILEID_INO32_GEN: ino 2, gen 0); when
//!   that opens, MARKER (an absolute host path) is opened relative to it and printed as
//!   `marker via MOUNT: <content>`.
//! - `probe euid`: the effective uid.
//! - `probe getcap PATH`: the `security.capability` xattr of PATH as the caller's user
//!   namespace reads it, in hex (`getcap` shows the same, decoded), or the errno name.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The probe's C source.
pub const PROBE_C: &str = r##"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/perf_event.h>
#include <sys/klog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static const char *errname(int e) {
    static char buf[32];
    switch (e) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ESTALE: return "ESTALE";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EROFS: return "EROFS";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case EOVERFLOW: return "EOVERFLOW";
    case ENODEV: return "ENODEV";
    case ENOKEY: return "ENOKEY";
    case ENODATA: return "ENODATA";
    case EDQUOT: return "EDQUOT";
    }
    snprintf(buf, sizeof buf, "errno %d", e);
    return buf;
}

/* Prints "<name>: OK" for rc >= 0 (closing it when it is a descriptor), else the errno. */
static void report(const char *name, long rc, int is_fd) {
    if (rc >= 0) {
        printf("%s: OK\n", name);
        if (is_fd) close((int)rc);
    } else {
        printf("%s: %s\n", name, errname(errno));
    }
    fflush(stdout);
}

static void syscalls(void) {
    printf("uid: %d\n", (int)geteuid());
    /* keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0): root's keyring on the host. */
    report("keyctl", syscall(SYS_keyctl, 0, -4, 0), 0);
    /* add_key("user", ..., KEY_SPEC_PROCESS_KEYRING): gone with this process if it works. */
    report("add_key", syscall(SYS_add_key, "user", "vr-probe", "x", 1, -2), 0);
    /* bpf(BPF_MAP_CREATE) of a one-entry array map. */
    uint32_t attr[32];
    memset(attr, 0, sizeof attr);
    attr[0] = 2; /* BPF_MAP_TYPE_ARRAY */
    attr[1] = 4;
    attr[2] = 4;
    attr[3] = 1;
    report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr), 1);
    /* System-wide (pid -1, cpu 0) software event. */
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.type = PERF_TYPE_SOFTWARE;
    pe.size = sizeof pe;
    pe.config = PERF_COUNT_SW_CPU_CLOCK;
    pe.disabled = 1;
    report("perf_event_open", syscall(SYS_perf_event_open, &pe, -1, 0, -1, 0), 1);
    /* unshare(CLONE_NEWUSER) in a child, so this process stays as it is. */
    pid_t child = fork();
    if (child == 0) _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : (errno & 0x7f));
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status)) {
        printf("unshare_user: probe failed\n");
    } else if (WEXITSTATUS(status) == 0) {
        printf("unshare_user: OK\n");
    } else {
        printf("unshare_user: %s\n", errname(WEXITSTATUS(status)));
    }
    fflush(stdout);
    report("af_packet", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)), 1);
    long rc = mknod("/tmp/vr-probe-null", S_IFCHR | 0666, makedev(1, 3));
    report("mknod", rc, 0);
    if (rc == 0) unlink("/tmp/vr-probe-null");
    report("syslog", klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), 0);
    /* vsock is not namespaced: it reaches the hypervisor's services (a VM host). */
    report("af_vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0), 1);
}

static void handle(const char *marker, int n, char **mounts) {
    for (int i = 0; i < n; i++) {
        const char *m = mounts[i];
        char name[512];
        struct file_handle *fh = malloc(sizeof *fh + 128);
        int mount_id = 0;
        fh->handle_bytes = 128;
        snprintf(name, sizeof name, "name_to_handle_at %s", m);
        report(name, name_to_handle_at(AT_FDCWD, m, fh, &mount_id, 0), 0);
        int mfd = open(m, O_RDONLY);
        if (mfd < 0) {
            printf("open %s: %s\n", m, errname(errno));
            fflush(stdout);
            continue;
        }
        /* The "shocker" handle: the root inode (2) of an ext2/3/4 file system. */
        uint32_t ino_gen[2] = {2, 0};
        fh->handle_type = 1; /* FILEID_INO32_GEN */
        fh->handle_bytes = 8;
        memcpy(fh->f_handle, ino_gen, 8);
        int root = open_by_handle_at(mfd, fh, O_RDONLY | O_DIRECTORY);
        snprintf(name, sizeof name, "open_by_handle_at %s", m);
        report(name, root, 0);
        if (root >= 0) {
            int f = openat(root, marker + 1, O_RDONLY);
            if (f < 0) {
                printf("marker via %s: %s\n", m, errname(errno));
            } else {
                char buf[256];
                ssize_t len = read(f, buf, sizeof buf - 1);
                buf[len > 0 ? len : 0] = 0;
                printf("marker via %s: %s\n", m, buf);
                close(f);
            }
            close(root);
        }
        close(mfd);
        free(fh);
        fflush(stdout);
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "syscalls") == 0) {
        syscalls();
    } else if (argc >= 3 && strcmp(argv[1], "handle") == 0) {
        handle(argv[2], argc - 3, argv + 3);
    } else if (argc >= 2 && strcmp(argv[1], "euid") == 0) {
        printf("%d\n", (int)geteuid());
    } else if (argc >= 3 && strcmp(argv[1], "getcap") == 0) {
        unsigned char cap[64];
        ssize_t len = getxattr(argv[2], "security.capability", cap, sizeof cap);
        if (len < 0) {
            printf("getcap: %s\n", errname(errno));
            return 0;
        }
        printf("getcap: ");
        for (ssize_t i = 0; i < len; i++)
            printf("%02x", cap[i]);
        printf("\n");
    } else {
        fprintf(stderr, "usage: probe syscalls | handle MARKER MOUNT... | euid | getcap PATH\n");
        return 2;
    }
    return 0;
}
"##;

/// The compiled probe (static, so it runs in any image): built with `gcc -static -O1` on the
/// first call into `target/<profile>/vr-probe-<hash of the source>/probe` and reused after.
pub fn probe_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build).clone()
}

fn build() -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    PROBE_C.hash(&mut hasher);
    // target/<profile>/deps/<test binary> -> target/<profile>/vr-probe-<hash>
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join(format!("vr-probe-{:016x}", hasher.finish()));
    let out = dir.join("probe");
    if out.is_file() {
        return out;
    }
    std::fs::create_dir_all(&dir).unwrap();
    // Test binaries of other crates may build it at the same time: each compiles to its own
    // temp name and renames it into place.
    let tag = format!("{}-{:?}", std::process::id(), std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let src = dir.join(format!("probe-{tag}.c"));
    let tmp = dir.join(format!("probe-{tag}"));
    std::fs::write(&src, PROBE_C).unwrap();
    let gcc = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gcc to build the probe: {e}"));
    assert!(
        gcc.status.success(),
        "gcc -static failed to build the probe (gcc and static glibc, libc6-dev, are needed):\n{}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    std::fs::rename(&tmp, &out).unwrap();
    let _ = std::fs::remove_file(&src);
    out
}
