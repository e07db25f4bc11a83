//! The visitors that read and check one kind of value each (text, port, memory size, process
//! count, env, volumes, one of a list of words). They fail through [`State::fail`] so the key and message travel with the error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::State;
use crate::proc_config::PID_MAX_LIMIT;
use crate::Volume;

/// A scalar as written (numbers and booleans keep their spelling); no NUL bytes.
pub(super) struct TextVisitor<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl<'de> Visitor<'de> for TextVisitor<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<String, E> {
        if v.contains('\0') {
            return Err(self
                .state
                .fail(self.key, format!("{v:?} contains a NUL byte")));
        }
        Ok(v.to_string())
    }
}

pub(super) struct PortVisitor<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl PortVisitor<'_> {
    fn bad<E: de::Error>(&self, got: String) -> E {
        self.state.fail(
            self.key,
            format!("expected a port number (1-65535), got {got}"),
        )
    }
}

impl<'de> Visitor<'de> for PortVisitor<'_> {
    type Value = u16;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a port number (1-65535)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<u16, E> {
        match u16::try_from(v) {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(self.bad(v.to_string())),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<u16, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<u16, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<u16, E> {
        match v.parse::<u16>() {
            Ok(port) if port > 0 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
            _ => Err(self.bad(format!("{v:?}"))),
        }
    }
}

pub(super) struct MemSizeVisitor<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl MemSizeVisitor<'_> {
    fn bad<E: de::Error>(&self, got: String) -> E {
        self.state.fail(
            self.key,
            format!(
                "expected a memory size (bytes, or a number with K, M or G like 512M), got {got}"
            ),
        )
    }
}

/// True for `123`, `512M`, `1g`, `100k`: see [`crate::mem_size_bytes`].
fn is_mem_size(text: &str) -> bool {
    crate::mem_size_bytes(text).is_some()
}

impl<'de> Visitor<'de> for MemSizeVisitor<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a memory size (bytes, or like 512M)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<String, E> {
        if v == 0 {
            return Err(self.bad("0".to_string()));
        }
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<String, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<String, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<String, E> {
        if is_mem_size(v) {
            Ok(v.to_string())
        } else {
            Err(self.bad(format!("{v:?}")))
        }
    }
}

/// One word of a fixed list (`new_image_format: gz | zst`), exactly as listed.
pub(super) struct OneOfVisitor<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
    pub(super) words: &'static [&'static str],
}

impl OneOfVisitor<'_> {
    fn bad<E: de::Error>(&self, got: String) -> E {
        self.state.fail(
            self.key,
            format!("expected one of {}, got {got}", self.words.join(", ")),
        )
    }
}

impl<'de> Visitor<'de> for OneOfVisitor<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {}", self.words.join(", "))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<String, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<String, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<String, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<String, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<String, E> {
        if self.words.contains(&v) {
            Ok(v.to_string())
        } else {
            Err(self.bad(format!("{v:?}")))
        }
    }
}

/// `a process count (1 to 4194304)`: what a [`ProcessCountVisitor`] expects.
pub(super) fn expecting_process_count(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "a process count (1 to {PID_MAX_LIMIT})")
}

/// A pids cgroup limit: 1 to [`PID_MAX_LIMIT`], as a YAML integer or a string of ASCII digits.
pub(super) struct ProcessCountVisitor<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl ProcessCountVisitor<'_> {
    fn bad<E: de::Error>(&self, got: String) -> E {
        self.state.fail(
            self.key,
            format!("expected a process count (1 to {PID_MAX_LIMIT}), got {got}"),
        )
    }
}

