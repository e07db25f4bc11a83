//! `cargo xtask bench run`: vrun's overhead over LXC, setup cost over plain untar, and disk
//! use of many procs of one image. Everything happens in a temporary VR_ROOT on a tmpfs
//! (unmounted afterwards); needs root and LXC.

use super::support::{unique, Scratch};
use super::Report;
use crate::util::{self, median, output, run};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A build with a Procfile and `payload_mb` MB of incompressible data.
fn build(dir: &Path, name: &str, payload_mb: usize, out: &Path) -> Result<()> {
    let app = dir.join(name);
    fs::create_dir_all(&app)?;
    fs::write(app.join("Procfile"), "web: /bin/true\n")?;
    if payload_mb > 0 {
        run(Command::new("dd")
            .arg("if=/dev/urandom")
            .arg(format!("of={}", app.join("payload.bin").display()))
            .args(["bs=1M", &format!("count={payload_mb}"), "status=none"]))?;
    }
    vr_tests::tar_gz(&app, out).with_context(|| format!("cannot pack {}", app.display()))
}

fn proc_yaml(dir: &Path, app: &str, port: u16, image: &Path, build: &Path) -> Result<PathBuf> {
    proc_yaml_cmd(dir, app, port, image, build, "/bin/true")
}

fn proc_yaml_cmd(
    dir: &Path,
    app: &str,
    port: u16,
    image: &Path,
    build: &Path,
    cmd: &str,
) -> Result<PathBuf> {
    let path = dir.join(format!("{app}-{port}.yaml"));
    fs::write(
        &path,
        format!(
            "app_name: {app}\nversion: v1\nconfig_name: bench\nrelease_hash: h\nproc_name: web\nport: {port}\n\
             user: app\nimage_name: busybox\nimage_url: {}\nbuild_url: {}\ncmd: {cmd:?}\n",
            image.display(),
            build.display()
        ),
    )?;
    Ok(path)
}

/// Starts `cmd` (whose proc prints `ready` first), waits for that line, sends SIGTERM and
/// returns how long the process took to exit after it.
fn stop_time(mut cmd: Command) -> Result<std::time::Duration> {
    use std::io::BufRead;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    if line != "ready\n" {
        let _ = child.kill();
        bail!("the proc printed {line:?} instead of ready");
    }
    let pid = libc::pid_t::try_from(child.id())?;
    let start = Instant::now();
    // SAFETY: kill has no memory preconditions; the pid is our own unreaped child.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        bail!("cannot signal {pid}: {}", std::io::Error::last_os_error());
    }
    child.wait()?;
    Ok(start.elapsed())
}

