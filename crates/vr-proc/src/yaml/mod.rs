//! Reading a YAML map of known keys into typed fields, with errors that name the key and the
//! line. Each key's value is checked by a serde visitor *while* the parser is on it, so
//! serde_yaml can attach the value's position to the error; the key and the message travel
//! beside the error in [`State`], since serde_yaml offers no accessor for them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

use crate::{Error, Result, Volume};

mod values;

pub(crate) use values::is_shell_name;
use values::{
    EnvVisitor, MemSizeVisitor, OneOfVisitor, PortVisitor, ProcessCountVisitor, TextVisitor,
    VolumesVisitor,
};

/// How a key's value is read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// Any scalar, as the text written in the file (`1.10` stays `1.10`).
    Text,
    /// 1-65535, as a number or a numeric string.
    Port,
    /// Bytes as an integer, or a string like `512M`.
    MemSize,
    /// 1 to [`crate::proc_config::PID_MAX_LIMIT`], as a number or a numeric string.
    ProcessCount,
    /// Map of shell variable names to scalars.
    Env,
    /// Any map.
    Settings,
    /// List of `[host_dir, container_dir]`.
    Volumes,
    /// One of the given words, as a string.
    OneOf(&'static [&'static str]),
}

/// A key of a file: how it is written, the field it fills (differs for aliases), its kind.
pub(crate) type KeySpec = (&'static str, &'static str, Kind);

/// A value read for a key.
#[derive(Debug)]
pub(crate) enum Field {
    Text(String),
    Port(u16),
    Count(u64),
    Env(BTreeMap<String, String>),
    Settings(Mapping),
    Volumes(Vec<Volume>),
}

/// The non-null values of the known keys, by field name.
#[derive(Debug, Default)]
pub(crate) struct Fields(BTreeMap<&'static str, Field>, Vec<String>);

impl Fields {
    /// The keys the file has that are not known (string keys only, in file order).
    pub(crate) fn unknown(&self) -> &[String] {
        &self.1
    }
    pub(crate) fn text(&mut self, name: &str) -> Option<String> {
        match self.0.remove(name) {
            Some(Field::Text(text)) => Some(text),
            _ => None,
        }
    }
    pub(crate) fn port(&mut self, name: &str) -> Option<u16> {
        match self.0.remove(name) {
            Some(Field::Port(port)) => Some(port),
            _ => None,
        }
    }
    pub(crate) fn count(&mut self, name: &str) -> Option<u64> {
        match self.0.remove(name) {
            Some(Field::Count(count)) => Some(count),
            _ => None,
        }
    }
    pub(crate) fn env(&mut self, name: &str) -> BTreeMap<String, String> {
        match self.0.remove(name) {
            Some(Field::Env(env)) => env,
            _ => BTreeMap::new(),
        }
    }
    pub(crate) fn settings(&mut self, name: &str) -> Mapping {
        match self.0.remove(name) {
            Some(Field::Settings(map)) => map,
            _ => Mapping::new(),
        }
    }
    pub(crate) fn volumes(&mut self, name: &str) -> Vec<Volume> {
        match self.0.remove(name) {
            Some(Field::Volumes(volumes)) => volumes,
            _ => Vec::new(),
        }
    }
}

/// Parses `text` (the content of `file`) as a YAML map and reads the keys of `keys`; other keys
/// are ignored.
pub(crate) fn parse_fields(file: &Path, text: &str, keys: &[KeySpec]) -> Result<Fields> {
    let doc = parse_document(file, text)?;
    if !matches!(doc, Value::Mapping(_)) {
        return Err(Error::NotAMap {
            file: file.to_path_buf(),
            got: describe(&doc),
        });
    }
    let state = State::default();
    let top = Top {
        keys,
        state: &state,
    };
    top.deserialize(serde_yaml::Deserializer::from_str(text))
        .map_err(|err| {
            let line = err.location().map(|l| l.line());
            let current = state.current.take();
            match state.problem.take() {
                Some((key, message)) => invalid(file, line, key, message),
                None if current.is_empty() => syntax(file, &err),
                None => invalid(file, line, current, bare_message(&err)),
            }
        })
}

/// Parses `text` as one YAML document; an empty document is [`Error::Empty`].
pub(crate) fn parse_document(file: &Path, text: &str) -> Result<Value> {
    if let Some(line) = crate::too_deep(text, crate::MAX_NESTING) {
        return Err(Error::Syntax {
            file: file.to_path_buf(),
            line: Some(line),
            message: format!(
                "lists or maps nested more than {} levels deep",
                crate::MAX_NESTING
            ),
        });
    }
    let doc: Value = serde_yaml::from_str(text).map_err(|err| syntax(file, &err))?;
    if doc.is_null() {
        return Err(Error::Empty {
            file: file.to_path_buf(),
        });
    }
    Ok(doc)
}

/// What a value is, for messages: `a list`, `a map`, ...
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

pub(crate) fn invalid(file: &Path, line: Option<usize>, key: String, message: String) -> Error {
    Error::InvalidValue {
        file: file.to_path_buf(),
        line,
        key,
        message,
    }
}

fn syntax(file: &Path, err: &serde_yaml::Error) -> Error {
    Error::Syntax {
        file: PathBuf::from(file),
        line: err.location().map(|l| l.line()),
        message: bare_message(err),
    }
}

/// serde_yaml's message without its positions (` at line L column C`, reported in our own
/// words) and its `path: ` prefix (we name the key ourselves).
fn bare_message(err: &serde_yaml::Error) -> String {
    let text = strip_positions(&err.to_string());
    match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => rest.to_string(),
        _ => text,
    }
}

