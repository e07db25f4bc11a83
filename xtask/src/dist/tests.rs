use super::*;

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

#[test]
fn man_pages_cover_every_subcommand() {
    // (tool, pages expected)
    let cases: &[(&str, &[&str])] = &[
        ("vimage", &["vimage.1", "vimage-build.1", "vimage-shell.1"]),
        (
            "vrun",
            &[
                "vrun.1",
                "vrun-setup.1",
                "vrun-run.1",
                "vrun-uptest.1",
                "vrun-teardown.1",
                "vrun-shell.1",
            ],
        ),
        ("vuptest", &["vuptest.1"]),
    ];
    for (name, want) in cases {
        let tool = tool(name);
        let pages = pages::man_pages(tool, "2026-01-02").unwrap();
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
        let files: Vec<&str> = pages.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(&files, want, "{name}");
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
fn control_file() {
    let deps = ["lxc".to_string(), "vuptest (= 0.1.0)".to_string()];
    let text = pages::control(tool("vrun"), "amd64", 1234, &deps);
    let want = format!(
        "Package: vrun\nVersion: {VERSION}\nArchitecture: amd64\n\
         Maintainer: vr developers <vr@example.invalid>\nInstalled-Size: 1234\n\
         Depends: lxc, vuptest (= 0.1.0)\nSection: utils\nPriority: optional\n\
         Homepage: {HOMEPAGE}\n\
         Description: vr: vrun, sets up, runs, uptests and tears down a proc in an LXC container\n \
         Set up, run, uptest, open a shell in, or tear down a proc's LXC container.\n .\n \
         The host layout lives under $VR_ROOT (default /apps).\n"
    );
    assert_eq!(text, want);
    let none = pages::control(tool("vuptest"), "amd64", 1, &[]);
    assert!(!none.contains("Depends:"), "{none}");
    assert!(
        none.contains("\nDescription: vr: vuptest, runs a proc's uptests and prints one JSON array (shipped as a static binary)\n Run a proc's uptests and print the results as one JSON array.\n .\n Runs each entry of FOLDER"),
        "{none}"
    );
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
fn descriptions_wrap() {
    let long = "word ".repeat(30);
    // (paragraphs, expected)
    let cases: &[(&[&str], &str)] = &[
        (&["one line"], " one line\n"),
        (
            &["first", "second  paragraph"],
            " first\n .\n second paragraph\n",
        ),
        (
            &[long.as_str()],
            &format!(" {}\n {}\n", ["word"; 15].join(" "), ["word"; 15].join(" ")),
        ),
    ];
    for (paras, want) in cases {
        assert_eq!(pages::description(paras), *want, "{paras:?}");
    }
}

#[test]
fn copyright_file() {
    let license = fs::read_to_string(util::root().join("LICENSE")).unwrap();
    let text = pages::copyright(&license);
    assert!(text.starts_with(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: vr\n"
    ));
    assert!(text.contains("\nFiles: *\nCopyright: 2026 the vr developers\nLicense: MIT\n Permission is hereby granted"), "{text}");
    assert!(text.contains("\n .\n THE SOFTWARE IS PROVIDED"), "{text}");
    assert!(text.ends_with(" SOFTWARE.\n"), "{text}");
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
    let paths: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.deb.as_str(), f.tar.as_str()))
        .collect();
    let mut want = vec![("usr/bin/vrun", "bin/vrun")];
    let pages = [
        "vrun.1",
        "vrun-setup.1",
        "vrun-run.1",
        "vrun-uptest.1",
        "vrun-teardown.1",
        "vrun-shell.1",
    ];
    let man: Vec<(String, String)> = pages
        .iter()
        .map(|p| {
            (
                format!("usr/share/man/man1/{p}.gz"),
                format!("man/man1/{p}"),
            )
        })
        .collect();
    want.extend(man.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    want.extend([
        (
            "usr/share/bash-completion/completions/vrun",
            "completions/vrun.bash",
        ),
        (
            "usr/share/zsh/vendor-completions/_vrun",
            "completions/_vrun",
        ),
        (
            "usr/share/fish/vendor_completions.d/vrun.fish",
            "completions/vrun.fish",
        ),
        ("usr/share/doc/vrun/copyright", "LICENSE"),
        ("usr/share/doc/vrun/vr.seccomp", "vr.seccomp"),
    ]);
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
    // The .deb's man page is the tarball's, gzipped.
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&files[1].data[..]),
        &mut plain,
    )
    .unwrap();
    assert_eq!(Some(&plain), files[1].tar_data.as_ref());
}

#[test]
fn tarball_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let file = |tar: &str, data: &str, mode| PackFile {
        deb: String::new(),
        tar: tar.into(),
        data: data.into(),
        tar_data: None,
        mode,
    };
    let files = [
        file("man/man1/x.1", "page", 0o644),
        file("bin/x", "exe", 0o755),
        file("LICENSE", "mit", 0o644),
    ];
    let x = Tool {
        name: "x",
        command: vuptest::cli::command,
        depends: &[],
        is_static: true,
        runs_containers: false,
        sections: &[],
        exit: vr_stop::Tool::Vuptest,
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
            .filter(|f| f.tar == "vr.seccomp")
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
