//! vr-lxc: containers on real LXC for vr's tools. It detects the installed LXC version and
//! where the host's cgroup controllers live, renders an LXC config in the dialect that version
//! understands, makes a container's device nodes, and runs a command in a container in the
//! foreground with `lxc-execute`, passing its exit status back and forwarding signals to it.
//! It never prints, never decides paths of its own (callers pass every path) and never touches
//! anything but the paths it is handed; system calls and external commands go through the
//! [`Sys`] seam so callers can unit-test their decisions with [`FakeSys`].
//!
//! # The container
//!
//! [`ContainerConfig`] + [`render`] give: a rootfs ([`Rootfs::Overlay`] of read-only lower
//! layers under one writable upper layer, mounted by LXC inside the container's mount
//! namespace so it disappears with the container, or a plain [`Rootfs::Dir`]); the host's
//! network (type none); a hostname; `/etc/resolv.conf` and `/etc/hosts` bound read-only from
//! the host; `/proc` read-only and the host's `/sys` bound read-only; a tmpfs `/dev` that LXC
//! fills with the host's null, zero, full, random, urandom and tty, a private devpts on
//! `/dev/pts` and a tmpfs on `/dev/shm`. Containment: a user namespace ([`IdMap`]: root
//! inside is an unprivileged host uid), the capabilities [`KEPT_CAPS`] and no others, vr's
//! seccomp profile ([`SECCOMP_PROFILE`]), `no_new_privs`, a pids limit
//! ([`DEFAULT_PIDS_MAX`]) and a deny-all devices cgroup except [`ALLOWED_DEVICES`]; extra
//! [`BindMount`]s (volumes, tools: always relative targets, the only kind LXC honours over an
//! overlay rootfs); memory limits on cgroup v1 or v2 as [`CgroupHost`] found them; the init
//! and command as a uid/gid; the command's environment. LXC versions: legacy keys
//! (`lxc.rootfs`, `lxc.network.type`, `lxc.aa_profile`, ...) before 2.1, `overlayfs` before 2.0,
//! modern keys (`lxc.rootfs.path`, `lxc.net.0.type`, `lxc.apparmor.profile`, ...) from 2.1.
//!
//! # Running
//!
//! [`Execute`] is one `lxc-execute` call (LXC's own init is PID 1: it reaps zombies and
//! returns the command's status, 128+N after signal N). [`Foreground`] / [`run_foreground`]
//! spawn it with SIGTERM/SIGINT/SIGHUP/SIGCHLD blocked (no signal can slip between spawn and
//! wait), forward those signals to the command inside ([`forward_target`]) and return its
//! [`Outcome`]. Call them before starting threads. Configs for LXC 3.0 and later carry a
//! start-host hook, so that with a [`StartMarker`] a caller can tell a container that never
//! started from a command that exited non-zero ([`reports_start`]).
//!
//! # Recipes
//!
//! - A proc (vrun): `Rootfs::Overlay { lowers: [image contents], upper: proc rootfs }`,
//!   `user: Some((uid, gid))`, volumes as binds, limits; write [`render`]'s text to `proc.lxc`,
//!   run `Execute { command: ["/bin/sh", "/proc.sh"], .. }` with [`run_foreground`].
//! - A command beside a running proc (uptest, shell): a throwaway upper over both layers,
//!   `Rootfs::Overlay { lowers: [proc rootfs, image contents], upper: <temp>/upper }`; tools
//!   bind-mounted read-only (`BindKind::File`).
//! - A provisioning script as root over a cached base image, output streamed (vimage build):
//!   `Rootfs::Overlay { lowers: [base contents], upper: <fresh dir>/upper }`, `user: None`,
//!   the script bind-mounted read-only, `environment` with PATH/HOME/TERM/...;
//!   `let mut fg = Foreground::spawn(cmd_with_piped_stdout)?`, take `fg.child().stdout`, read
//!   it in a thread started after the spawn (it inherits the blocked mask), then `fg.wait(&RealSys)`.
//!   The upper layer then holds exactly what the script changed (whiteouts for deletions);
//!   for a flat result use `Rootfs::Dir` on a fresh copy of the base instead.
//! - An interactive shell (vimage shell, vrun shell): the same, command `/bin/sh` (or bash),
//!   stdio inherited; `environment` should carry `TERM`.
// A library never prints (its callers do) and exports only what it means to.
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod cgroup;
mod config;
mod error;
mod exec;
pub mod host;
mod idmap;
mod init;
mod leftovers;
pub mod stale;
mod started;
mod sys;
mod version;

pub use cgroup::{CgroupHost, CgroupVersion};
pub use config::{
    hostname_for, render, writable_binds, BindKind, BindMount, ContainerConfig, Rootfs,
    ALLOWED_DEVICES, DEFAULT_PIDS_MAX, KEPT_CAPS, SECCOMP_PROFILE,
};
pub use error::{Error, Result};
pub use exec::{
    forward_target, run_foreground, Ended, Execute, Foreground, ForwardTo, Outcome, FORWARDED,
};
pub use idmap::{IdMap, IDMAP_ENV, MAX_MAPPED, SUBGID, SUBUID};
pub use leftovers::Leftovers;
pub use started::{reports_start, StartMarker, STARTED_ENV};
pub use sys::{CmdOutput, FakeSys, RealSys, Sys};
pub use version::{detect_version, LxcVersion};
