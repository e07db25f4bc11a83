//! `cargo xtask dist`: one Debian package and one tarball per tool, under `target/dist/`.
//!
//! Each package holds the tool's release binary (stripped by the release profile; vuptest
//! statically linked, both checked with `file`), man pages generated from the tool's own clap
//! definition, for vrun and vimage also the man page of the file they read (proc.yaml(5),
//! image.yaml(5)) made from its docs page ([`markdown`]), bash/zsh/fish completions, the
//! tool's pages of docs/ and its examples, and the MIT license ([`payload()`]). The `.deb` tree
//! is laid out here and built with `dpkg-deb --root-owner-group`; its Depends are the tool's
//! own (vrun needs vuptest and lxc, vimage needs lxc) plus the shared libraries
//! `dpkg-shlibdeps` finds, and it recommends bash-completion. It also has a changelog and, where
//! lintian is wrong about it, lintian overrides with their reasons ([`debian`]); lintian checks
//! every .deb at the end, and any error or warning fails the run. The tarball holds the same
//! files (no changelog, no overrides) under `<tool>-<version>-x86_64-linux/`.
//!
//! The tools that start containers (vrun, vimage) also ship vr's seccomp profile, the one
//! compiled into them, for people to read: `usr/share/doc/<tool>/vr.seccomp` in the .deb (a path
//! per package, since dpkg refuses one file in two packages) and `vr.seccomp` in the tarball.
//! Their .deb has a `postinst` ([`postinst`]) that gives root a range of host ids in
//! /etc/subuid and /etc/subgid when root has none there. No `uidmap` Depends: without
//! `newuidmap` LXC writes the id maps itself, as root.

mod debian;
mod markdown;
mod pack;
mod pages;
mod payload;
mod postinst;

use crate::util;
use anyhow::{bail, ensure, Context, Result};
use pack::{build_deb, build_tarball};
use payload::{payload, PackFile};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace version: every package carries it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The workspace's `authors` has no address; Debian wants one.
const MAINTAINER: &str = "vr developers <vr@example.invalid>";
/// The workspace's `repository`.
const HOMEPAGE: &str = env!("CARGO_PKG_REPOSITORY");

/// One tool and how it is packaged.
pub struct Tool {
    /// Package and executable name.
    pub name: &'static str,
    /// What it is, in a line: the package's synopsis and the NAME of its man page.
    pub synopsis: &'static str,
    /// A last paragraph for the package's long description (empty: none).
    pub note: &'static str,
    /// The tool's clap command.
    pub command: fn() -> clap::Command,
    /// Packages it needs at run time besides its shared libraries.
    pub depends: &'static [&'static str],
    /// Shipped statically linked (vuptest runs inside any image).
    pub is_static: bool,
    /// Starts containers: ships vr's seccomp profile and the postinst that gives root a range
    /// of host ids for their user namespaces.
    pub runs_containers: bool,
    /// Man page sections after the generated ones: (title, [(tag, text)]).
    pub sections: &'static [Section],
    /// Its rows of vr-stop's exit status table (the EXIT STATUS section).
    pub exit: vr_stop::Tool,
    /// The man pages (section 5) of the files it reads, made from their docs pages.
    pub file_pages: &'static [FilePage],
    /// Its pages of docs/, in `/usr/share/doc/<tool>/` (paths from the workspace root).
    pub docs: &'static [&'static str],
    /// Its example files, in `/usr/share/doc/<tool>/examples/` (paths from the workspace root;
    /// each is run by the demo or a test).
    pub examples: &'static [&'static str],
    /// lintian overrides: (tag and its pointer, why lintian is wrong there).
    pub overrides: &'static [(&'static str, &'static str)],
}

/// A man page of section 5 for a file a tool reads: `proc.yaml(5)` from docs/proc-yaml.md.
pub struct FilePage {
    /// The page's name, the file's (`proc.yaml`).
    pub name: &'static str,
    /// The docs page it is made from (path from the workspace root).
    pub doc: &'static str,
    /// Its NAME line after `proc.yaml -`.
    pub whatis: &'static str,
}

/// Where the packages' copy of vr's seccomp profile comes from (vr-lxc compiles in the same
/// file).
pub const SECCOMP_SOURCE: &str = "crates/vr-lxc/seccomp/vr.seccomp";

/// A hand-written man page section: title and tagged paragraphs.
pub type Section = (&'static str, &'static [(&'static str, &'static str)]);

