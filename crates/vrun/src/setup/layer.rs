//! What setup writes into the proc's layer, decided before anything is written: the [`Host`]
//! seam, the [`Plan`] of the layer's files, and whether an older layer must go.

use anyhow::Result;
use std::path::Path;
use vr_lxc::IdMap;
use vr_proc::ProcConfig;

/// What setup asks of the host besides files: the seam its decisions are tested through.
pub trait Host {
    /// An environment variable of vrun (for `$VAR` in the proc.yaml's `env`).
    fn var(&self, name: &str) -> Option<String>;
    /// `net.ipv4.ip_unprivileged_port_start`: the lowest port the containers' root may bind.
    fn unprivileged_port_start(&self) -> u16;
}

/// The real host.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealHost;

impl Host for RealHost {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn unprivileged_port_start(&self) -> u16 {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|t| t.trim().parse::<u16>().ok())
            .unwrap_or(1024)
    }
}

/// A file setup writes into the proc's layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Its path in the container (`/env.sh`).
    pub path: &'static str,
    /// Its content.
    pub data: Vec<u8>,
    /// Its mode.
    pub mode: u32,
    /// Its host uid and gid.
    pub owner: (u32, u32),
}

impl LayerFile {
    /// Its path relative to the layer.
    pub(super) fn rel(&self) -> &Path {
        Path::new(self.path.trim_start_matches('/'))
    }
}

/// What setup writes into the layer, decided before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The files, in the order they are written.
    pub files: Vec<LayerFile>,
    /// Warnings to print (without the `vrun: warning: ` prefix).
    pub warnings: Vec<String>,
}

/// What [`plan`] decides from.
pub struct PlanInputs<'a> {
    /// The proc.yaml.
    pub cfg: &'a ProcConfig,
    /// The rendered `/settings.yaml`.
    pub settings: String,
    /// The new build's Procfile, if it has one, and where it will be (for messages).
    pub procfile: (Option<&'a str>, &'a Path),
    /// The host uid and gid of the app's user.
    pub app: (u32, u32),
    /// The host uid and gid of the containers' root.
    pub root: (u32, u32),
}

/// Decides the layer's files: `/env.sh` and `/settings.yaml` (0600, the app's: they may hold
/// secrets), `/proc.sh` (0755, the containers' root's, so the app cannot change how it is
/// started), and the warnings to give.
pub fn plan(inputs: PlanInputs<'_>, host: &dyn Host) -> Result<Plan> {
    let cfg = inputs.cfg;
    let (procfile_text, procfile_path) = inputs.procfile;
    let command = vr_proc::command_for(cfg, procfile_text, procfile_path)?;
    let port = cfg.port()?;
    let mut warnings = Vec::new();
    let start = host.unprivileged_port_start();
    if port < start {
        warnings.push(format!(
            "port {port} is below net.ipv4.ip_unprivileged_port_start ({start}): the proc's root \
             is not root on the host's network and cannot bind it"
        ));
    }
    let env_sh = vr_proc::env_sh(&cfg.env, |name| host.var(name));
    let file = |path, data: String, mode, owner| LayerFile {
        path,
        data: data.into_bytes(),
        mode,
        owner,
    };
    Ok(Plan {
        files: vec![
            file(vr_proc::ENV_SH, env_sh, 0o600, inputs.app),
            file(vr_proc::SETTINGS_YAML, inputs.settings, 0o600, inputs.app),
            file(
                vr_proc::PROC_SH,
                vr_proc::proc_sh(&command, port),
                0o755,
                inputs.root,
            ),
        ],
        warnings,
    })
}

/// Whether the layer must start anew: the proc was set up by an older vrun without a user
/// namespace (its `proc.lxc` has no `lxc.idmap`), so its layer holds files with host ids.
pub fn layer_outdated(previous_config: Option<&str>) -> bool {
    previous_config.is_some_and(|text| IdMap::of_config(text).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeHost {
        port_start: u16,
    }

    impl Host for FakeHost {
        fn var(&self, name: &str) -> Option<String> {
            (name == "SECRET").then(|| "s3cret".to_string())
        }
        fn unprivileged_port_start(&self) -> u16 {
            self.port_start
        }
    }

    fn cfg(extra: &str) -> ProcConfig {
        let yaml = format!(
            "app_name: a\nversion: v1\nconfig_name: c\nrelease_hash: h\nproc_name: web\n\
             port: 5000\nuser: app\nenv: {{TOKEN: $SECRET}}\n{extra}"
        );
        ProcConfig::parse(Path::new("/p.yaml"), &yaml).unwrap()
    }

    fn plan_of(cfg: &ProcConfig, procfile: Option<&str>, port_start: u16) -> Result<Plan> {
        plan(
            PlanInputs {
                cfg,
                settings: "a: 1\n".into(),
                procfile: (procfile, Path::new("/apps/procs/x/rootfs/app/Procfile")),
                app: (101_000, 101_000),
                root: (100_000, 100_000),
            },
            &FakeHost { port_start },
        )
    }

    #[test]
    fn the_layer_files_their_modes_and_owners() {
        let cfg = cfg("");
        let p = plan_of(&cfg, Some("web: ./serve --port $PORT\n"), 1024).unwrap();
        let summary: Vec<(&str, u32, (u32, u32))> =
            p.files.iter().map(|f| (f.path, f.mode, f.owner)).collect();
        assert_eq!(
            summary,
            [
                ("/env.sh", 0o600, (101_000, 101_000)),
                ("/settings.yaml", 0o600, (101_000, 101_000)),
                ("/proc.sh", 0o755, (100_000, 100_000)),
            ]
        );
        let env = String::from_utf8(p.files[0].data.clone()).unwrap();
        assert!(env.contains("s3cret"), "host variables substituted: {env}");
        let proc_sh = String::from_utf8(p.files[2].data.clone()).unwrap();
        assert!(proc_sh.contains("./serve --port $PORT"), "{proc_sh}");
        assert_eq!(p.files[1].data, b"a: 1\n");
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn a_port_below_the_unprivileged_start_is_warned_about() {
        let cfg = cfg("cmd: ./serve\n");
        let p = plan_of(&cfg, None, 8000).unwrap();
        assert_eq!(
            p.warnings,
            [
                "port 5000 is below net.ipv4.ip_unprivileged_port_start (8000): the proc's root \
              is not root on the host's network and cannot bind it"
            ]
        );
    }

    #[test]
    fn a_build_without_the_procs_line_is_refused_before_anything_is_written() {
        let cfg = cfg("");
        let err = plan_of(&cfg, Some("worker: ./work\n"), 1024).unwrap_err();
        assert!(err.to_string().contains("web"), "{err}");
        let err = plan_of(&cfg, None, 1024).unwrap_err();
        assert!(err.to_string().contains("Procfile"), "{err}");
    }

    #[test]
    fn only_a_layer_of_an_older_vrun_is_cleared() {
        assert!(!layer_outdated(None), "first setup");
        assert!(layer_outdated(Some("lxc.uts.name = x\n")));
        assert!(!layer_outdated(Some(
            "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n"
        )));
    }
}
