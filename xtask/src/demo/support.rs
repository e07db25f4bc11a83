//! Helpers of `cargo xtask demo`: files, a free port, the proc.yaml rewrite, the check that
//! nothing is left on the host, and Ctrl-C.

use anyhow::{Context, Result};
use std::fs;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Stdio;

/// Our stderr, for a child's stdout.
pub fn to_stderr() -> Result<Stdio> {
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot duplicate stderr")?;
    Ok(Stdio::from(fd))
}

pub fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

pub fn md5(path: &Path) -> Result<String> {
    vr_tests::md5_file(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A TCP port that is free now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener
        .local_addr()
        .context("cannot find a free port")?
        .port())
}

/// `text` (a YAML map) with each top-level `key: ...` line set to `key: value`; keys not in
/// `text` are appended.
pub fn set_keys(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut missing: Vec<&(&str, &str)> = pairs.iter().collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let found = missing.iter().position(|(key, _)| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
        });
        match found {
            Some(i) => {
                let (key, value) = missing.remove(i);
                out.push_str(&format!("{key}: {value}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (key, value) in missing {
        out.push_str(&format!("{key}: {value}\n"));
    }
    out
}

/// What the demo must not leave on the host.
pub mod leftovers {
    use anyhow::{bail, Result};
    use std::fs;

    /// Fails when a process's command line, a mount, or a cgroup mentions one of `needles`.
    pub fn check(needles: &[&str]) -> Result<()> {
        let hits = |text: &str| needles.iter().any(|n| !n.is_empty() && text.contains(n));
        let mut found = Vec::new();
        let me = std::process::id().to_string();
        for entry in fs::read_dir("/proc")?.flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(raw) = fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args = String::from_utf8_lossy(&raw).replace('\0', " ");
            if hits(&args) {
                found.push(format!("process {pid}: {}", args.trim()));
            }
        }
        let mounts = fs::read_to_string("/proc/self/mountinfo")?;
        found.extend(
            mounts
                .lines()
                .filter(|l| hits(l))
                .map(|l| format!("mount: {l}")),
        );
        for hierarchy in fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let top = hierarchy.path();
            let mut dirs = vec![top.clone()];
            if let Ok(entries) = fs::read_dir(&top) {
                dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
            for d in dirs {
                if hits(&d.to_string_lossy()) {
                    found.push(format!("cgroup: {}", d.display()));
                }
            }
        }
        if !found.is_empty() {
            bail!("left on the host:\n{}", found.join("\n"));
        }
        Ok(())
    }
}

/// Ctrl-C (and SIGTERM, SIGHUP) during the demo: children in our process group get it too and
/// end; the demo notices, says so and cleans up instead of dying with its temp folder in place.
pub mod interrupt {
    use anyhow::{bail, Result};
    use std::sync::atomic::{AtomicBool, Ordering};

    static CAUGHT: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_signal(_: libc::c_int) {
        CAUGHT.store(true, Ordering::SeqCst);
    }

    /// Installs the handler (children get the default back when they exec).
    pub fn catch() {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            let handler: extern "C" fn(libc::c_int) = on_signal;
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
            unsafe { libc::signal(sig, handler as libc::sighandler_t) };
        }
    }

    /// Fails once a signal came.
    pub fn check() -> Result<()> {
        if CAUGHT.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::NAME_STEM;
    use crate::util;

    #[test]
    fn keys_are_set_or_added() {
        let cases = [
            (
                "port: 5000\nuser: web\n",
                &[("port", "6001")][..],
                "port: 6001\nuser: web\n",
            ),
            (
                "port: 5000\n",
                &[("build_md5", "ab")][..],
                "port: 5000\nbuild_md5: ab\n",
            ),
            // Only top-level keys, and the whole key: `ports:` and `  port:` stay.
            (
                "ports: 1\nenv:\n  port: 2\nport: 3\n",
                &[("port", "4")][..],
                "ports: 1\nenv:\n  port: 2\nport: 4\n",
            ),
            (
                "# port: 1\nport: 2",
                &[("port", "5"), ("image_md5", "cd")][..],
                "# port: 1\nport: 5\nimage_md5: cd\n",
            ),
        ];
        for (text, pairs, want) in cases {
            assert_eq!(set_keys(text, pairs), want, "{text:?}");
        }
    }

    #[test]
    fn the_example_proc_yaml_has_what_the_demo_relies_on() {
        let text = fs::read_to_string(util::root().join("examples/proc.yaml")).unwrap_or_default();
        for line in [
            "port: 5000\n",
            "proc_name: web\n",
            "image_url: demo-stack.tar.gz\n",
            "build_url: hello-build.tar.gz\n",
        ] {
            assert!(text.contains(line), "examples/proc.yaml lacks {line:?}");
        }
        let stem: Vec<String> = [
            "app_name",
            "version",
            "config_name",
            "release_hash",
            "proc_name",
        ]
        .iter()
        .map(|k| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap_or_default()
                .to_string()
        })
        .collect();
        assert_eq!(stem.join("-"), NAME_STEM);
    }
}
