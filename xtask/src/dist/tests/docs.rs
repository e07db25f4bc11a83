//! The docs and examples the packages ship: the man pages of section 5 made from docs/, read by
//! `man` as lintian reads them; the examples' paths, which must be the packages' own; and the
//! Nomad job, which no test here can run (Nomad is not in Debian), checked against the
//! supervisord program that tests/tests/supervisor.rs runs and the systemd unit it verifies.

use super::*;
use std::collections::BTreeMap;

fn read(rel: &str) -> String {
    fs::read_to_string(util::root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Runs `man` on `page` with `args` the way lintian does; returns (stdout, stderr).
fn man(page: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new("man")
        .args(args)
        .arg("-l")
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .env("MANROFFSEQ", "")
        .env("MANWIDTH", "80")
        .output()
        .expect("man (man-db) is needed to check the man pages");
    assert!(out.status.success(), "{out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn file_pages_are_made_from_the_docs() {
    let exe = std::env::current_exe().unwrap();
    // (tool, page, its docs page, the keys vr-proc reads)
    let cases = [
        (
            "vrun",
            "proc.yaml",
            "docs/proc-yaml.md",
            vr_proc::ProcConfig::keys(),
        ),
        (
            "vimage",
            "image.yaml",
            "docs/image-yaml.md",
            vr_proc::ImageConfig::keys(),
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (name, page, doc, keys) in cases {
        let tool = tool(name);
        assert_eq!(
            tool.file_pages.iter().map(|p| p.doc).collect::<Vec<_>>(),
            [doc]
        );
        assert!(tool.docs.contains(&doc), "{name} ships {doc}");
        let files = payload(tool, &exe, 0).unwrap();
        let man_file = files
            .iter()
            .find(|f| f.deb == format!("usr/share/man/man5/{page}.5.gz"))
            .unwrap();
        let roff = String::from_utf8(man_file.tar_data.clone().unwrap()).unwrap();
        assert!(
            roff.starts_with(&format!(
                ".TH {page} 5 1970-01-01 \"{name} {VERSION}\" vr\n.nh\n.ad l\n.SH NAME\n{page} \\- "
            )),
            "{roff}"
        );
        // Every key vr-proc reads has its entry.
        assert!(keys.len() >= 7, "{page}: {keys:?}");
        for key in &keys {
            assert!(roff.contains(&format!("\\fB{key}\\fR")), "{page}: {key}");
        }
        // It names the markdown page it is made from, where the package puts it.
        let installed = files
            .iter()
            .find(|f| f.tar.as_deref() == Some(&format!("doc/{}", pages::doc_file(doc))))
            .unwrap();
        assert!(roff.contains(&format!("/{} ", installed.deb)), "{roff}");
        // man reads it without a warning (lintian's groff-message), and shows the page's
        // first example as written.
        let path = tmp.path().join(format!("{page}.5"));
        fs::write(&path, &roff).unwrap();
        let (_, warnings) = man(&path, &["--warnings", "-E", "UTF-8", "-Tutf8", "-Z"]);
        assert_eq!(warnings, "", "{page}");
        let (text, _) = man(&path, &["-P", "cat"]);
        let markdown = read(doc);
        let example = markdown.split("```yaml\n").nth(1).unwrap();
        for line in example.lines().take_while(|l| !l.starts_with("```")) {
            assert!(text.contains(line), "{page}: {line:?} not in\n{text}");
        }
        // lexgrog (man-db's whatis parser, which lintian runs) finds the NAME line.
        let out = Command::new("lexgrog").arg(&path).output().unwrap();
        let whatis = String::from_utf8_lossy(&out.stdout);
        let want = format!("\"{page} - {}\"", tool.file_pages[0].whatis);
        assert!(whatis.contains(&want), "{whatis}");
    }
}

#[test]
fn every_man_page_reads_without_warnings() {
    let exe = std::env::current_exe().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for tool in &TOOLS {
        let files = payload(tool, &exe, 0).unwrap();
        for file in files.iter().filter(|f| f.deb.starts_with("usr/share/man/")) {
            let path = tmp.path().join(pages::doc_file(&file.deb));
            fs::write(&path, &file.data).unwrap();
            let (_, warnings) = man(&path, &["--warnings", "-E", "UTF-8", "-Tutf8", "-Z"]);
            assert_eq!(warnings, "", "{}", file.deb);
        }
    }
}

#[test]
fn every_example_is_shipped_with_the_packaged_paths() {
    // Every file of docs/examples/ goes into a package.
    let shipped: Vec<&str> = TOOLS
        .iter()
        .flat_map(|t| t.examples.iter().copied())
        .collect();
    for entry in fs::read_dir(util::root().join("docs/examples")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let rel = format!("docs/examples/{name}");
        assert!(shipped.contains(&rel.as_str()), "{rel} is in no package");
    }
    // They start the tools where the packages put them.
    for example in shipped {
        let text = read(example);
        assert!(!text.contains("/usr/local/"), "{example}");
        let words = text.split(|c: char| c.is_whitespace() || "\"'=,[]".contains(c));
        for path in words.filter_map(|w| w.strip_prefix("/usr/bin/")) {
            assert!(
                TOOLS.iter().any(|t| t.name == path),
                "{example}: /usr/bin/{path} is no file of vr's packages"
            );
        }
    }
}

/// The `key=value` lines of an ini-style file (supervisord, systemd), comments left out.
fn ini(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with([';', '#', '[']))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The tasks of a Nomad job: task name -> its `key = value` settings, nested blocks flattened
/// (`hook`, `command`, `args` joined with spaces, `VR_ROOT`), strings unquoted. Fails on
/// unbalanced braces or quotes.
fn nomad_tasks(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut tasks: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut depth = 0i32;
    let mut task: Option<(String, i32)> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        assert_eq!(line.matches('"').count() % 2, 0, "line {}: {line}", n + 1);
        if let Some(rest) = line.strip_prefix("task \"") {
            let name = rest.split('"').next().unwrap().to_string();
            task = Some((name.clone(), depth));
            tasks.insert(name, BTreeMap::new());
        } else if let (Some((name, _)), Some((key, value))) = (&task, line.split_once(" = ")) {
            let value = value
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|v| v.trim().trim_matches('"'))
                .collect::<Vec<_>>()
                .join(" ");
            let settings = tasks.get_mut(name).unwrap();
            assert!(
                settings.insert(key.trim().to_string(), value).is_none(),
                "line {}: {key} twice in task {name}",
                n + 1
            );
        }
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        assert!(depth >= 0, "line {}: unbalanced }}", n + 1);
        if task.as_ref().is_some_and(|(_, d)| depth <= *d) {
            task = None;
        }
    }
    assert_eq!(depth, 0, "unbalanced braces");
    tasks
}

#[test]
fn the_nomad_job_runs_what_supervisord_and_systemd_run() {
    let program = ini(&read("docs/examples/hello-web.conf"));
    let unit: BTreeMap<String, String> = ini(&read("docs/examples/vrun@.service"))
        .into_iter()
        .map(|(k, v)| (k, v.replace("%i", "hello-web")))
        .collect();
    let tasks = nomad_tasks(&read("docs/examples/hello-web.nomad"));
    assert_eq!(
        tasks.keys().collect::<Vec<_>>(),
        ["run", "setup", "teardown"]
    );
    let argv = |task: &str| format!("{} {}", tasks[task]["command"], tasks[task]["args"]);
    // (task, its lifecycle hook, the systemd line that runs the same command)
    for (task, hook, systemd) in [
        ("setup", Some("prestart"), "ExecStartPre"),
        ("run", None, "ExecStart"),
        ("teardown", Some("poststop"), "ExecStopPost"),
    ] {
        let settings = &tasks[task];
        assert_eq!(settings["driver"], "raw_exec", "{task}");
        assert_eq!(settings.get("hook").map(String::as_str), hook, "{task}");
        assert_eq!(argv(task), unit[systemd], "{task}");
        assert_eq!(
            format!("VR_ROOT={}", settings["VR_ROOT"]),
            unit["Environment"],
            "{task}"
        );
    }
    assert_eq!(argv("run"), program["command"]);
    assert_eq!(program["environment"], "VR_ROOT=\"/apps\"");
    // Stopped like supervisord and systemd stop it: SIGTERM, SIGKILL 30 s later.
    let run = &tasks["run"];
    assert_eq!(run["kill_signal"], format!("SIG{}", program["stopsignal"]));
    assert_eq!(run["kill_timeout"], format!("{}s", program["stopwaitsecs"]));
    assert_eq!(run["kill_timeout"], format!("{}s", unit["TimeoutStopSec"]));
}
