//! `/settings.yaml`: the proc's `settings` as YAML that reads back the same under YAML 1.2
//! (serde_yaml, Go) *and* YAML 1.1 (PyYAML, Ruby's Psych) parsers.
//!
//! serde_yaml's own emitter writes strings such as `yes`, `on`, `1:20` or `2001-01-01` plain,
//! which YAML 1.1 readers turn into booleans, integers and dates. This emitter writes a string
//! plain only when it is a simple word that no YAML version reads as anything else, and in
//! double quotes (with escapes) otherwise.

use std::fmt::Write as _;

use serde_yaml::{Mapping, Value};

use crate::{Error, Result};

/// Renders `settings` as a YAML document (block style; `{}` when empty).
pub fn settings_yaml(settings: &Mapping) -> Result<String> {
    if settings.is_empty() {
        return Ok("{}\n".to_string());
    }
    let mut out = String::new();
    mapping(settings, 0, "settings", &mut out)?;
    Ok(out)
}

fn mapping(map: &Mapping, indent: usize, path: &str, out: &mut String) -> Result<()> {
    for (key, value) in map {
        let Some(key_text) = scalar(key) else {
            return Err(Error::Settings {
                message: format!("{path} has a key that is a list, a map or tagged, which settings.yaml cannot hold"),
            });
        };
        let _ = write!(out, "{:indent$}{key_text}:", "");
        node(value, indent, &format!("{path}.{key_text}"), out)?;
    }
    Ok(())
}

fn sequence(seq: &[Value], indent: usize, path: &str, out: &mut String) -> Result<()> {
    for (i, item) in seq.iter().enumerate() {
        let _ = write!(out, "{:indent$}-", "");
        node(item, indent, &format!("{path}[{i}]"), out)?;
    }
    Ok(())
}

/// Writes a value after `key:` or `-` (already written at `indent`).
fn node(value: &Value, indent: usize, path: &str, out: &mut String) -> Result<()> {
    match value {
        Value::Mapping(map) if !map.is_empty() => {
            out.push('\n');
            mapping(map, indent + 2, path, out)
        }
        Value::Sequence(seq) if !seq.is_empty() => {
            out.push('\n');
            sequence(seq, indent + 2, path, out)
        }
        Value::Tagged(tagged) => {
            let _ = write!(out, " {}", tagged.tag);
            node(&tagged.value, indent, path, out)
        }
        other => {
            let text = scalar(other).unwrap_or_default();
            let _ = writeln!(out, " {text}");
            Ok(())
        }
    }
}

/// A scalar (or empty collection) as YAML text; `None` for a non-empty collection or a tag.
fn scalar(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => string(s),
        Value::Mapping(m) if m.is_empty() => "{}".to_string(),
        Value::Sequence(s) if s.is_empty() => "[]".to_string(),
        _ => return None,
    })
}

/// A number; floats with an exponent get a `.` in the mantissa and a sign in the exponent
/// (`1.0e+300`, not ryu's `1e300`), which YAML 1.1 needs to read them as floats.
fn number(n: &serde_yaml::Number) -> String {
    let text = n.to_string();
    match text.split_once('e') {
        Some((mantissa, exp)) if n.is_f64() => {
            let dot = if mantissa.contains('.') { "" } else { ".0" };
            let sign = if exp.starts_with(['-', '+']) { "" } else { "+" };
            format!("{mantissa}{dot}e{sign}{exp}")
        }
        _ => text,
    }
}

/// Words that YAML 1.1 reads as booleans or null (compared lowercased).
const RESERVED: [&str; 9] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null"];

/// True when `s` can be written plain: a letter, `_` or `/` first, then only letters, digits
/// and `_./-`, and not a YAML 1.1 boolean or null.
fn plain_ok(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok =
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '/');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

/// `s` plain when safe, otherwise as a double-quoted YAML scalar.
fn string(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(yaml: &str) -> Mapping {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn renders_block_yaml() {
        let settings = map(
            "name: web\ngreeting: \"@How's it going?\"\nport: 80\nratio: 0.5\non: true\nnothing: null\nlist: [a, 1, [x], {k: v}]\nnested: {a: {b: c}, empty: {}, none: []}\ntagged: !secret abc\n",
        );
        let want = r#"name: web
greeting: "@How's it going?"
port: 80
ratio: 0.5
"on": true
nothing: null
list:
  - a
  - 1
  -
    - x
  -
    k: v
nested:
  a:
    b: c
  empty: {}
  none: []
tagged: !secret abc
"#;
        let got = settings_yaml(&settings).unwrap();
        assert_eq!(got, want);
        assert_eq!(serde_yaml::from_str::<Mapping>(&got).unwrap(), settings);
        assert_eq!(settings_yaml(&Mapping::new()).unwrap(), "{}\n");
    }

    #[test]
    fn strings() {
        let cases = [
            ("web", "web"),
            ("/var/lib/x", "/var/lib/x"),
            ("a.b-c_d", "a.b-c_d"),
            ("", r#""""#),
            ("yes", r#""yes""#),
            ("Off", r#""Off""#),
            ("NULL", r#""NULL""#),
            ("~", r#""~""#),
            ("1:20", r#""1:20""#),
            ("0777", r#""0777""#),
            ("2001-01-01", r#""2001-01-01""#),
            ("@How's it going?", r#""@How's it going?""#),
            ("a \"q\" \\ b", r#""a \"q\" \\ b""#),
            ("line\nbreak\ttab\r\0", r#""line\nbreak\ttab\r\0""#),
            (
                "bell\u{7}\u{85}\u{2028}\u{feff}",
                r#""bell\x07\x85\L\uFEFF""#,
            ),
            ("ünïcode ✓", r#""ünïcode ✓""#),
        ];
        for (raw, want) in cases {
            assert_eq!(string(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn numbers() {
        let cases = [
            ("1", "1"),
            ("-7", "-7"),
            ("0.5", "0.5"),
            ("1e300", "1.0e+300"),
            ("1.5e-7", "1.5e-7"),
            ("-2e-9", "-2.0e-9"),
            (".inf", ".inf"),
            ("-.inf", "-.inf"),
            (".nan", ".nan"),
        ];
        for (raw, want) in cases {
            let n: serde_yaml::Number = raw.parse().unwrap();
            assert_eq!(number(&n), want, "{raw}");
        }
    }

    #[test]
    fn rejects_collection_keys() {
        let settings = map("a:\n  ? [1, 2]\n  : x\n");
        let err = settings_yaml(&settings).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `settings`: settings.a has a key that is a list, a map or tagged, which settings.yaml cannot hold"
        );
    }
}
