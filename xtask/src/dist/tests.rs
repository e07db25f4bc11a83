use super::*;
use clap_complete::Shell;

fn tool(name: &str) -> &'static Tool {
    TOOLS.iter().find(|t| t.name == name).unwrap()
}

#[test]
fn every_tool_is_packaged_with_its_own_cli() {
    // (Each crate's own tests run clap's debug_assert on its command.)
    for tool in &TOOLS {
        assert_eq!((tool.command)().get_name(), tool.name);
    }
}

/// The man pages (section 1) a tool should have: its own, and one per visible subcommand.
fn expected_pages(tool: &Tool) -> Vec<String> {
    let mut want = vec![format!("{}.1", tool.name)];
    for sub in (tool.command)().get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            want.push(format!("{}-{}.1", tool.name, sub.get_name()));
        }
    }
    want
}

#[test]
fn man_pages_cover_every_subcommand() {
    // Spot checks that expected_pages reads clap right.
    assert_eq!(
        expected_pages(tool("vimage")),
        ["vimage.1", "vimage-build.1", "vimage-shell.1"]
    );
    assert_eq!(expected_pages(tool("vuptest")), ["vuptest.1"]);
    assert!(expected_pages(tool("vrun")).contains(&"vrun-teardown.1".to_string()));
    for tool in &TOOLS {
        let name = tool.name;
        let want = expected_pages(tool);
        let pages = pages::man_pages(tool, "2026-01-02").unwrap();
        // NAME is the package's synopsis.
        assert!(
            pages[0].roff.contains(&format!(
                ".SH NAME\n{name} \\- {}\n",
                tool.synopsis.replace('-', "\\-").replace('\'', "\\*(Aq")
            )),
            "{}",
            pages[0].roff
        );
        // Every exit status of vr-stop's table for this tool, once, in the main page.
        for row in vr_stop::rows(tool.exit) {
            let first_words: String = row.meaning.replace('`', "").chars().take(30).collect();
            assert!(
                pages[0]
                    .roff
                    .replace("\\-", "-")
                    .replace("\\*(Aq", "'")
                    .contains(&first_words),
                "{name}: exit status {} missing: {first_words:?} in {}",
                row.status,
                pages[0]
                    .roff
                    .split("EXIT STATUS")
                    .nth(1)
                    .unwrap_or_default()
            );
        }
        // SEE ALSO names the file pages.
        for page in tool.file_pages {
            assert!(
                pages[0].roff.contains(&format!("{}(5)", page.name)),
                "{name}: {}",
                page.name
            );
        }
        let files: Vec<&str> = pages.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(files, want, "{name}");
        let main = &pages[0].roff;
        assert!(
            main.starts_with(&clap_mangen::roff::Roff::new().render()),
            "{main}"
        );
        assert_eq!(
            main.matches(".ie \\n(.g .ds Aq").count(),
            1,
            "one preamble: {main}"
        );
        assert!(
            main.contains(&format!(".TH {name} 1 2026-01-02 \"{name} {VERSION}\" vr")),
            "{main}"
        );
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "\"EXIT STATUS\"",
            "\"SEE ALSO\"",
            "VERSION",
        ] {
            assert!(
                main.contains(&format!(".SH {section}")),
                "{name}: {section}"
            );
        }
        for (title, _) in tool.sections {
            assert!(
                main.contains(&format!(".SH \"{title}\""))
                    || main.contains(&format!(".SH {title}")),
                "{name}: {title}"
            );
        }
        for sub in (tool.command)().get_subcommands() {
            let sub = sub.get_name();
            assert!(
                main.contains(&format!("{name}\\-{sub}(1)")),
                "{name} page does not mention {sub}:\n{main}"
            );
            let page = pages
                .iter()
                .find(|p| p.file == format!("{name}-{sub}.1"))
                .unwrap();
            assert!(
                page.roff.contains(&format!(
                    ".TH {name}-{sub} 1 2026-01-02 \"{name} {VERSION}\" vr"
                )),
                "{}",
                page.roff
            );
        }
    }
    let vuptest = &pages::man_pages(tool("vuptest"), "").unwrap()[0].roff;
    for flag in ["timeout", "fail", "retry\\-for", "interval", "max\\-output"] {
        assert!(
            vuptest.contains(&format!("\\-\\-{flag}")),
            "{flag}: {vuptest}"
        );
    }
}

