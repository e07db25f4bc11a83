//! The docs tell the truth: every command in a `sh` block of docs/*.md is run by the demo or a
//! test, the vuptest example prints what the page shows, every proc.yaml and image.yaml key and
//! every command-line option is documented, the supervisor files shown are the real ones,
//! links resolve, and every test a page names (`crates/x/src/y.rs::test_name`) is there. None
//! of this needs root.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The commands of docs/vuptest.md, run by [`vuptest_example_prints_what_the_page_shows`].
const VUPTEST_EXAMPLES: [&str; 2] = [
    "vuptest uptests/web 127.0.0.1 5000",
    "vuptest --fail --timeout 5 uptests/web 127.0.0.1 5000",
];

/// Commands the docs show that no test can run here, and why. The docs say so beside them.
const UNTESTED: &[(&str, &str)] = &[
    (
        "systemctl enable --now vrun@hello-web",
        "PID 1 of the test machine is not systemd",
    ),
    (
        "systemctl stop vrun@hello-web",
        "PID 1 of the test machine is not systemd",
    ),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(rel: &str) -> String {
    fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// (file name, text) of every docs/*.md.
fn pages() -> Vec<(String, String)> {
    let mut pages: Vec<(String, String)> = fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect();
    pages.sort();
    assert!(pages.len() >= 9, "{pages:?}");
    pages
}

/// The bodies of the fenced blocks of `text` whose info string is `lang`.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) if info.trim() == lang => current = Some(String::new()),
            (None, Some(_)) => current = Some(String::from("\u{0}skip")),
            (Some(body), Some(_)) => {
                if !body.starts_with('\u{0}') {
                    out.push(body.clone());
                }
                current = None;
            }
            (Some(body), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "unclosed code block");
    out
}

#[test]
fn every_command_in_the_docs_is_run() {
    // A command counts as run when the demo ran it (its record, written under `cargo xtask
    // test`), or it is a string literal of the demo (a plain `cargo test`, no record) or of a
    // test that runs it.
    let demo = match std::env::var_os("VR_DEMO_RECORD") {
        Some(path) => fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the demo's record {path:?}: {e}"))
            .lines()
            .map(|l| format!("\"{l}\"\n"))
            .collect(),
        None => read("xtask/src/demo.rs"),
    };
    let sources = [demo, read("tests/tests/supervisor.rs")];
    let mut unknown = Vec::new();
    let mut untested_seen = Vec::new();
    for (page, text) in pages() {
        for block in blocks(&text, "sh") {
            for line in block.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let literal = format!("\"{line}\"");
                if sources.iter().any(|s| s.contains(&literal)) || VUPTEST_EXAMPLES.contains(&line)
                {
                    continue;
                }
                match UNTESTED.iter().find(|(cmd, _)| *cmd == line) {
                    Some((cmd, why)) => {
                        assert_eq!(page, "supervisors.md", "{cmd}");
                        eprintln!("docs: NOT RUN by any test: `{cmd}` ({why})");
                        untested_seen.push(*cmd);
                    }
                    None => unknown.push(format!("{page}: {line}")),
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "commands in the docs that neither the demo nor a test runs:\n{}",
        unknown.join("\n")
    );
    for (cmd, _) in UNTESTED {
        assert!(untested_seen.contains(cmd), "stale UNTESTED entry {cmd:?}");
    }
}

/// The text of the ```text block right after the line `` `name` `` in `page`.
fn shown_file(page: &str, name: &str) -> String {
    let marker = format!("`{name}`\n```text\n");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} not shown"))
        + marker.len();
    let len = page[start..].find("```").unwrap();
    page[start..start + len].to_string()
}

/// `json` with every DurationMs set to 0.
fn without_durations(mut json: serde_json::Value) -> serde_json::Value {
    for r in json.as_array_mut().unwrap() {
        r["DurationMs"] = 0.into();
    }
    json
}

#[test]
fn vuptest_example_prints_what_the_page_shows() {
    use std::os::unix::fs::PermissionsExt;
    let page = read("docs/vuptest.md");
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("uptests/web");
    fs::create_dir_all(&folder).unwrap();
    for name in ["01_up", "02_down"] {
        let path = folder.join(name);
        fs::write(&path, shown_file(&page, &format!("uptests/web/{name}"))).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::write(folder.join(".hidden"), "not an uptest\n").unwrap();
    let want: serde_json::Value = serde_json::from_str(&blocks(&page, "json")[0]).unwrap();
    let bins = vr_tests::bin("vuptest").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (line, status) in VUPTEST_EXAMPLES.iter().zip([0, 1]) {
        assert!(
            blocks(&page, "sh").iter().any(|b| b.contains(line)),
            "{line}"
        );
        let out = Command::new("sh")
            .args(["-c", line])
            .current_dir(tmp.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(status), "{line}");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
        let got: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(
            without_durations(got),
            without_durations(want.clone()),
            "{line}"
        );
    }
}

#[test]
fn every_key_is_documented() {
    for (keys, page, example) in [
        (
            vr_proc::ProcConfig::keys(),
            "docs/proc-yaml.md",
            "examples/proc.yaml",
        ),
        (
            vr_proc::ImageConfig::keys(),
            "docs/image-yaml.md",
            "examples/image/image.yaml",
        ),
    ] {
        assert!(keys.len() >= 7, "{keys:?}");
        let doc = read(page);
        for key in &keys {
            assert!(doc.contains(&format!("`{key}`")), "{page} lacks `{key}`");
        }
        // The example uses only keys the code knows.
        for line in read(example).lines() {
            let Some((key, _)) = line.split_once(':') else {
                continue;
            };
            if !key.starts_with([' ', '#']) && !key.is_empty() {
                assert!(keys.contains(&key), "{example}: unknown key {key}");
            }
        }
    }
}

/// Lines of `--help` output naming a subcommand (two-space indent) or a long option.
fn help_items(tool: &str) -> Vec<String> {
    let out = Command::new(vr_tests::bin(tool))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let mut items = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line == "Commands:" {
            in_commands = true;
            continue;
        }
        if in_commands {
            match line
                .strip_prefix("  ")
                .and_then(|l| l.split_whitespace().next())
            {
                Some(cmd) if cmd != "help" => items.push(cmd.to_string()),
                Some(_) => {}
                None => in_commands = false,
            }
        }
        let opt = line.trim_start();
        if let Some(rest) = opt.strip_prefix("--") {
            let name = rest.split([' ', '=']).next().unwrap();
            if !["help", "version"].contains(&name) {
                items.push(format!("--{name}"));
            }
        }
    }
    items
}

#[test]
fn every_command_and_option_is_documented() {
    let cases = [
        ("vrun", "docs/vrun.md", 7),
        ("vimage", "docs/vimage.md", 2),
        ("vuptest", "docs/vuptest.md", 6),
    ];
    for (tool, page, count) in cases {
        let items = help_items(tool);
        assert_eq!(items.len(), count, "{tool}: {items:?}");
        let doc = read(page);
        for item in items {
            let shown = if item.starts_with("--") {
                format!("`{item}")
            } else {
                format!("{tool} {item}")
            };
            assert!(doc.contains(&shown), "{page} lacks {shown:?}");
        }
    }
}

/// The lines of a config file that are not comments or blank.
fn config_lines(text: &str, comment: char) -> Vec<&str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with(comment))
        .collect()
}

