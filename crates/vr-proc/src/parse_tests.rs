//! proc.yaml and image.yaml parsing: every key, and every error with its exact text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{Error, ImageConfig, ImageFormat, ProcConfig, Volume};

const FULL: &str = r#"# written by Velociraptor
app_name: my_app
version: 1.10
config_name: prod
release_hash: 0123abc
proc_name: web
port: "5000"
host: myhost.example.com
user: app
group: app
env:
  A: plain
  B: 42
  C: true
  D:
  E: "$HOME"
settings:
  greeting: "@How's it going?"
  nested: {a: [1, 2]}
cmd: python -m http.server $PORT
build_url: http://h/builds/my_app-1.10.tar.gz
build_md5: d41d8cd98f00b204e9800998ecf8427e
image_name: busybox
image_url: /srv/images/busybox.tar.gz
image_md5: 0cc175b9c0f1b6a831c399e269772661
volumes:
  - [/srv/data, /data]
  - ["/srv/logs", "/var/log/app"]
mem_limit: 512M
memsw_limit: 1073741824
pids_limit: 512
app_folder: /app
app_repo_url: https://example.com/repo.git
app_repo_type: git
buildpack_url: https://example.com/bp.git
buildpack_version: 1.0.0
unknown_key: {whatever: [1, 2]}
42: numeric keys are ignored too
"#;