/// The three tools. `vuptest (= VERSION)`: vrun runs the vuptest packaged beside it.
pub const TOOLS: [Tool; 3] = [
    Tool {
        name: "vimage",
        synopsis: "build OS image tarballs for vr procs in an LXC container",
        note: "",
        command: vimage::cli::command,
        exit: vr_stop::Tool::Vimage,
        depends: &["lxc"],
        is_static: false,
        runs_containers: true,
        sections: &[
            ("ENVIRONMENT", &[
                ("VR_ROOT", "Root of the host layout (default /apps); base images are cached and unpacked under $VR_ROOT/images."),
                ("VR_IDMAP", "The host ids the container's ids 0-65535 map to: BASE:COUNT or UIDBASE:GIDBASE:COUNT. Default: root's range in /etc/subuid and /etc/subgid, else 100000:65536."),
                ("TERM", "Passed through to the provisioning script."),
            ]),
            ("FILES", &[
                ("<new_image_name>.tar.gz", "The built image, written atomically in the current directory."),
                ("<new_image_name>.log", "The provisioning script's output, also shown on the terminal, ending with vimage's status line (vimage: build succeeded: ...); with --timestamps each line starts with the time since the script started."),
                ("<new_image_name>.failed.log", "The log of a build that failed (vimage: build failed: ...); the previous image and its log are left as they were."),
                ("/etc/subuid, /etc/subgid", "Root's range of host ids for the containers' user namespace."),
                ("/usr/share/doc/vimage/vr.seccomp", "A copy of the seccomp profile every container gets (vimage carries its own)."),
            ]),
        ],
        file_pages: &[FilePage {
            name: "image.yaml",
            doc: "docs/image-yaml.md",
            whatis: "how vimage builds an OS image",
        }],
        docs: &[
            "docs/vimage.md",
            "docs/image-yaml.md",
            "docs/lxc.md",
            "docs/exit-status.md",
        ],
        // The demo builds its stack with these two.
        examples: &["examples/image/image.yaml", "examples/image/provision.sh"],
        overrides: &[("embedded-library libyaml [usr/bin/vimage]", debian::LIBYAML)],
    },
    Tool {
        name: "vrun",
        synopsis: "set up, run, uptest and tear down vr procs in LXC containers",
        note: "Examples for running procs under supervisord, systemd and Nomad are in \
               /usr/share/doc/vrun/examples/.",
        command: vrun::cli::command,
        exit: vr_stop::Tool::Vrun,
        depends: &["lxc", "vuptest (= @VERSION@)"],
        is_static: false,
        runs_containers: true,
        sections: &[
            ("ENVIRONMENT", &[
                ("VR_ROOT", "Root of the host layout (default /apps): builds/, images/ and procs/ live under it."),
                ("VR_IDMAP", "The host ids the containers' ids 0-65535 map to: BASE:COUNT or UIDBASE:GIDBASE:COUNT. Default: root's range in /etc/subuid and /etc/subgid, else 100000:65536."),
                ("VR_UPTESTER", "A statically linked vuptest to use when there is none next to the vrun executable or on PATH."),
            ]),
            ("FILES", &[
                ("/etc/subuid, /etc/subgid", "Root's range of host ids for the containers' user namespace."),
                ("/usr/share/doc/vrun/vr.seccomp", "A copy of the seccomp profile every container gets (vrun carries its own and writes it beside each proc.lxc)."),
                ("/usr/share/doc/vrun/examples/", "A supervisord program, a systemd unit and a Nomad job that run a proc, and the demo's proc.yaml."),
            ]),
        ],
        file_pages: &[FilePage {
            name: "proc.yaml",
            doc: "docs/proc-yaml.md",
            whatis: "the proc that vrun sets up, runs and tears down",
        }],
        docs: &[
            "docs/vrun.md",
            "docs/doctor.md",
            "docs/proc-yaml.md",
            "docs/uptests.md",
            "docs/supervisors.md",
            "docs/lxc.md",
            "docs/security.md",
            "docs/exit-status.md",
        ],
        // tests/tests/supervisor.rs runs hello-web.conf (and verifies vrun@.service); the
        // Nomad job is checked against them (dist tests); the demo runs proc.yaml.
        examples: &[
            "docs/examples/hello-web.conf",
            "docs/examples/vrun@.service",
            "docs/examples/hello-web.nomad",
            "examples/proc.yaml",
        ],
        overrides: &[("embedded-library libyaml [usr/bin/vrun]", debian::LIBYAML)],
    },
    Tool {
        name: "vuptest",
        synopsis: "run a proc's uptests and print their results as JSON",
        note: "It is statically linked, so that vrun can run it inside a proc's container \
               whatever the image.",
        command: vuptest::cli::command,
        exit: vr_stop::Tool::Vuptest,
        depends: &[],
        is_static: true,
        runs_containers: false,
        sections: &[],
        file_pages: &[],
        docs: &["docs/vuptest.md", "docs/uptests.md", "docs/exit-status.md"],
        examples: &[],
        overrides: &[(
            "shared-library-lacks-prerequisites [usr/bin/vuptest]",
            debian::STATIC_PIE,
        )],
    },
];