#[test]
fn completions_for_three_shells() {
    for tool in &TOOLS {
        let scripts = pages::completions(tool);
        let text = |shell: Shell| {
            let (_, s) = scripts.iter().find(|(sh, _)| *sh == shell).unwrap();
            String::from_utf8(s.clone()).unwrap()
        };
        let name = tool.name;
        assert!(
            text(Shell::Bash).contains(&format!("complete -F _{name}")),
            "{name}"
        );
        assert!(
            text(Shell::Zsh).starts_with(&format!("#compdef {name}")),
            "{name}"
        );
        assert!(
            text(Shell::Fish).contains(&format!("complete -c {name}")),
            "{name}"
        );
        for sub in (tool.command)().get_subcommands() {
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                assert!(text(shell).contains(sub.get_name()), "{name} {shell}");
            }
        }
    }
}

#[test]
fn own_depends() {
    // (tool, its own Depends, static)
    let cases = [
        ("vimage", vec!["lxc".to_string()], false),
        (
            "vrun",
            vec!["lxc".into(), format!("vuptest (= {VERSION})")],
            false,
        ),
        ("vuptest", vec![], true),
    ];
    for (name, want, is_static) in cases {
        let tool = tool(name);
        let got: Vec<String> = tool
            .depends
            .iter()
            .map(|d| d.replace("@VERSION@", VERSION))
            .collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(tool.is_static, is_static, "{name}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let got = depends(tool("vuptest"), Path::new("/nonexistent"), tmp.path()).unwrap();
    assert!(got.is_empty(), "a static tool needs no libraries: {got:?}");
}

#[test]
fn dates() {
    let cases = [
        (0, "1970-01-01"),
        (951_782_400, "2000-02-29"),
        (1_795_364_625, "2026-11-22"),
        (4_102_444_799, "2099-12-31"),
    ];
    for (epoch, want) in cases {
        assert_eq!(pages::date(epoch), want, "{epoch}");
    }
}

#[test]
fn payload_paths() {
    let exe = std::env::current_exe().unwrap();
    let files = payload(tool("vrun"), &exe, 0).unwrap();
    let paths: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|f| (f.deb.as_str(), f.tar.as_deref()))
        .collect();
    let mut want: Vec<(String, Option<String>)> =
        vec![("usr/bin/vrun".into(), Some("bin/vrun".into()))];
    for page in expected_pages(tool("vrun")) {
        want.push((
            format!("usr/share/man/man1/{page}.gz"),
            Some(format!("man/man1/{page}")),
        ));
    }
    let both = |deb: &str, tar: &str| (deb.to_string(), Some(tar.to_string()));
    want.extend([
        both("usr/share/man/man5/proc.yaml.5.gz", "man/man5/proc.yaml.5"),
        both(
            "usr/share/bash-completion/completions/vrun",
            "completions/vrun.bash",
        ),
        both(
            "usr/share/zsh/vendor-completions/_vrun",
            "completions/_vrun",
        ),
        both(
            "usr/share/fish/vendor_completions.d/vrun.fish",
            "completions/vrun.fish",
        ),
    ]);
    // Docs pages over 4 KiB are gzipped in the .deb (as dh_compress does).
    for page in [
        "vrun.md",
        "doctor.md",
        "proc-yaml.md",
        "uptests.md",
        "supervisors.md",
        "lxc.md",
        "security.md",
        "exit-status.md",
    ] {
        let len = fs::metadata(util::root().join("docs").join(page))
            .unwrap()
            .len();
        let gz = if len > 4096 { ".gz" } else { "" };
        want.push(both(
            &format!("usr/share/doc/vrun/{page}{gz}"),
            &format!("doc/{page}"),
        ));
    }
    for example in [
        "hello-web.conf",
        "vrun@.service",
        "hello-web.nomad",
        "proc.yaml",
    ] {
        want.push(both(
            &format!("usr/share/doc/vrun/examples/{example}"),
            &format!("examples/{example}"),
        ));
    }
    want.extend([
        ("usr/share/doc/vrun/changelog.gz".to_string(), None),
        both("usr/share/doc/vrun/copyright", "LICENSE"),
        ("usr/share/lintian/overrides/vrun".to_string(), None),
        both("usr/share/doc/vrun/vr.seccomp", "vr.seccomp"),
    ]);
    let want: Vec<(&str, Option<&str>)> = want
        .iter()
        .map(|(d, t)| (d.as_str(), t.as_deref()))
        .collect();
    assert_eq!(paths, want);
    assert_eq!(files[0].mode, 0o755);
    assert!(files[1..].iter().all(|f| f.mode == 0o644));
    // The profile is the one vr-lxc compiles in, byte for byte.
    let profile = files.last().unwrap();
    assert_eq!(
        profile.data,
        fs::read(util::root().join(SECCOMP_SOURCE)).unwrap()
    );
    assert!(profile.data.starts_with(b"2\ndenylist\n[all]\n"));
    assert!(profile.tar_data.is_none());
    // Every gzipped file of the .deb is the tarball's, gzipped with -9n.
    for file in files.iter().filter(|f| f.deb.ends_with(".gz")) {
        // magic, deflate, no flags, no mtime, max compression, Unix: what `gzip -9n` writes.
        assert_eq!(
            file.data[..10],
            [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3],
            "{}",
            file.deb
        );
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&file.data[..]),
            &mut plain,
        )
        .unwrap();
        if file.tar.is_some() {
            assert_eq!(Some(&plain), file.tar_data.as_ref(), "{}", file.deb);
        } else {
            assert!(plain.starts_with(b"vrun ("), "{}", file.deb);
        }
    }
}

