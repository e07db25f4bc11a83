//! `vrun doctor`: is this host fit to run vr, before the first proc fails? It runs a fixed list
//! of checks, prints a table for people on stderr (`ok`/`FAIL`, name, what it found; a failure
//! is followed by `fix: <command>`) and one line of JSON on stdout, and exits 0 when every check
//! passed, 1 ([`Exit::Failed`]) when one failed, 2 when doctor itself could not finish.
//!
//! Each check is a function of a [`Probe`] (the host reads: commands and text files through
//! vr-lxc's `Sys`, file status, free space, the head of a file) and of [`Inputs`] (the
//! environment), so what it decides (which layout is fit, which fix to print) is unit-tested
//! with a fake host; `tests/it/doctor.rs` runs the real one. Doctor only reads: it changes
//! nothing on the host.
//!
//! | name | passes when |
//! |---|---|
//! | `root` | vrun runs as root |
//! | `lxc` | `lxc-execute` is on PATH |
//! | `lxc-version` | vr-lxc can render a proc's config for the installed LXC on this host's cgroups |
//! | `cgroups` | a cgroup file system is mounted (layout: v1, v2 or hybrid) |
//! | `cgroup-memory` | the memory controller is mounted (`mem_limit`) |
//! | `cgroup-pids` | the pids controller is mounted (every proc gets a process limit) |
//! | `overlayfs` | the kernel has the overlay file system |
//! | `user-namespaces` | the kernel has user namespaces and `user.max_user_namespaces` > 0 |
//! | `id-range` | the containers' host id range is usable and delegated to root |
//! | `seccomp` | the kernel filters system calls (errno action) and LXC links libseccomp |
//! | `vr-root` | `VR_ROOT` is absent (setup creates it) or a folder 0710 root:<containers' gid> |
//! | `vr-root-path` | the containers' root can pass through every folder above `VR_ROOT` |
//! | `disk` | [`MIN_FREE_BYTES`] and [`MIN_FREE_INODES`] are free where `VR_ROOT` is |
//! | `vuptest` | a statically linked vuptest is where `vrun uptest` looks |

mod cgroups;
mod disk;
mod ids;
mod kernel;
mod lxc;
mod probe;
mod tree;
mod vuptest;

pub use disk::{MIN_FREE_BYTES, MIN_FREE_INODES};
pub use probe::{Kind, Meta, Probe, RealProbe, Space};

use crate::{Exit, Failure};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The result of one check: one element of the JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The check's name (`lxc`, `vr-root`, ...).
    pub name: &'static str,
    /// Whether the host passed it.
    pub passed: bool,
    /// What was found.
    pub detail: String,
    /// When it failed: the command (or action) that fixes it.
    pub fix: Option<String>,
}

impl Check {
    /// A check that passed.
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            passed: true,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A check that failed, with what fixes it.
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            passed: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The names of the checks, in the order they run and print.
pub const NAMES: [&str; 14] = [
    "root",
    "lxc",
    "lxc-version",
    "cgroups",
    "cgroup-memory",
    "cgroup-pids",
    "overlayfs",
    "user-namespaces",
    "id-range",
    "seccomp",
    "vr-root",
    "vr-root-path",
    "disk",
    "vuptest",
];

/// What the checks take from the environment of the process.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The effective uid.
    pub euid: u32,
    /// `VR_ROOT` (absolute; `/apps` by default).
    pub vr_root: PathBuf,
    /// `PATH`.
    pub path: Option<OsString>,
    /// `VR_IDMAP`.
    pub idmap_env: Option<String>,
    /// The vrun executable (vuptest is looked for beside it first).
    pub exe: Option<PathBuf>,
    /// `VR_UPTESTER`.
    pub uptester_env: Option<OsString>,
}

impl Inputs {
    /// This process's.
    pub fn from_env() -> Inputs {
        Inputs {
            euid: nix::unistd::geteuid().as_raw(),
            vr_root: vr_proc::Layout::from_env(std::env::var_os("VR_ROOT")).root,
            path: std::env::var_os("PATH"),
            idmap_env: std::env::var(vr_lxc::IDMAP_ENV).ok(),
            exe: std::env::current_exe().ok(),
            uptester_env: std::env::var_os("VR_UPTESTER"),
        }
    }
}

