//! settings.yaml round trips: YAML-special strings, as values, keys and list items, read back
//! the same by serde_yaml (YAML 1.2) and by PyYAML (YAML 1.1, what Python apps use).

use std::fs;
use std::process::Command;

use crate::settings_yaml;

/// Strings that YAML parsers like to read as something else.
const YAML_SPECIAL: &[&str] = &[
    "@How's it going?",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Y",
    "N",
    "YES",
    "True",
    "false",
    "~",
    "null",
    "Null",
    "",
    " ",
    " lead",
    "trail ",
    "1:20",
    "12:30:00",
    "0777",
    "0o17",
    "0x1F",
    "1e3",
    "1_000",
    "+1",
    "-1",
    ".5",
    "1.",
    "2001-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "- dash",
    "key: value",
    "#comment",
    "a #b",
    "[x]",
    "{y}",
    "*alias",
    "&anchor",
    "!tag",
    "!!str",
    "%directive",
    "|",
    ">",
    "'quoted'",
    "\"dq\"",
    "multi\nline\n",
    "tab\there",
    "\r\n",
    "ünïcödé ✓",
    ".inf",
    "-.Inf",
    ".nan",
    "NaN",
    "=",
    "<<",
    "`",
    "?",
    ",",
    ":",
    "---",
    "...",
    "a: b: c",
    "back\\slash",
    "\u{85}nel",
    "\u{2028}",
    "\u{feff}bom",
    "ctrl\u{1}\u{7f}",
];

fn special_settings() -> serde_yaml::Mapping {
    let mut map = serde_yaml::Mapping::new();
    for (i, s) in YAML_SPECIAL.iter().enumerate() {
        map.insert(format!("k{i:02}").into(), (*s).into());
        // The same strings as keys.
        map.insert((*s).into(), i.into());
    }
    let list: Vec<serde_yaml::Value> = YAML_SPECIAL.iter().map(|s| (*s).into()).collect();
    map.insert("list".into(), list.into());
    let nested: serde_yaml::Value =
        serde_yaml::from_str("{a: {b: [1, 2.5, 1e300, true, null, {}, []]}, empty: ''}").unwrap();
    map.insert("nested".into(), nested);
    map
}

#[test]
fn settings_round_trip_through_serde_yaml() {
    let settings = special_settings();
    let text = settings_yaml(&settings).unwrap();
    let back: serde_yaml::Mapping = serde_yaml::from_str(&text).unwrap();
    assert_eq!(back, settings, "{text}");
}

/// Python apps read settings.yaml with PyYAML, a YAML 1.1 parser.
#[test]
fn settings_round_trip_through_pyyaml() {
    let has_pyyaml = Command::new("python3")
        .args(["-c", "import yaml"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_pyyaml {
        let why = "vr-proc settings_round_trip_through_pyyaml needs python3 with PyYAML (apt-get install python3-yaml)";
        assert!(
            std::env::var("VR_REQUIRE_E2E").as_deref() != Ok("1"),
            "{why}"
        );
        eprintln!("\n========== SKIP: {why} ==========\n");
        return;
    }
    let settings = special_settings();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.yaml");
    fs::write(&file, settings_yaml(&settings).unwrap()).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = serde_json::to_value(&settings).unwrap();
    assert_eq!(got, want);
}