#[test]
fn tarball_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let file = |tar: &str, data: &str, mode| PackFile {
        deb: String::new(),
        tar: Some(tar.into()).filter(|t: &String| !t.is_empty()),
        data: data.into(),
        tar_data: None,
        mode,
    };
    let files = [
        file("man/man1/x.1", "page", 0o644),
        file("bin/x", "exe", 0o755),
        file("", "the .deb's only", 0o644),
        file("LICENSE", "mit", 0o644),
    ];
    let x = Tool {
        name: "x",
        synopsis: "",
        note: "",
        command: vuptest::cli::command,
        depends: &[],
        is_static: true,
        runs_containers: false,
        sections: &[],
        exit: vr_stop::Tool::Vuptest,
        file_pages: &[],
        docs: &[],
        examples: &[],
        overrides: &[],
    };
    let path = build_tarball(&x, &files, tmp.path(), 1_700_000_000).unwrap();
    assert_eq!(
        path,
        tmp.path().join(format!("x-{VERSION}-x86_64-linux.tar.gz"))
    );
    let gz = flate2::read::GzDecoder::new(fs::File::open(&path).unwrap());
    let mut archive = tar::Archive::new(gz);
    let top = format!("x-{VERSION}-x86_64-linux");
    let mut got = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(
            (h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()),
            (0, 0, 1_700_000_000)
        );
        got.push((
            entry.path().unwrap().to_string_lossy().into_owned(),
            h.mode().unwrap(),
        ));
    }
    let want: Vec<(String, u32)> = [
        ("", 0o755),
        ("/LICENSE", 0o644),
        ("/bin", 0o755),
        ("/bin/x", 0o755),
        ("/man", 0o755),
        ("/man/man1", 0o755),
        ("/man/man1/x.1", 0o644),
    ]
    .iter()
    .map(|(p, m)| (format!("{top}{p}"), *m))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn the_seccomp_profile_ships_with_the_tools_that_start_containers() {
    // (tool, ships it): vrun and vimage each under their own doc folder, since dpkg refuses
    // one path in two packages.
    let exe = std::env::current_exe().unwrap();
    for (name, ships) in [("vimage", true), ("vrun", true), ("vuptest", false)] {
        let tool = tool(name);
        assert_eq!(tool.runs_containers, ships, "{name}");
        let files = payload(tool, &exe, 0).unwrap();
        let profiles: Vec<&str> = files
            .iter()
            .filter(|f| f.tar.as_deref() == Some("vr.seccomp"))
            .map(|f| f.deb.as_str())
            .collect();
        let want = if ships {
            vec![format!("usr/share/doc/{name}/vr.seccomp")]
        } else {
            vec![]
        };
        assert_eq!(profiles, want, "{name}");
    }
}

#[test]
fn rejects_arguments() {
    let err = run(&["--fast".to_string()]).unwrap_err();
    assert_eq!(err.to_string(), "`dist` takes no arguments, got `--fast`");
}

mod control;
mod docs;
