//! The shell scripts a proc's container starts from: `/env.sh` (the proc's environment) and
//! `/proc.sh` (the startup sequence). Both are POSIX sh: busybox images have no bash.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::yaml::is_shell_name;

/// Where the startup files live inside the container.
pub const APP_DIR: &str = "/app";
/// The rendered environment, sourced by `/proc.sh`.
pub const ENV_SH: &str = "/env.sh";
/// The startup script.
pub const PROC_SH: &str = "/proc.sh";
/// The proc's `settings`, as YAML; `APP_SETTINGS_YAML` points here.
pub const SETTINGS_YAML: &str = "/settings.yaml";

/// `s` as one single-quoted shell word: every byte is data (`'` becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The value a proc sees for an `env` entry: `$NAME` (a `$` followed by a valid variable name
/// and nothing else) is replaced by the host's `NAME`, or the empty string when it is unset;
/// every other value is taken literally (so `$(id)` stays `$(id)`).
pub fn env_value(value: &str, host_env: impl Fn(&str) -> Option<String>) -> String {
    match value.strip_prefix('$') {
        Some(name) if is_shell_name(name) => host_env(name).unwrap_or_default(),
        _ => value.to_string(),
    }
}

/// `/env.sh`: one `export KEY='value'` line per entry, in key order, values substituted by
/// [`env_value`] (pass `|name| std::env::var(name).ok()` for the host environment) and quoted
/// so that quotes, `$(...)`, backticks, backslashes and newlines arrive as data.
///
/// Keys are valid shell names (the parsers reject others); an invalid key handed in directly is
/// written as a comment rather than as code.
pub fn env_sh(env: &BTreeMap<String, String>, host_env: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    for (key, value) in env {
        if !is_shell_name(key) {
            let _ = writeln!(out, "# skipped: {key:?} is not a variable name");
            continue;
        }
        let value = env_value(value, &host_env);
        let _ = writeln!(out, "export {key}={}", shell_quote(&value));
    }
    out
}

/// `/proc.sh`: `cd /app`, `TMPDIR=/tmp`, `HOME=/app`, a `PATH` default, each file of
/// `/app/.profile.d/` sourced in name order, then `/env.sh`, `APP_SETTINGS_YAML=/settings.yaml`
/// and `PORT=<port>` last so nothing overrides it; then `exec /bin/sh -c '<command>'`.
///
/// `command` is shell code (a Procfile line, or `cmd`). It runs through `sh -c` rather than
/// after a bare `exec` so that lines like `cd web && ./run` or `FOO=1 ./run` work; `sh -c`
/// replaces itself with the last simple command, so the app still gets the signals.
pub fn proc_sh(command: &str, port: u16) -> String {
    proc_sh_in("", command, port)
}

/// [`proc_sh`] with every container path (`/app`, `/env.sh`, `/settings.yaml`) under `root`:
/// tests run the production script text outside a container with this. `root` must be empty
/// or an absolute path of characters that need no quoting.
pub(crate) fn proc_sh_in(root: &str, command: &str, port: u16) -> String {
    debug_assert!(root
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b)));
    format!(
        r#"#!/bin/sh
# Starts the proc: written by vrun, run inside the container.
cd {root}{APP_DIR} || exit 1
export TMPDIR=/tmp
export HOME={root}{APP_DIR}
export PATH="${{PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}}"
for f in {root}{APP_DIR}/.profile.d/*; do
  if [ -f "$f" ]; then . "$f"; fi
done
. {root}{ENV_SH}
export APP_SETTINGS_YAML={root}{SETTINGS_YAML}
export PORT={port}
exec /bin/sh -c {command}
"#,
        command = shell_quote(command),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let cases = [
            ("", "''"),
            ("plain", "'plain'"),
            ("it's", r"'it'\''s'"),
            ("''", r"''\'''\'''"),
            ("$(id) `id` \\ \"", "'$(id) `id` \\ \"'"),
            ("a\nb", "'a\nb'"),
        ];
        for (raw, want) in cases {
            assert_eq!(shell_quote(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn env_values() {
        let host = |name: &str| (name == "HOSTVAR").then(|| "from host".to_string());
        let cases = [
            ("$HOSTVAR", "from host"),
            ("$UNSET_VAR", ""),
            ("$(id)", "$(id)"),
            ("${HOSTVAR}", "${HOSTVAR}"),
            ("$HOSTVAR/x", "$HOSTVAR/x"),
            ("$", "$"),
            ("a$HOSTVAR", "a$HOSTVAR"),
            ("plain", "plain"),
        ];
        for (raw, want) in cases {
            assert_eq!(env_value(raw, host), want, "{raw:?}");
        }
    }

    #[test]
    fn env_sh_text() {
        let env: BTreeMap<String, String> =
            [("B", "it's"), ("A", "$HOME"), ("C", ""), ("bad-key", "x")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let got = env_sh(&env, |n| (n == "HOME").then(|| "/root".to_string()));
        assert_eq!(
            got,
            "export A='/root'\nexport B='it'\\''s'\nexport C=''\n# skipped: \"bad-key\" is not a variable name\n"
        );
        assert_eq!(env_sh(&BTreeMap::new(), |_| None), "");
    }

    #[test]
    fn proc_sh_text() {
        let want = r#"#!/bin/sh
# Starts the proc: written by vrun, run inside the container.
cd /app || exit 1
export TMPDIR=/tmp
export HOME=/app
export PATH="${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"
for f in /app/.profile.d/*; do
  if [ -f "$f" ]; then . "$f"; fi
done
. /env.sh
export APP_SETTINGS_YAML=/settings.yaml
export PORT=5000
exec /bin/sh -c 'python -m http.server $PORT --bind '\''0.0.0.0'\'''
"#;
        assert_eq!(
            proc_sh("python -m http.server $PORT --bind '0.0.0.0'", 5000),
            want
        );
    }
}
