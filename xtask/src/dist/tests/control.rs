//! The Debian control and copyright files.

use super::*;

#[test]
fn control_file() {
    let deps = ["lxc".to_string(), "vuptest (= 0.1.0)".to_string()];
    let text = pages::control(tool("vrun"), "amd64", 1234, &deps);
    let want = format!(
        "Package: vrun\nVersion: {VERSION}\nArchitecture: amd64\n\
         Maintainer: vr developers <vr@example.invalid>\nInstalled-Size: 1234\n\
         Depends: lxc, vuptest (= 0.1.0)\nRecommends: bash-completion\n\
         Section: utils\nPriority: optional\n\
         Homepage: {HOMEPAGE}\n\
         Description: set up, run, uptest and tear down vr procs in LXC containers\n \
         vr is the container tooling of Velociraptor, a deployment system: vimage\n \
         builds OS images, vrun sets up, runs and tears down each proc in an LXC\n \
         container, vuptest runs the proc's uptests.\n .\n \
         Set up, run, uptest, open a shell in, or tear down a proc's LXC container.\n .\n \
         The host layout lives under $VR_ROOT (default /apps).\n .\n \
         Examples for running procs under supervisord, systemd and Nomad are in\n \
         /usr/share/doc/vrun/examples/.\n"
    );
    assert_eq!(text, want);
    let none = pages::control(tool("vuptest"), "amd64", 1, &[]);
    assert!(!none.contains("Depends:"), "{none}");
    assert!(
        none.contains("\nDescription: run a proc's uptests and print their results as JSON\n vr is the container tooling"),
        "{none}"
    );
    assert!(
        none.contains("\n .\n Run a proc's uptests and print the results as one JSON array.\n .\n Runs each entry of FOLDER"),
        "{none}"
    );
}

#[test]
fn synopses_as_debian_wants_them() {
    // lintian: synopsis-too-long, description-starts-with-package-name,
    // description-synopsis-starts-with-article, synopsis-is-a-sentence; a long description
    // fits 80 columns.
    for tool in &TOOLS {
        let s = tool.synopsis;
        assert!(s.len() <= 80, "{s}");
        assert!(!s.starts_with(tool.name), "{s}");
        assert!(!s.ends_with('.'), "{s}");
        let first = s.split(' ').next().unwrap().to_lowercase();
        assert!(!["a", "an", "the"].contains(&first.as_str()), "{s}");
        let control = pages::control(tool, "amd64", 1, &[]);
        let long = control.split_once("\nDescription: ").unwrap().1;
        for line in long.lines().skip(1) {
            assert!(line.starts_with(' ') && line.len() <= 80, "{line:?}");
        }
    }
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