/// After ` at line `: the text following `<digits> column <digits>`, if that is what comes.
fn skip_position(after: &str) -> Option<&str> {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let line = digits(after);
    let col = after[line..].strip_prefix(" column ")?;
    let col_len = digits(col);
    (line > 0 && col_len > 0).then(|| &col[col_len..])
}

/// `text` without every ` at line <digits> column <digits>`.
fn strip_positions(text: &str) -> String {
    const AT: &str = " at line ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(AT) {
        out.push_str(&rest[..i]);
        let after = &rest[i + AT.len()..];
        match skip_position(after) {
            Some(tail) => rest = tail,
            None => {
                out.push_str(AT);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where the key being read and our own message for a failure travel.
#[derive(Default)]
pub(super) struct State {
    /// The key (`port`, `env.FOO`) whose value is being read.
    pub(super) current: RefCell<String>,
    /// Our (key, message) for the failure, when it came from our own check.
    problem: RefCell<Option<(String, String)>>,
}

impl State {
    pub(super) fn fail<E: de::Error>(&self, key: &str, message: String) -> E {
        let err = E::custom(&message);
        *self.problem.borrow_mut() = Some((key.to_string(), message));
        err
    }
}

struct Top<'a> {
    keys: &'a [KeySpec],
    state: &'a State,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Fields;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Fields, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Fields;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of keys")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Value>()? {
            let spec = key
                .as_str()
                .and_then(|name| self.keys.iter().find(|spec| spec.0 == name));
            let Some(&(written, field, kind)) = spec else {
                if let Some(name) = key.as_str() {
                    fields.1.push(name.to_string());
                }
                map.next_value::<de::IgnoredAny>()?;
                continue;
            };
            *self.state.current.borrow_mut() = written.to_string();
            let seed = FieldSeed {
                key: written,
                kind,
                state: self.state,
            };
            if let Some(value) = map.next_value_seed(seed)? {
                // The canonical spelling wins over an alias, whatever their order.
                if written == field || !fields.0.contains_key(field) {
                    fields.0.insert(field, value);
                }
            }
        }
        self.state.current.borrow_mut().clear();
        Ok(fields)
    }
}

/// Reads one key's value; `None` for null.
struct FieldSeed<'a> {
    key: &'static str,
    kind: Kind,
    state: &'a State,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Option<Field>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = Option<Field>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Text => f.write_str("a string"),
            Kind::Port => f.write_str("a port number (1-65535)"),
            Kind::MemSize => f.write_str("a memory size (bytes, or like 512M)"),
            Kind::ProcessCount => values::expecting_process_count(f),
            Kind::Env => f.write_str("a map of variable names to values"),
            Kind::Settings => f.write_str("a map"),
            Kind::Volumes => f.write_str("a list of [host_dir, container_dir]"),
            Kind::OneOf(words) => write!(f, "one of {}", words.join(", ")),
        }
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        let (key, state) = (self.key, self.state);
        let field = match self.kind {
            Kind::Text => Field::Text(d.deserialize_str(TextVisitor { key, state })?),
            Kind::Port => Field::Port(d.deserialize_any(PortVisitor { key, state })?),
            Kind::MemSize => Field::Text(d.deserialize_any(MemSizeVisitor { key, state })?),
            Kind::ProcessCount => {
                Field::Count(d.deserialize_any(ProcessCountVisitor { key, state })?)
            }
            Kind::Env => Field::Env(d.deserialize_map(EnvVisitor { key, state })?),
            Kind::Settings => Field::Settings(Mapping::deserialize(d)?),
            Kind::Volumes => Field::Volumes(d.deserialize_seq(VolumesVisitor { key, state })?),
            Kind::OneOf(words) => {
                Field::Text(d.deserialize_any(OneOfVisitor { key, state, words })?)
            }
        };
        Ok(Some(field))
    }
}

#[cfg(test)]
mod tests {
    use super::strip_positions;

    #[test]
    fn positions_are_stripped() {
        let cases = [
            ("x at line 3 column 1, y at line 2 column 7", "x, y"),
            ("plain", "plain"),
            ("look at line 5 please", "look at line 5 please"),
            ("at line 1 column 2", "at line 1 column 2"),
            ("a at line 1 column 2", "a"),
        ];
        for (raw, want) in cases {
            assert_eq!(strip_positions(raw), want, "{raw:?}");
        }
    }
}
