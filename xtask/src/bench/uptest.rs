//! `cargo xtask bench uptest`: 100 trivial passing uptests run by the static release vuptest
//! and by the original Go `uptester` that ships in the `vr.runners` 4.0.0 wheel (fetched from
//! PyPI with pip into target/bench/uptest/, never committed). Also the per-uptest overhead of
//! each over spawning and waiting for the same scripts directly (no capture, no JSON).

use super::{fmt_dur, Report};
use crate::util::{self, measure, median};
use anyhow::{bail, Context, Result};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WHEEL_SPEC: &str = "vr.runners==4.0.0";
const WHEEL_FILE: &str = "vr.runners-4.0.0-py2.py3-none-any.whl";
const MEMBER: &str = "vr/runners/uptester/uptester";
const UPTESTS: u32 = 100;
const REPS: usize = 31;

pub fn bench(report: &mut Report) -> Result<()> {
    let ours = util::build_static_vuptest(true)?;
    let dir = util::target_dir().join("bench").join("uptest");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let go = go_uptester(&dir)?;
    eprintln!(
        "bench uptest: Go uptester at {} (VR_GO_UPTESTER={} cargo test -p vuptest compares with it)",
        go.display(),
        go.display()
    );
    let tests = write_uptests(&dir.join("uptests"))?;

    check_all_pass(&ours, &tests)?;
    check_all_pass(&go, &tests)?;

    let run = |exe: &Path| {
        let mut cmd = Command::new(exe);
        cmd.arg(&tests)
            .args(["localhost", "8080"])
            .stdout(Stdio::null());
        cmd
    };
    let scripts: Vec<PathBuf> = fs::read_dir(&tests)
        .with_context(|| format!("cannot list {}", tests.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list {}", tests.display()))?;
    // The bare cost of the scripts: spawn each and wait, from this process, output discarded.
    let direct = || -> Result<Duration> {
        let start = Instant::now();
        for script in &scripts {
            let status = Command::new(script)
                .args(["localhost", "8080"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .with_context(|| format!("cannot start {}", script.display()))?;
            if !status.success() {
                bail!("{} failed: {status}", script.display());
            }
        }
        Ok(start.elapsed())
    };
    // Warm the page cache and the binaries, then interleave the three so that load from
    // elsewhere on the machine hits them alike.
    for _ in 0..2 {
        measure(&mut run(&ours))?;
        measure(&mut run(&go))?;
        direct()?;
    }
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPS {
        a.push(measure(&mut run(&ours))?.0);
        b.push(measure(&mut run(&go))?.0);
        c.push(direct()?);
    }
    let (t_ours, t_go, t_direct) = (median(&mut a), median(&mut b), median(&mut c));

    report.time(
        &format!("uptest: {UPTESTS} trivial uptests, wall"),
        t_ours,
        "Go uptester",
        t_go,
        "<= 1.0",
    );
    // Signed: under load from elsewhere the difference can fall within the noise.
    let per =
        |t: Duration| (t.as_secs_f64() - t_direct.as_secs_f64()) * 1000.0 / f64::from(UPTESTS);
    let (o_ours, o_go) = (per(t_ours), per(t_go));
    report.figure(
        "uptest: overhead per uptest (over bare spawn+wait)",
        format!("{o_ours:+.3} ms"),
        format!("Go {o_go:+.3} ms"),
        (o_go > 0.0).then(|| o_ours.max(0.0) / o_go),
        "<= 1.0",
    );
    report.figure(
        &format!("uptest: bare spawn+wait of the {UPTESTS} scripts"),
        fmt_dur(t_direct),
        "-".into(),
        None,
        "-",
    );
    Ok(())
}

/// The Go uptester from the vr.runners wheel: downloaded with pip and extracted once.
fn go_uptester(dir: &Path) -> Result<PathBuf> {
    let exe = dir.join("uptester");
    if exe.is_file() {
        return Ok(exe);
    }
    let wheel = dir.join(WHEEL_FILE);
    if !wheel.is_file() {
        util::run(
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--quiet",
                    WHEEL_SPEC,
                    "-d",
                ])
                .arg(dir),
        )
        .with_context(|| format!("cannot fetch {WHEEL_SPEC} from PyPI (needs pip and network)"))?;
    }
    if !wheel.is_file() {
        bail!("pip did not leave {} behind", wheel.display());
    }
    // A wheel is a zip; python3 is there since pip is.
    let tmp = dir.join("uptester.tmp");
    util::run(
        Command::new("python3")
            .arg("-c")
            .arg("import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))")
            .arg(&wheel)
            .arg(MEMBER)
            .arg(&tmp),
    )
    .with_context(|| format!("cannot extract {MEMBER} from {}", wheel.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod {}", tmp.display()))?;
    fs::rename(&tmp, &exe).with_context(|| format!("cannot rename to {}", exe.display()))?;
    Ok(exe)
}

/// A fresh folder of `UPTESTS` trivial passing uptests.
fn write_uptests(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for i in 0..UPTESTS {
        let path = dir.join(format!("{i:03}_ok.sh"));
        fs::write(&path, "#!/bin/sh\nexit 0\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    Ok(dir.to_path_buf())
}

/// Runs `exe` once on `tests` and checks that it reports every uptest as passed.
fn check_all_pass(exe: &Path, tests: &Path) -> Result<()> {
    let out = util::output(Command::new(exe).arg(tests).args(["localhost", "8080"]))?;
    let passed = out.matches(r#""Passed":true"#).count();
    if passed != UPTESTS as usize || out.lines().count() != 1 {
        bail!(
            "{} reported {passed} of {UPTESTS} uptests passed: {out}",
            exe.display()
        );
    }
    Ok(())
}