impl<'de> Visitor<'de> for ProcessCountVisitor<'_> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        expecting_process_count(f)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<u64, E> {
        if (1..=PID_MAX_LIMIT).contains(&v) {
            Ok(v)
        } else {
            Err(self.bad(v.to_string()))
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<u64, E> {
        match u64::try_from(v) {
            Ok(count) => self.visit_u64(count),
            Err(_) => Err(self.bad(v.to_string())),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<u64, E> {
        Err(self.bad(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<u64, E> {
        match v.parse::<u64>() {
            Ok(count)
                if (1..=PID_MAX_LIMIT).contains(&count)
                    && v.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(count)
            }
            _ => Err(self.bad(format!("{v:?}"))),
        }
    }
}

/// True for a POSIX shell variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_shell_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(super) struct EnvVisitor<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl<'de> Visitor<'de> for EnvVisitor<'_> {
    type Value = BTreeMap<String, String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of variable names to values")
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut env = BTreeMap::new();
        while let Some(name) = map.next_key_seed(EnvKeySeed {
            key: self.key,
            state: self.state,
        })? {
            let key = format!("{}.{name}", self.key);
            *self.state.current.borrow_mut() = key.clone();
            let value = map.next_value_seed(EnvValueSeed {
                key: &key,
                state: self.state,
            })?;
            env.insert(name, value);
        }
        Ok(env)
    }
}

/// An env key: a scalar that is a valid shell variable name, checked while the parser is on it
/// (so the error has its line).
struct EnvKeySeed<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl<'de> DeserializeSeed<'de> for EnvKeySeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for EnvKeySeed<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a variable name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<String, E> {
        if is_shell_name(v) {
            Ok(v.to_string())
        } else {
            Err(self.state.fail(
                self.key,
                format!("{v:?} is not a valid variable name (letters, digits and _, not starting with a digit)"),
            ))
        }
    }
}

/// An env value: any scalar as written, null as the empty string.
struct EnvValueSeed<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl<'de> DeserializeSeed<'de> for EnvValueSeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<String, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for EnvValueSeed<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<String, E> {
        Ok(String::new())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<String, E> {
        Ok(String::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<String, D::Error> {
        d.deserialize_str(TextVisitor {
            key: self.key,
            state: self.state,
        })
    }
}

pub(super) struct VolumesVisitor<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl<'de> Visitor<'de> for VolumesVisitor<'_> {
    type Value = Vec<Volume>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of [host_dir, container_dir]")
    }
    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut volumes = Vec::new();
        while let Some(volume) = seq.next_element_seed(VolumeSeed {
            key: self.key,
            state: self.state,
        })? {
            volumes.push(volume);
        }
        Ok(volumes)
    }
}

struct VolumeSeed<'a> {
    pub(super) key: &'a str,
    pub(super) state: &'a State,
}

impl<'de> DeserializeSeed<'de> for VolumeSeed<'_> {
    type Value = Volume;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Volume, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for VolumeSeed<'_> {
    type Value = Volume;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [host_dir, container_dir] pair")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Volume, A::Error> {
        let text = || TextVisitor {
            key: self.key,
            state: self.state,
        };
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(TextSeed(text()))? {
            items.push(item);
        }
        let [host, container] = <[String; 2]>::try_from(items).map_err(|items| {
            self.state.fail::<A::Error>(
                self.key,
                format!(
                    "expected a [host_dir, container_dir] pair, got {} items",
                    items.len()
                ),
            )
        })?;
        for (what, path) in [("host_dir", &host), ("container_dir", &container)] {
            if let Some(problem) = volume_path_problem(path) {
                return Err(self
                    .state
                    .fail(self.key, format!("{what} {path:?} {problem}")));
            }
        }
        Ok(Volume {
            host: PathBuf::from(host),
            container: PathBuf::from(container),
        })
    }
}

/// What is wrong with a volume path, if anything: it must be absolute, free of `..` and of
/// control characters (it ends up in the LXC config, one entry per line).
fn volume_path_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        Some("is not an absolute path")
    } else if path.split('/').any(|part| part == "..") {
        Some("must not contain `..`")
    } else if path.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else {
        None
    }
}

struct TextSeed<'a>(TextVisitor<'a>);

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<String, D::Error> {
        d.deserialize_str(self.0)
    }
}
