//! Which command a proc runs: `cmd`, else its line of the build's `Procfile`.

use std::path::Path;

use serde_yaml::Value;

use crate::yaml::{self, describe};
use crate::{Error, ProcConfig, Result};

/// The command of `proc_name` in a Procfile (a YAML map `name: command`). `procfile` names the
/// file in errors: a Procfile that is empty, not YAML or not a map, has no line for the proc,
/// or whose line is not a non-empty string is an error.
pub fn procfile_command(procfile_text: &str, procfile: &Path, proc_name: &str) -> Result<String> {
    let doc = yaml::parse_document(procfile, procfile_text)?;
    let Value::Mapping(map) = doc else {
        return Err(Error::NotAMap {
            file: procfile.to_path_buf(),
            got: describe(&doc),
        });
    };
    match map.get(proc_name) {
        None => Err(Error::NotInProcfile {
            procfile: procfile.to_path_buf(),
            proc_name: proc_name.to_string(),
        }),
        Some(Value::String(command)) if !command.trim().is_empty() => Ok(command.clone()),
        Some(Value::String(_) | Value::Null) => Err(yaml::invalid(
            procfile,
            None,
            proc_name.to_string(),
            "expected a command, got an empty line".to_string(),
        )),
        Some(other) => Err(yaml::invalid(
            procfile,
            None,
            proc_name.to_string(),
            format!("expected a command, got {}", describe(other)),
        )),
    }
}

/// The command `cfg` runs: `cmd` when set, else the `proc_name` line of the Procfile whose
/// text is `procfile_text` (`None` when the build has none) and whose path is `procfile`.
pub fn command_for(
    cfg: &ProcConfig,
    procfile_text: Option<&str>,
    procfile: &Path,
) -> Result<String> {
    if let Some(cmd) = cfg.cmd.as_deref().filter(|c| !c.trim().is_empty()) {
        return Ok(cmd.to_string());
    }
    let proc_name = cfg.proc_name()?;
    match procfile_text {
        Some(text) => procfile_command(text, procfile, proc_name),
        None => Err(Error::NoProcfile {
            procfile: procfile.to_path_buf(),
            proc_name: proc_name.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROCFILE: &str =
        "web: python -m http.server $PORT\nworker: ./work --queue 'a b'\nnum: 5\nempty:\n";

    #[test]
    fn lookup() {
        let p = Path::new("/b/app/Procfile");
        let cases: &[(&str, &str, std::result::Result<&str, &str>)] = &[
            (PROCFILE, "web", Ok("python -m http.server $PORT")),
            (PROCFILE, "worker", Ok("./work --queue 'a b'")),
            (PROCFILE, "missing", Err("/b/app/Procfile: no line for proc `missing`")),
            (PROCFILE, "num", Err("/b/app/Procfile: key `num`: expected a command, got a number")),
            (PROCFILE, "empty", Err("/b/app/Procfile: key `empty`: expected a command, got an empty line")),
            ("- web: x\n", "web", Err("/b/app/Procfile: expected a map of keys, got a list")),
            ("just text\n", "web", Err("/b/app/Procfile: expected a map of keys, got a string")),
            ("", "web", Err("/b/app/Procfile: file is empty, expected a map of keys")),
            ("# only a comment\n", "web", Err("/b/app/Procfile: file is empty, expected a map of keys")),
            ("web: [unclosed\n", "web", Err("/b/app/Procfile line 2: invalid YAML: did not find expected ',' or ']', while parsing a flow sequence")),
        ];
        for (text, name, want) in cases {
            let got = procfile_command(text, p, name).map_err(|e| e.to_string());
            assert_eq!(
                got.as_deref().map_err(String::as_str),
                *want,
                "{text:?} {name}"
            );
        }
    }

    #[test]
    fn cmd_wins_over_procfile() {
        let p = Path::new("Procfile");
        let cfg = |yaml: &str| ProcConfig::parse(Path::new("p.yaml"), yaml).unwrap();
        let with_cmd = cfg("cmd: ./run\nproc_name: web\n");
        assert_eq!(command_for(&with_cmd, Some(PROCFILE), p).unwrap(), "./run");
        assert_eq!(command_for(&with_cmd, None, p).unwrap(), "./run");
        let from_procfile = cfg("proc: web\n");
        assert_eq!(
            command_for(&from_procfile, Some(PROCFILE), p).unwrap(),
            "python -m http.server $PORT"
        );
        assert_eq!(
            command_for(&from_procfile, None, p)
                .unwrap_err()
                .to_string(),
            "Procfile: not found, and proc `web` has no `cmd`"
        );
    }
}
