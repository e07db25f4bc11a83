//! The rendered scripts, run for real: `/proc.sh` under dash and busybox sh (on the host, with
//! the container paths under a temp dir), and once exactly as rendered for production inside a
//! chroot of a busybox rootfs (root only). The app is `env -0`, so each test sees the exact
//! environment the app was given.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::render::proc_sh_in;
use crate::{env_sh, proc_sh, settings_yaml};

/// The shells a proc.sh must work with: `(name, program, args before the script)`.
const SHELLS: [(&str, &str, &[&str]); 2] = [("dash", "dash", &[]), ("busybox", "busybox", &["sh"])];

const PORT: u16 = 5000;

/// Values that must reach the app byte for byte.
fn tricky_env() -> BTreeMap<String, String> {
    [
        ("DQ", r#"say "hi""#),
        ("SQ", "it's"),
        ("SQ2", "''"),
        ("SUBST", "$(id)"),
        ("BACKTICK", "`id`"),
        ("BACKSLASH", r"back\slash\\n\"),
        ("NEWLINES", "line1\nline2\n\n"),
        ("SPACES", "  spaced   out  "),
        ("EQUALS", "a=b==c="),
        ("UNICODE", "ünïcödé ✓ 日本語 🚀"),
        ("EMPTY", ""),
        ("GLOB", "* ? [a]"),
        ("TILDE", "~"),
        ("DASH", "-n"),
        ("PERCENT", "%s%n%%"),
        ("BRACES", "${HOME} $HOME/x"),
        ("SEMICOLON", "; exit 3 &"),
        ("TAB", "\t"),
        ("MIX", "'\"$(id)`id`\\\n $HOME;|&<>"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A temp dir standing in for the container's `/`, with `/app`, `/env.sh`, `/settings.yaml`
/// and `/proc.sh` rendered with that dir as root.
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new(env: &BTreeMap<String, String>, host_env: impl Fn(&str) -> Option<String>) -> Root {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("app/.profile.d")).unwrap();
        fs::write(dir.path().join("env.sh"), env_sh(env, host_env)).unwrap();
        fs::write(dir.path().join("settings.yaml"), "{}\n").unwrap();
        Root { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn profile(&self, name: &str, text: &str) {
        fs::write(self.path().join("app/.profile.d").join(name), text).unwrap();
    }

    /// Runs proc.sh (rendered for this root) with `shell`, in an environment holding only
    /// `PATH` and `extra`.
    fn run(&self, shell: (&str, &str, &[&str]), command: &str, extra: &[(&str, &str)]) -> Output {
        let root = self.path().to_str().unwrap();
        let script = self.path().join("proc.sh");
        fs::write(&script, proc_sh_in(root, command, PORT)).unwrap();
        let (name, program, args) = shell;
        let out = Command::new(program)
            .args(args)
            .arg(&script)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .envs(extra.iter().copied())
            .current_dir("/")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {program} (install dash and busybox-static): {e}")
            });
        assert!(
            out.status.success(),
            "{name}: {:?}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// Parses `env -0` output.
fn environ(out: &Output) -> BTreeMap<String, String> {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    text.split_terminator('\0')
        .map(|entry| {
            let (k, v) = entry.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn env_values_arrive_byte_for_byte() {
    let env = tricky_env();
    let root = Root::new(&env, |_| None);
    for shell in SHELLS {
        let got = environ(&root.run(shell, "env -0", &[]));
        for (key, want) in &env {
            assert_eq!(got.get(key), Some(want), "{}: {key}", shell.0);
        }
    }
}

#[test]
fn dollar_values_come_from_the_host_environment() {
    let env: BTreeMap<String, String> = [
        ("FROM_HOST", "$VR_TEST_HOST"),
        ("UNSET", "$VR_TEST_UNSET"),
        ("REAL_PATH", "$PATH"),
        ("NOT_A_NAME", "$(id)"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let host_path = std::env::var("PATH").unwrap_or_default();
    let host = |name: &str| match name {
        "VR_TEST_HOST" => Some("host value with 'quotes' and $(id)".to_string()),
        _ => std::env::var(name).ok(),
    };
    let root = Root::new(&env, host);
    for shell in SHELLS {
        let got = environ(&root.run(shell, "env -0", &[]));
        let want = [
            ("FROM_HOST", "host value with 'quotes' and $(id)"),
            ("UNSET", ""),
            ("REAL_PATH", host_path.as_str()),
            ("NOT_A_NAME", "$(id)"),
        ];
        for (key, value) in want {
            assert_eq!(
                got.get(key).map(String::as_str),
                Some(value),
                "{}: {key}",
                shell.0
            );
        }
    }
}

#[test]
fn port_cannot_be_overridden() {
    let env: BTreeMap<String, String> = [("PORT".to_string(), "1".to_string())].into();
    let root = Root::new(&env, |_| None);
    root.profile("00-port.sh", "export PORT=2\n");
    root.profile("zz-port.sh", "PORT=3\n");
    for shell in SHELLS {
        let got = environ(&root.run(shell, "env -0", &[("PORT", "4")]));
        assert_eq!(got["PORT"], PORT.to_string(), "{}", shell.0);
    }
}

#[test]
fn startup_order() {
    // env.sh comes after .profile.d, so env wins over a profile script; PORT and
    // APP_SETTINGS_YAML come last.
    let env: BTreeMap<String, String> = [
        ("BOTH".to_string(), "from env.sh".to_string()),
        ("APP_SETTINGS_YAML".to_string(), "/elsewhere".to_string()),
    ]
    .into();
    let root = Root::new(&env, |_| None);
    for name in ["b.sh", "a.sh", "10-x", "2-y", "Z", ".hidden"] {
        root.profile(
            name,
            &format!(
                "export ORDER=\"${{ORDER}}{name},\"\nexport BOTH=profile\nexport PROFILE_PWD=\"$(pwd)\" PROFILE_HOME=\"$HOME\"\n"
            ),
        );
    }
    fs::create_dir(root.path().join("app/.profile.d/dir.sh")).unwrap();
    let app = root.path().join("app");
    let app = app.to_str().unwrap();
    for shell in SHELLS {
        let got = environ(&root.run(
            shell,
            "env -0",
            &[("HOME", "/root"), ("TMPDIR", "/var/tmp")],
        ));
        let settings = format!("{}/settings.yaml", root.path().display());
        let want = [
            ("ORDER", "10-x,2-y,Z,a.sh,b.sh,"),
            ("BOTH", "from env.sh"),
            ("PROFILE_PWD", app),
            ("PROFILE_HOME", app),
            ("HOME", app),
            ("TMPDIR", "/tmp"),
            ("APP_SETTINGS_YAML", settings.as_str()),
        ];
        for (key, value) in want {
            assert_eq!(
                got.get(key).map(String::as_str),
                Some(value),
                "{}: {key}",
                shell.0
            );
        }
    }
}

#[test]
fn command_is_shell_code() {
    let root = Root::new(&BTreeMap::new(), |_| None);
    fs::create_dir(root.path().join("app/sub")).unwrap();
    let cases = [
        ("echo \"port=$PORT\"", "port=5000\n"),
        ("cd sub && pwd", "SUB\n"),
        (
            "GREETING='hi there' env | grep '^GREETING='",
            "GREETING=hi there\n",
        ),
        ("printf '%s|' it\\'s \"a  b\"", "it's|a  b|"),
    ];
    let sub = format!("{}/app/sub", root.path().display());
    for shell in SHELLS {
        for (command, want) in cases {
            let out = root.run(shell, command, &[]);
            let want = want.replace("SUB", &sub);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                want,
                "{}: {command}",
                shell.0
            );
        }
    }
}

#[test]
fn exit_status_is_the_commands() {
    let root = Root::new(&BTreeMap::new(), |_| None);
    let root_str = root.path().to_str().unwrap();
    let script = root.path().join("proc.sh");
    fs::write(&script, proc_sh_in(root_str, "exit 7", PORT)).unwrap();
    for (name, program, args) in SHELLS {
        let status = Command::new(program)
            .args(args)
            .arg(&script)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(7), "{name}");
    }
}

/// Production text, exactly as rendered, inside a chroot of a busybox rootfs: busybox is
/// `/bin/sh` there, so the `sh -c` that runs the command is busybox too.
#[test]
fn production_script_in_busybox_chroot() {
    if !vr_tests::e2e_ready("vr-proc production_script_in_busybox_chroot") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    vr_tests::busybox_rootfs(&rootfs).unwrap();
    let env = tricky_env();
    fs::create_dir_all(rootfs.join("app/.profile.d")).unwrap();
    fs::write(
        rootfs.join("app/.profile.d/b.sh"),
        "export ORDER=\"${ORDER}b\" PORT=1\n",
    )
    .unwrap();
    fs::write(
        rootfs.join("app/.profile.d/a.sh"),
        "export ORDER=\"${ORDER}a\"\n",
    )
    .unwrap();
    fs::write(rootfs.join("env.sh"), env_sh(&env, |_| None)).unwrap();
    let mut settings = serde_yaml::Mapping::new();
    settings.insert("greeting".into(), "@How's it going?".into());
    fs::write(
        rootfs.join("settings.yaml"),
        settings_yaml(&settings).unwrap(),
    )
    .unwrap();
    let script = rootfs.join("proc.sh");
    fs::write(&script, proc_sh("env -0; cat \"$APP_SETTINGS_YAML\"", PORT)).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let chroot = vr_tests::which("chroot").expect("chroot on PATH");
    let out = Command::new(chroot)
        .arg(&rootfs)
        .args(["/bin/sh", "/proc.sh"])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (environ_text, settings_text) = text.rsplit_once('\0').unwrap();
    let got: BTreeMap<&str, &str> = environ_text
        .split('\0')
        .map(|e| e.split_once('=').unwrap())
        .collect();
    for (key, want) in &env {
        assert_eq!(got.get(key.as_str()).copied(), Some(want.as_str()), "{key}");
    }
    assert_eq!(got["PORT"], "5000");
    assert_eq!(got["ORDER"], "ab");
    assert_eq!(got["HOME"], "/app");
    assert_eq!(got["APP_SETTINGS_YAML"], "/settings.yaml");
    assert_eq!(settings_text, "greeting: \"@How's it going?\"\n");
}