/// `config` as vr rendered it before containment: without the user namespace, seccomp,
/// no_new_privs and pids lines, and with the capability drop list of that time (the command
/// as root: the proc's files carry shifted owners that only the user namespace maps back).
fn privileged_config(config: &str) -> String {
    const DROPPED: &str = "mac_admin mac_override mknod setpcap sys_admin sys_boot sys_module \
                           sys_nice sys_pacct sys_rawio sys_resource sys_time sys_tty_config";
    config
        .lines()
        .filter(|l| {
            ![
                "lxc.idmap",
                "lxc.seccomp",
                "lxc.no_new_privs",
                "lxc.cgroup.pids",
                "lxc.cgroup2.pids",
                // The app's files carry shifted ids: without the user namespace it runs as root.
                "lxc.init.",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .map(|l| {
            if l.starts_with("lxc.cap.keep") {
                format!("lxc.cap.drop = {DROPPED}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

fn du_kib(path: &Path) -> Result<u64> {
    let out = output(Command::new("du").arg("-sk").arg(path))?;
    out.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("cannot read du output {out:?}"))
}

pub fn bench(report: &mut Report) -> Result<()> {
    if !util::is_root() || !util::have("lxc-execute") {
        bail!("bench run needs root and LXC (lxc-execute)");
    }
    // Only vrun is needed (the static vuptest is not used here).
    run(util::cargo().args(["build", "--release", "-p", "vrun"]))?;
    let vrun = util::target_dir().join("release/vrun");
    let fs_root = Scratch::tmpfs(std::env::temp_dir().join(unique("run")), "4g")?;
    let dir = &fs_root.dir;
    let vr_root = dir.join("vr");
    let vrun_cmd = |args: &[&str], yaml: &Path| {
        let mut c = Command::new(&vrun);
        c.args(args)
            .arg(yaml)
            .env("VR_ROOT", &vr_root)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let image = dir.join("busybox.tar.gz");
    vr_tests::busybox_image(&image).with_context(|| format!("cannot make {}", image.display()))?;
    let small = dir.join("small.tar.gz");
    build(dir, "small", 0, &small)?;

    // 1. vrun run of /bin/true vs lxc-execute of the same rendered config.
    let yaml = proc_yaml(dir, "true", 7000, &image, &small)?;
    run(&mut vrun_cmd(&["setup"], &yaml))?;
    let name = "true-v1-bench-h-web-7000";
    let config = vr_root.join("procs").join(name).join("proc.lxc");
    let reps = 40;
    let lxc_execute = |config: &Path| {
        let mut c = Command::new("lxc-execute");
        c.args(["-n", name, "-f"])
            .arg(config)
            .args(["--", "/bin/sh", "/proc.sh"]);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    // The same config without the start-host hook (vrun's way of telling "LXC could not start
    // the container" from "the proc exited 1"): what the hook itself costs vrun.
    let bare = dir.join("proc-without-hook.lxc");
    let text = fs::read_to_string(&config)?;
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("lxc.hook.start-host"))
        .map(|l| format!("{l}\n"))
        .collect();
    if without == text {
        bail!("{} has no lxc.hook.start-host line", config.display());
    }
    fs::write(&bare, without)?;
    // The same container as before containment (session 2's config): no user namespace,
    // seccomp profile, no_new_privs or pids limit, and a capability drop list instead of the
    // allow-list. What the containment costs a start in total.
    let privileged = dir.join("proc-privileged.lxc");
    fs::write(&privileged, privileged_config(&text))?;
    let medians = util::medians_interleaved(
        reps,
        &mut [
            &mut || vrun_cmd(&["run"], &yaml),
            &mut || lxc_execute(&config),
            &mut || lxc_execute(&bare),
            &mut || lxc_execute(&privileged),
        ],
    )?;
    let (ours, base, bare_base, priv_base) = (medians[0], medians[1], medians[2], medians[3]);
    report.time(
        "vrun run /bin/true (user namespace, seccomp) vs lxc-execute privileged (before containment)",
        ours,
        "lxc-execute privileged",
        priv_base,
        "report",
    );
    for (what, base) in [
        ("vrun run /bin/true: overhead over lxc-execute", base),
        (
            "vrun run /bin/true: overhead over lxc-execute without start hook",
            bare_base,
        ),
    ] {
        let overhead_ms = (ours.as_secs_f64() - base.as_secs_f64()) * 1000.0;
        report.figure(
            what,
            format!("{overhead_ms:+.2} ms"),
            format!("lxc-execute {}", super::fmt_dur(base)),
            Some(ours.as_secs_f64() / base.as_secs_f64().max(1e-9)),
            "<= +5 ms",
        );
    }

    // 2. SIGTERM to exit: vrun run vs lxc-execute of the same config, a proc that dies of it.
    let yaml = proc_yaml_cmd(
        dir,
        "stop",
        7050,
        &image,
        &small,
        "echo ready; exec sleep 1000",
    )?;
    run(&mut vrun_cmd(&["setup"], &yaml))?;
    let name = "stop-v1-bench-h-web-7050";
    let config = vr_root.join("procs").join(name).join("proc.lxc");
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let mut c = Command::new(&vrun);
        c.arg("run").arg(&yaml).env("VR_ROOT", &vr_root);
        ours.push(stop_time(c)?);
        let mut c = Command::new("lxc-execute");
        c.args(["-n", name, "-f"])
            .arg(&config)
            .args(["--", "/bin/sh", "/proc.sh"]);
        base.push(stop_time(c)?);
    }
    report.time(
        "vrun run: SIGTERM to exit, proc that dies of it",
        median(&mut ours),
        "lxc-execute",
        median(&mut base),
        "<= 2 s",
    );

    // 3. setup of another proc of an unpacked image with a 20 MB build vs tar -xzf alone.
    let big = dir.join("big.tar.gz");
    build(dir, "big", 20, &big)?;
    run(&mut vrun_cmd(
        &["setup"],
        &proc_yaml(dir, "big", 7100, &image, &big)?,
    ))?;
    let mut ours = Vec::new();
    let mut base = Vec::new();
    for i in 0..7u16 {
        let yaml = proc_yaml(dir, "big", 7101 + i, &image, &big)?;
        let start = Instant::now();
        run(&mut vrun_cmd(&["setup"], &yaml))?;
        ours.push(start.elapsed());
        let target = dir.join(format!("untar-{i}"));
        fs::create_dir_all(&target)?;
        let start = Instant::now();
        run(Command::new("tar")
            .arg("-xzf")
            .arg(&big)
            .arg("-C")
            .arg(&target))?;
        base.push(start.elapsed());
        fs::remove_dir_all(&target)?;
    }
    report.time(
        "vrun setup, 2nd proc, 20 MB build (tmpfs)",
        median(&mut ours),
        "tar -xzf",
        median(&mut base),
        "<= 1.3",
    );

    // 4. 20 procs of one image set up in parallel: disk used.
    let mut children = Vec::new();
    for i in 0..20u16 {
        let yaml = proc_yaml(dir, "many", 7200 + i, &image, &big)?;
        children.push(vrun_cmd(&["setup"], &yaml).spawn()?);
    }
    for mut c in children {
        if !c.wait()?.success() {
            bail!("a parallel vrun setup failed");
        }
    }
    let image_kib = du_kib(&vr_root.join("images/busybox/contents"))?;
    let build_kib = du_kib(&vr_root.join("procs/many-v1-bench-h-web-7200/rootfs/app"))?;
    let mut procs_kib = 0;
    for i in 0..20u16 {
        procs_kib += du_kib(&vr_root.join(format!("procs/many-v1-bench-h-web-{}", 7200 + i)))?;
    }
    let ours = image_kib + procs_kib;
    let expected = image_kib + 20 * build_kib;
    report.figure(
        "20 procs of one image: disk (image + proc dirs)",
        format!("{} MiB", ours / 1024),
        format!("image + 20 builds {} MiB", expected / 1024),
        Some(ours as f64 / expected.max(1) as f64),
        "~ 1.0",
    );
    Ok(())
}