/// Runs every check, in the order of [`NAMES`].
pub fn checks(probe: &dyn Probe, inputs: &Inputs) -> Vec<Check> {
    let mut out = vec![ids::root(inputs)];
    let found = lxc::locate(probe, inputs);
    out.push(lxc::installed(&found));
    let cg = cgroups::Cgroups::read(probe);
    out.push(lxc::version(probe, &found, &cg.host));
    out.push(cgroups::layout(&cg));
    out.push(cgroups::memory(&cg));
    out.push(cgroups::pids(&cg));
    out.push(kernel::overlayfs(probe));
    out.push(ids::user_namespaces(probe));
    let (range, map) = ids::id_range(probe, inputs);
    out.push(range);
    out.push(kernel::seccomp(probe, &found));
    out.push(tree::vr_root(probe, inputs, map.as_ref()));
    out.push(tree::vr_root_path(probe, inputs, map.as_ref()));
    out.push(disk::disk(probe, inputs));
    out.push(vuptest::vuptest(probe, inputs));
    out
}

/// `path` as one shell word.
pub(crate) fn sh_quote(path: &Path) -> String {
    let text = path.to_string_lossy();
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The table for people: a line per check, each failure followed by its fix, then a summary.
pub fn table(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let status = if c.passed { "ok" } else { "FAIL" };
        out.push_str(&format!("{status:<4}  {:<width$}  {}\n", c.name, c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{:indent$}fix: {fix}\n", "", indent = width + 8));
        }
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    if failed == 0 {
        out.push_str(&format!(
            "vrun: doctor: all {} checks passed\n",
            checks.len()
        ));
    } else {
        out.push_str(&format!(
            "vrun: doctor: {failed} of {} checks failed\n",
            checks.len()
        ));
    }
    out
}

/// The JSON array, on one line: `[{"Name": .., "Passed": .., "Detail": .., "Fix": ..}]`
/// (keys capitalized like vuptest's, in this order; `Fix` is null when the check passed).
pub fn json(checks: &[Check]) -> String {
    use serde_json::Value;
    let items: Vec<String> = checks
        .iter()
        .map(|c| {
            let fix = c.fix.clone().map_or(Value::Null, Value::String);
            format!(
                "{{\"Name\":{},\"Passed\":{},\"Detail\":{},\"Fix\":{fix}}}",
                Value::from(c.name),
                c.passed,
                Value::from(c.detail.as_str()),
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// The status: 0 when every check passed, 1 otherwise.
pub fn exit_of(checks: &[Check]) -> Exit {
    if checks.iter().all(|c| c.passed) {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// `vrun doctor`: the table on stderr, the JSON on stdout.
pub fn run() -> Result<Exit, Failure> {
    use std::io::Write;
    let checks = checks(&RealProbe::default(), &Inputs::from_env());
    eprint!("{}", table(&checks));
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", json(&checks)).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(e)
            .context("cannot write to stdout")
            .into()),
        _ => Ok(exit_of(&checks)),
    }
}

#[cfg(test)]
mod tests {
    use super::probe::fake::healthy;
    use super::*;

    #[test]
    fn a_healthy_host_passes_every_check_in_order() {
        let (p, inputs) = healthy();
        let got = checks(&p, &inputs);
        let names: Vec<&str> = got.iter().map(|c| c.name).collect();
        assert_eq!(names, NAMES);
        for c in &got {
            assert!(c.passed && c.fix.is_none(), "{c:?}");
        }
        assert_eq!(exit_of(&got), Exit::Ok);
    }

    #[test]
    fn table_and_json() {
        let checks = [
            Check::pass("lxc", "/usr/bin/lxc-execute"),
            Check::fail(
                "vr-root-path",
                "/srv/x is not searchable",
                "chmod o+x /srv/x",
            ),
        ];
        assert_eq!(
            table(&checks),
            "ok    lxc           /usr/bin/lxc-execute\n\
             FAIL  vr-root-path  /srv/x is not searchable\n\
             \x20                   fix: chmod o+x /srv/x\n\
             vrun: doctor: 1 of 2 checks failed\n"
        );
        assert_eq!(
            json(&checks),
            r#"[{"Name":"lxc","Passed":true,"Detail":"/usr/bin/lxc-execute","Fix":null},{"Name":"vr-root-path","Passed":false,"Detail":"/srv/x is not searchable","Fix":"chmod o+x /srv/x"}]"#
        );
        assert_eq!(exit_of(&checks), Exit::Failed);
        assert_eq!(
            table(&checks[..1]),
            "ok    lxc  /usr/bin/lxc-execute\nvrun: doctor: all 1 checks passed\n"
        );
        let quoted = [Check::pass("x", "a \"b\"\n")];
        let v: serde_json::Value = serde_json::from_str(&json(&quoted)).unwrap();
        assert_eq!(v[0]["Detail"], "a \"b\"\n");
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote(Path::new("/a/b-c_d.e")), "/a/b-c_d.e");
        assert_eq!(sh_quote(Path::new("/a b/it's")), "'/a b/it'\\''s'");
    }
}