fn parse(text: &str) -> crate::Result<ProcConfig> {
    ProcConfig::parse(Path::new("proc.yaml"), text)
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn every_key() {
    let cfg = parse(FULL).unwrap();
    let env: BTreeMap<String, String> = [
        ("A", "plain"),
        ("B", "42"),
        ("C", "true"),
        ("D", ""),
        ("E", "$HOME"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings =
        serde_yaml::from_str("greeting: \"@How's it going?\"\nnested: {a: [1, 2]}\n").unwrap();
    let want = ProcConfig {
        file: PathBuf::from("proc.yaml"),
        app_name: s("my_app"),
        version: s("1.10"),
        config_name: s("prod"),
        release_hash: s("0123abc"),
        proc_name: s("web"),
        port: Some(5000),
        host: s("myhost.example.com"),
        user: s("app"),
        group: s("app"),
        env,
        settings,
        cmd: s("python -m http.server $PORT"),
        build_url: s("http://h/builds/my_app-1.10.tar.gz"),
        build_md5: s("d41d8cd98f00b204e9800998ecf8427e"),
        build_sha256: None,
        image_name: s("busybox"),
        image_url: s("/srv/images/busybox.tar.gz"),
        image_md5: s("0cc175b9c0f1b6a831c399e269772661"),
        image_sha256: None,
        volumes: vec![
            Volume {
                host: "/srv/data".into(),
                container: "/data".into(),
            },
            Volume {
                host: "/srv/logs".into(),
                container: "/var/log/app".into(),
            },
        ],
        mem_limit: s("512M"),
        memsw_limit: s("1073741824"),
        pids_limit: Some(512),
        app_folder: s("/app"),
        app_repo_url: s("https://example.com/repo.git"),
        app_repo_type: s("git"),
        buildpack_url: s("https://example.com/bp.git"),
        buildpack_version: s("1.0.0"),
        warnings: vec![],
    };
    assert_eq!(cfg, want);
    assert_eq!(
        cfg.container_name().unwrap(),
        "my_app-1.10-prod-0123abc-web-5000"
    );
    assert_eq!(
        cfg.build_url().unwrap(),
        "http://h/builds/my_app-1.10.tar.gz"
    );
    assert_eq!(cfg.port().unwrap(), 5000);
    assert_eq!(cfg.pids_limit_or_default(), 512);
}

#[test]
fn accepted_forms() {
    type Check = fn(&ProcConfig) -> bool;
    let cases: &[(&str, Check)] = &[
        ("proc: web\n", |c| c.proc_name.as_deref() == Some("web")),
        ("proc: old\nproc_name: new\n", |c| {
            c.proc_name.as_deref() == Some("new")
        }),
        ("proc_name: new\nproc: old\n", |c| {
            c.proc_name.as_deref() == Some("new")
        }),
        ("cmd: x\nport: 8080\n", |c| c.port == Some(8080)),
        ("cmd: x\nport: '65535'\n", |c| c.port == Some(65535)),
        ("cmd: x\nport:\n", |c| c.port.is_none()),
        ("cmd: x\nmem_limit: 100k\n", |c| {
            c.mem_limit.as_deref() == Some("100k")
        }),
        ("cmd: x\nmem_limit: 1G\n", |c| {
            c.mem_limit.as_deref() == Some("1G")
        }),
        ("cmd: x\nmem_limit: 268435456\n", |c| {
            c.mem_limit.as_deref() == Some("268435456")
        }),
        ("cmd: x\npids_limit: 1\n", |c| c.pids_limit == Some(1)),
        ("cmd: x\npids_limit: 64\n", |c| c.pids_limit == Some(64)),
        ("cmd: x\npids_limit: \"256\"\n", |c| {
            c.pids_limit == Some(256)
        }),
        ("cmd: x\npids_limit: 4194304\n", |c| {
            c.pids_limit == Some(4_194_304) && c.pids_limit_or_default() == 4_194_304
        }),
        ("cmd: x\npids_limit:\n", |c| {
            c.pids_limit.is_none() && c.pids_limit_or_default() == crate::DEFAULT_PIDS_LIMIT
        }),
        ("cmd: x\n", |c| c.pids_limit_or_default() == 1024),
        ("cmd: x\nenv:\n", |c| c.env.is_empty()),
        ("cmd: x\nenv: {}\n", |c| c.env.is_empty()),
        ("cmd: x\nenv: {F: 1.50, G: ~, H: 'null'}\n", |c| {
            c.env["F"] == "1.50" && c.env["G"].is_empty() && c.env["H"] == "null"
        }),
        ("cmd: x\nvolumes:\n", |c| c.volumes.is_empty()),
        ("cmd: x\nsettings:\n", |c| c.settings.is_empty()),
        ("cmd: x\nversion: 2.0\n", |c| {
            c.version.as_deref() == Some("2.0")
        }),
        ("cmd: x\nuser: 1000\n", |c| {
            c.user.as_deref() == Some("1000")
        }),
        ("cmd: x\napp_name: &a foo\nconfig_name: *a\n", |c| {
            c.config_name.as_deref() == Some("foo")
        }),
    ];
    for (text, check) in cases {
        let cfg = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(check(&cfg), "{text:?}: {cfg:?}");
    }
}

#[test]
fn errors() {
    let cases: &[(&str, &str)] = &[
        ("", "proc.yaml: file is empty, expected a map of keys"),
        ("# nothing\n---\n", "proc.yaml: file is empty, expected a map of keys"),
        ("- cmd: x\n- port: 1\n", "proc.yaml: expected a map of keys, got a list"),
        ("just a string\n", "proc.yaml: expected a map of keys, got a string"),
        ("port: 1\n", "proc.yaml: one of `cmd` or `proc_name` is required"),
        ("cmd: ''\nproc:\n", "proc.yaml: one of `cmd` or `proc_name` is required"),
        ("cmd: x\nport: [1\n", "proc.yaml line 3: invalid YAML: did not find expected ',' or ']', while parsing a flow sequence"),
        ("cmd: x\n  bad: indent\n", "proc.yaml line 2: invalid YAML: mapping values are not allowed in this context"),
        ("cmd: x\ncmd: y\n", "proc.yaml line 1: invalid YAML: duplicate entry with key \"cmd\""),
        ("cmd: x\n\nport: abc\n", "proc.yaml line 3: key `port`: expected a port number (1-65535), got \"abc\""),
        ("cmd: x\nport: 0\n", "proc.yaml line 2: key `port`: expected a port number (1-65535), got 0"),
        ("cmd: x\nport: 65536\n", "proc.yaml line 2: key `port`: expected a port number (1-65535), got 65536"),
        ("cmd: x\nport: -1\n", "proc.yaml line 2: key `port`: expected a port number (1-65535), got -1"),
        ("cmd: x\nport: 80.5\n", "proc.yaml line 2: key `port`: expected a port number (1-65535), got 80.5"),
        ("cmd: x\nport: ' 80'\n", "proc.yaml line 2: key `port`: expected a port number (1-65535), got \" 80\""),
        ("cmd: x\nport: true\n", "proc.yaml line 2: key `port`: invalid type: boolean `true`, expected a port number (1-65535)"),
        ("cmd: x\nport: [80]\n", "proc.yaml line 2: key `port`: invalid type: sequence, expected a port number (1-65535)"),
        ("cmd: [a, b]\n", "proc.yaml line 1: key `cmd`: invalid type: sequence, expected a string"),
        ("proc_name: web\nhost:\n  a: b\n", "proc.yaml line 3: key `host`: invalid type: map, expected a string"),
        ("proc: {a: 1}\n", "proc.yaml line 1: key `proc`: invalid type: map, expected a string"),
        ("cmd: \"a\\0b\"\n", "proc.yaml line 1: key `cmd`: \"a\\0b\" contains a NUL byte"),
        ("cmd: x\nenv: [A, B]\n", "proc.yaml line 2: key `env`: invalid type: sequence, expected a map of variable names to values"),
        ("cmd: x\nenv: plain\n", "proc.yaml line 2: key `env`: invalid type: string \"plain\", expected a map of variable names to values"),
        ("cmd: x\nenv:\n  GOOD: 1\n  1BAD: 2\n", "proc.yaml line 4: key `env`: \"1BAD\" is not a valid variable name (letters, digits and _, not starting with a digit)"),
        ("cmd: x\nenv:\n  A-B: 2\n", "proc.yaml line 3: key `env`: \"A-B\" is not a valid variable name (letters, digits and _, not starting with a digit)"),
        ("cmd: x\nenv:\n  '': 2\n", "proc.yaml line 3: key `env`: \"\" is not a valid variable name (letters, digits and _, not starting with a digit)"),
        ("cmd: x\nenv:\n  12: 2\n", "proc.yaml line 3: key `env`: \"12\" is not a valid variable name (letters, digits and _, not starting with a digit)"),
        ("cmd: x\nenv:\n  [a]: 1\n", "proc.yaml line 3: key `env`: invalid type: sequence, expected a variable name"),
        ("cmd: x\nenv:\n  A:\n    nested: map\n", "proc.yaml line 4: key `env.A`: invalid type: map, expected a string"),
        ("cmd: x\nenv:\n  A: [1, 2]\n", "proc.yaml line 3: key `env.A`: invalid type: sequence, expected a string"),
        ("cmd: x\nenv:\n  A: \"x\\0\"\n", "proc.yaml line 3: key `env.A`: \"x\\0\" contains a NUL byte"),
        ("cmd: x\nsettings: [1]\n", "proc.yaml line 2: key `settings`: invalid type: sequence, expected a YAML mapping"),
        ("cmd: x\nvolumes: /a:/b\n", "proc.yaml line 2: key `volumes`: invalid type: string \"/a:/b\", expected a list of [host_dir, container_dir]"),
        ("cmd: x\nvolumes:\n  - [/a]\n", "proc.yaml line 3: key `volumes`: expected a [host_dir, container_dir] pair, got 1 items"),
        ("cmd: x\nvolumes:\n  - [/a, /b, /c]\n", "proc.yaml line 3: key `volumes`: expected a [host_dir, container_dir] pair, got 3 items"),
        ("cmd: x\nvolumes:\n  - /a\n", "proc.yaml line 3: key `volumes`: invalid type: string \"/a\", expected a [host_dir, container_dir] pair"),
        ("cmd: x\nvolumes:\n  - [rel, /b]\n", "proc.yaml line 3: key `volumes`: host_dir \"rel\" is not an absolute path"),
        ("cmd: x\nvolumes:\n  - [/a, ../../etc]\n", "proc.yaml line 3: key `volumes`: container_dir \"../../etc\" is not an absolute path"),
        ("cmd: x\nvolumes:\n  - [/a, /x/../../etc]\n", "proc.yaml line 3: key `volumes`: container_dir \"/x/../../etc\" must not contain `..`"),
        ("cmd: x\nvolumes:\n  - [\"/a\\nb\", /b]\n", "proc.yaml line 3: key `volumes`: host_dir \"/a\\nb\" must not contain control characters"),
        ("cmd: x\nmem_limit: lots\n", "proc.yaml line 2: key `mem_limit`: expected a memory size (bytes, or a number with K, M or G like 512M), got \"lots\""),
        ("cmd: x\nmem_limit: 512MB\n", "proc.yaml line 2: key `mem_limit`: expected a memory size (bytes, or a number with K, M or G like 512M), got \"512MB\""),
        ("cmd: x\nmem_limit: 0\n", "proc.yaml line 2: key `mem_limit`: expected a memory size (bytes, or a number with K, M or G like 512M), got 0"),
        ("cmd: x\nmemsw_limit: -5\n", "proc.yaml line 2: key `memsw_limit`: expected a memory size (bytes, or a number with K, M or G like 512M), got -5"),
        ("cmd: x\nmemsw_limit: 1.5G\n", "proc.yaml line 2: key `memsw_limit`: expected a memory size (bytes, or a number with K, M or G like 512M), got \"1.5G\""),
        ("cmd: x\nmem_limit: [1]\n", "proc.yaml line 2: key `mem_limit`: invalid type: sequence, expected a memory size (bytes, or like 512M)"),
        ("cmd: x\npids_limit: 0\n", "proc.yaml line 2: key `pids_limit`: expected a process count (1 to 4194304), got 0"),
        ("cmd: x\npids_limit: -1\n", "proc.yaml line 2: key `pids_limit`: expected a process count (1 to 4194304), got -1"),
        ("cmd: x\npids_limit: 4194305\n", "proc.yaml line 2: key `pids_limit`: expected a process count (1 to 4194304), got 4194305"),
        ("cmd: x\npids_limit: lots\n", "proc.yaml line 2: key `pids_limit`: expected a process count (1 to 4194304), got \"lots\""),
        ("cmd: x\npids_limit: '0'\n", "proc.yaml line 2: key `pids_limit`: expected a process count (1 to 4194304), got \"0\""),
        ("cmd: x\npids_limit: '+64'\n", "proc.yaml line 2: key `pids_limit`: expected a process count (1 to 4194304), got \"+64\""),
        ("cmd: x\npids_limit: 1.5\n", "proc.yaml line 2: key `pids_limit`: expected a process count (1 to 4194304), got 1.5"),
        ("cmd: x\npids_limit: true\n", "proc.yaml line 2: key `pids_limit`: invalid type: boolean `true`, expected a process count (1 to 4194304)"),
        ("cmd: x\npids_limit: [1]\n", "proc.yaml line 2: key `pids_limit`: invalid type: sequence, expected a process count (1 to 4194304)"),
    ];
    for (text, want) in cases {
        let got = parse(text).map(|_| ()).unwrap_err().to_string();
        assert_eq!(got, *want, "{text:?}");
    }
}

#[test]
fn error_carries_facts() {
    match parse("cmd: x\nport: abc\n").unwrap_err() {
        Error::InvalidValue {
            file, line, key, ..
        } => {
            assert_eq!(
                (file, line, key.as_str()),
                (PathBuf::from("proc.yaml"), Some(2), "port")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_keys() {
    let cfg = parse("cmd: x\nbuild_url: ''\n").unwrap();
    let cases = [
        (cfg.build_url(), "proc.yaml: missing key `build_url`"),
        (cfg.image_url(), "proc.yaml: missing key `image_url`"),
        (cfg.proc_name(), "proc.yaml: missing key `proc_name`"),
        (cfg.user(), "proc.yaml: missing key `user`"),
    ];
    for (got, want) in cases {
        assert_eq!(got.unwrap_err().to_string(), want);
    }
    assert_eq!(
        cfg.setup_keys().unwrap_err().to_string(),
        "proc.yaml: missing key `image_name`",
        "the first missing one, in field order"
    );
    assert_eq!(
        cfg.port().unwrap_err().to_string(),
        "proc.yaml: missing key `port`"
    );
    assert_eq!(
        cfg.container_name().unwrap_err().to_string(),
        "proc.yaml: missing key `app_name`"
    );
}

#[test]
fn container_name_parts() {
    let base =
        "app_name: a\nversion: v1\nconfig_name: c\nrelease_hash: h\nproc_name: web\nport: 5000\n";
    assert_eq!(
        parse(base).unwrap().container_name().unwrap(),
        "a-v1-c-h-web-5000"
    );
    let cases: &[(&str, &str, &str)] = &[
        ("app_name", "'a/b'", "proc.yaml: key `app_name`: \"a/b\" must not contain `/`"),
        ("version", "'..'", "proc.yaml: key `version`: \"..\" must not be `.` or `..`"),
        ("config_name", "'.'", "proc.yaml: key `config_name`: \".\" must not be `.` or `..`"),
        ("release_hash", "\"a\\0b\"", "proc.yaml line 4: key `release_hash`: \"a\\0b\" contains a NUL byte"),
        ("proc_name", "\"w\\neb\"", "proc.yaml: key `proc_name`: \"w\\neb\" must not contain control characters"),
        ("release_hash", "''", "proc.yaml: missing key `release_hash`"),
        ("app_name", "'a:b'", "proc.yaml: key `app_name`: \"a:b\" must not contain `:` or `,` (they split overlay mount options)"),
    ];
    for (key, value, want) in cases {
        let text = base.replace(&format!("{key}: "), &format!("{key}: {value}\nold_{key}: "));
        let got = parse(&text).and_then(|c| c.container_name());
        assert_eq!(got.unwrap_err().to_string(), *want, "{text}");
    }
}

#[test]
fn load_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proc.yaml");
    let err = ProcConfig::load(&path).unwrap_err();
    assert_eq!(err.to_string(), format!("cannot read {}", path.display()));
    assert!(matches!(err, Error::Read { .. }));
    std::fs::write(&path, "").unwrap();
    assert_eq!(
        ProcConfig::load(&path).unwrap_err().to_string(),
        format!("{}: file is empty, expected a map of keys", path.display())
    );
    std::fs::write(&path, FULL).unwrap();
    let cfg = ProcConfig::load(&path).unwrap();
    assert_eq!(cfg.file, path);
    assert_eq!(cfg.proc_name.as_deref(), Some("web"));
}

const IMAGE: &str = "base_image_url: http://h/base.tar.gz\nbase_image_name: base\nnew_image_name: new\nscript_url: /srv/provision.sh\n";

#[test]
fn image_yaml() {
    let path = Path::new("img.yaml");
    let text = format!("{IMAGE}base_image_md5: abc\nenv:\n  DEBIAN_FRONTEND: noninteractive\n  N: 3\nother: ignored\n");
    let img = ImageConfig::parse(path, &text).unwrap();
    assert_eq!(
        img,
        ImageConfig {
            file: path.into(),
            base_image_url: "http://h/base.tar.gz".into(),
            base_image_name: "base".into(),
            new_image_name: "new".into(),
            script_url: "/srv/provision.sh".into(),
            base_image_md5: Some("abc".into()),
            base_image_sha256: None,
            new_image_md5: None,
            new_image_format: ImageFormat::Gzip,
            env: [("DEBIAN_FRONTEND", "noninteractive"), ("N", "3")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            warnings: vec![],
        }
    );
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "img.yaml: file is empty, expected a map of keys"),
        ("- a\n".into(), "img.yaml: expected a map of keys, got a list"),
        (IMAGE.replace("script_url", "script"), "img.yaml: missing key `script_url`"),
        (IMAGE.replace("base_image_url: http://h/base.tar.gz", "base_image_url: ''"), "img.yaml: missing key `base_image_url`"),
        (IMAGE.replace("new_image_name: new", "new_image_name: ../../etc/x"), "img.yaml: key `new_image_name`: \"../../etc/x\" must not contain `/`"),
        (IMAGE.replace("base_image_name: base", "base_image_name: .."), "img.yaml: key `base_image_name`: \"..\" must not be `.` or `..`"),
        (IMAGE.replace("base_image_name: base", "base_image_name: [a]"), "img.yaml line 2: key `base_image_name`: invalid type: sequence, expected a string"),
        (format!("{IMAGE}env:\n  'X Y': 1\n"), "img.yaml line 6: key `env`: \"X Y\" is not a valid variable name (letters, digits and _, not starting with a digit)"),
        (format!("{IMAGE}env:\n  X: {{a: 1}}\n"), "img.yaml line 6: key `env.X`: invalid type: map, expected a string"),
        (format!("{IMAGE}new_image_format: bz2\n"), "img.yaml line 5: key `new_image_format`: expected one of gz, zst, got \"bz2\""),
        (format!("{IMAGE}new_image_format: GZ\n"), "img.yaml line 5: key `new_image_format`: expected one of gz, zst, got \"GZ\""),
        (format!("{IMAGE}new_image_format: 7\n"), "img.yaml line 5: key `new_image_format`: expected one of gz, zst, got 7"),
        (format!("{IMAGE}new_image_format: [gz]\n"), "img.yaml line 5: key `new_image_format`: invalid type: sequence, expected one of gz, zst"),
    ];
    for (text, want) in cases {
        let got = ImageConfig::parse(path, &text).unwrap_err().to_string();
        assert_eq!(got, want, "{text:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.yaml");
    assert!(matches!(ImageConfig::load(&file), Err(Error::Read { .. })));
    std::fs::write(&file, IMAGE).unwrap();
    assert_eq!(ImageConfig::load(&file).unwrap().new_image_name, "new");
}

#[test]
fn new_image_format_is_gz_unless_it_says_zst() {
    let path = Path::new("img.yaml");
    let cases = [
        ("", ImageFormat::Gzip),
        ("new_image_format: gz\n", ImageFormat::Gzip),
        ("new_image_format: zst\n", ImageFormat::Zstd),
        ("new_image_format: 'zst'\n", ImageFormat::Zstd),
        ("new_image_format:\n", ImageFormat::Gzip),
    ];
    for (extra, want) in cases {
        let img = ImageConfig::parse(path, &format!("{IMAGE}{extra}")).unwrap();
        assert_eq!(img.new_image_format, want, "{extra:?}");
    }
    for format in ImageFormat::ALL {
        assert_eq!(ImageFormat::from_name(format.name()), Some(format));
        assert!(format.extension().ends_with(format.name()));
    }
    assert_eq!(ImageFormat::from_name("tar.gz"), None);
    assert!(ImageConfig::keys().contains(&"new_image_format"));
    let typo = ImageConfig::parse(path, &format!("{IMAGE}new_image_fromat: zst\n")).unwrap();
    assert_eq!(
        typo.warnings,
        ["img.yaml: unknown key new_image_fromat, did you mean new_image_format?"]
    );
    assert_eq!(typo.new_image_format, ImageFormat::Gzip);
}

#[test]
fn typos_of_keys_are_warned_about() {
    let cfg = parse("cmd: x\nmem_limt: 64M\npots_limit: 3\nextra_key: 1\n").unwrap();
    assert_eq!(
        cfg.warnings,
        [
            "proc.yaml: unknown key mem_limt, did you mean mem_limit?",
            "proc.yaml: unknown key pots_limit, did you mean pids_limit?"
        ]
    );
    assert_eq!(cfg.mem_limit, None, "a typo is not read as the key");
    let img = ImageConfig::parse(
        Path::new("img.yaml"),
        &format!("{IMAGE}base_image_md: abc\n"),
    )
    .unwrap();
    assert_eq!(
        img.warnings,
        ["img.yaml: unknown key base_image_md, did you mean base_image_md5?"]
    );
}