/// Where the packages go.
pub fn dist_dir() -> PathBuf {
    util::target_dir().join("dist")
}

/// `cargo xtask dist`: builds, checks and packs every tool.
pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("`dist` takes no arguments, got `{arg}`");
    }
    util::ensure_tools(&[
        ("dpkg-deb", "dpkg"),
        ("dpkg-shlibdeps", "dpkg-dev"),
        ("file", "file"),
        ("lintian", "lintian"),
    ])?;
    util::run(util::cargo().args(["build", "--release", "--bins", "-p", "vimage", "-p", "vrun"]))?;
    let static_vuptest = util::build_static_vuptest(true)?;
    let release = util::target_dir().join("release");
    let out = dist_dir();
    if out.exists() {
        fs::remove_dir_all(&out).with_context(|| format!("cannot remove {}", out.display()))?;
    }
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let arch = util::output(Command::new("dpkg").arg("--print-architecture"))?
        .trim()
        .to_string();
    let epoch = source_date_epoch();
    let mut debs = Vec::new();
    for tool in &TOOLS {
        let binary = if tool.is_static {
            static_vuptest.clone()
        } else {
            release.join(tool.name)
        };
        check_binary(tool, &binary)?;
        let files = payload(tool, &binary, epoch)?;
        let deb = build_deb(tool, &files, &binary, &arch, &out, epoch)?;
        let tarball = build_tarball(tool, &files, &out, epoch)?;
        eprintln!("xtask: dist: {} and {}", deb.display(), tarball.display());
        debs.push(deb);
    }
    debian::lintian(&debs)
}

/// Fails unless the binary is stripped (and static when it must be) and reports this version.
fn check_binary(tool: &Tool, binary: &Path) -> Result<()> {
    let desc = util::output(Command::new("file").arg("-b").arg(binary))?;
    ensure!(
        desc.contains(", stripped"),
        "{} is not stripped: {}",
        binary.display(),
        desc.trim()
    );
    let is_static = desc.contains("statically linked") || desc.contains("static-pie linked");
    ensure!(
        is_static == tool.is_static,
        "{} should be {} linked: {}",
        binary.display(),
        if tool.is_static {
            "statically"
        } else {
            "dynamically"
        },
        desc.trim()
    );
    let version = util::output(Command::new(binary).arg("--version"))?;
    ensure!(
        version.trim() == format!("{} {VERSION}", tool.name),
        "{} --version says `{}`, expected `{} {VERSION}`",
        binary.display(),
        version.trim(),
        tool.name
    );
    Ok(())
}

/// The tool's Depends: its own, then its shared libraries' packages (none when static).
fn depends(tool: &Tool, binary: &Path, work: &Path) -> Result<Vec<String>> {
    let mut deps: Vec<String> = tool
        .depends
        .iter()
        .map(|d| d.replace("@VERSION@", VERSION))
        .collect();
    if !tool.is_static {
        // dpkg-shlibdeps wants a debian/control to read; give it a minimal one.
        let debian = work.join("debian");
        fs::create_dir_all(&debian)?;
        fs::write(
            debian.join("control"),
            format!("Source: vr\n\nPackage: {}\nArchitecture: any\n", tool.name),
        )?;
        let out = util::output(
            Command::new("dpkg-shlibdeps")
                .current_dir(work)
                .arg("-O")
                .arg(format!("-e{}", binary.display())),
        )?;
        let libs = out
            .lines()
            .find_map(|l| l.strip_prefix("shlibs:Depends="))
            .with_context(|| format!("dpkg-shlibdeps printed no shlibs:Depends: {out}"))?;
        deps.extend(libs.split(", ").map(str::to_string));
    }
    Ok(deps)
}

/// The release time: $SOURCE_DATE_EPOCH, else the last commit's time, else 0.
fn source_date_epoch() -> u64 {
    if let Some(t) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return t;
    }
    util::output(
        Command::new("git")
            .current_dir(util::root())
            .args(["log", "-1", "--format=%ct"]),
    )
    .ok()
    .and_then(|t| t.trim().parse().ok())
    .unwrap_or(0)
}

#[cfg(test)]
mod tests;