#[test]
fn the_supervisor_files_shown_are_the_real_ones() {
    let page = read("docs/supervisors.md");
    let shown = blocks(&page, "ini");
    assert_eq!(shown.len(), 2);
    for (i, (file, comment)) in [
        ("docs/examples/hello-web.conf", ';'),
        ("docs/examples/vrun@.service", '#'),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            config_lines(&shown[i], *comment),
            config_lines(&read(file), *comment),
            "docs/supervisors.md shows another {file}"
        );
    }
}

#[test]
fn links_resolve() {
    for (page, text) in pages() {
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap()];
            if target.starts_with("http") {
                continue;
            }
            let path = target.split('#').next().unwrap();
            if path.is_empty() {
                continue;
            }
            assert!(
                repo().join("docs").join(path).exists(),
                "{page}: broken link {target}"
            );
        }
    }
}

/// The tests a page names as `path.rs::name` (security.md backs each line with some).
fn named_tests(text: &str) -> Vec<(String, String)> {
    let path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (i, _) in text.match_indices(".rs::") {
        let start = text[..i]
            .rfind(|c: char| !path_char(c))
            .map_or(0, |j| j + 1);
        let rest = &text[i + 5..];
        let name = &rest[..rest.find(|c: char| !name_char(c)).unwrap_or(rest.len())];
        out.push((format!("{}.rs", &text[start..i]), name.to_string()));
    }
    out
}

#[test]
fn every_test_the_docs_name_exists() {
    let mut seen = 0;
    for (page, text) in pages() {
        for (file, name) in named_tests(&text) {
            let source = fs::read_to_string(repo().join(&file))
                .unwrap_or_else(|e| panic!("{page}: names {file}::{name}, but {file}: {e}"));
            let defined = source
                .match_indices(&format!("fn {name}("))
                .any(|(at, _)| source[..at].trim_end().ends_with("#[test]"));
            assert!(
                defined,
                "{page}: names {file}::{name}, which is no test there"
            );
            seen += 1;
        }
    }
    // security.md alone names dozens; a parser that finds none is broken.
    assert!(seen > 50, "only {seen} tests named");
}
