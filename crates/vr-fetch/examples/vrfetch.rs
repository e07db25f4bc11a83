//! A small command line over vr-fetch, used by `cargo xtask bench fetch` to time the library
//! as a process (and handy by hand):
//!
//! ```text
//! vrfetch unpack TARBALL TARGET [UID:GID | shift=BASE:COUNT]
//! vrfetch md5 FILE
//! vrfetch sha256 FILE
//! vrfetch ensure SOURCE DEST [MD5]
//! vrfetch fetch SOURCE DEST [md5=MD5] [sha256=SHA256]
//! ```
//!
//! `UID:GID` gives everything to that owner; `shift=BASE:COUNT` shifts the stored owners by BASE
//! (users and groups) within COUNT ids, as `vrun setup` unpacks an image.
//!
//! With `VRFETCH_PEAK_RSS=1` it ends by printing `peak rss: N KiB` (VmHWM) on stderr: a parent's
//! wait4 rusage would count the parent's own peak too when the child is spawned with vfork.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = run(&args);
    if std::env::var_os("VRFETCH_PEAK_RSS").is_some_and(|v| v == "1") {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
            let kib = line["VmHWM:".len()..].trim().trim_end_matches("kB").trim();
            eprintln!("peak rss: {kib} KiB");
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut line = format!("vrfetch: {err}");
            let mut source = err.source();
            while let Some(s) = source {
                line.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{line}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["unpack", tarball, target, rest @ ..] if rest.len() <= 1 => {
            let mut opts = vr_fetch::UnpackOptions::default();
            match rest.first().map(|s| s.strip_prefix("shift=").ok_or(s)) {
                Some(Ok(shift)) => {
                    let (base, count) = shift
                        .split_once(':')
                        .ok_or("shift must be shift=BASE:COUNT")?;
                    let base = base.parse()?;
                    opts.shift = Some(vr_fetch::IdShift {
                        uid_base: base,
                        gid_base: base,
                        count: count.parse()?,
                    });
                }
                Some(Err(owner)) => {
                    let (u, g) = owner.split_once(':').ok_or("owner must be UID:GID")?;
                    opts.owner = Some((u.parse()?, g.parse()?));
                }
                None => {}
            }
            vr_fetch::unpack(Path::new(tarball), Path::new(target), &opts)?;
        }
        ["md5", file] => println!("{}  {file}", vr_fetch::md5_file(Path::new(file))?),
        ["sha256", file] => println!("{}  {file}", vr_fetch::sha256_file(Path::new(file))?),
        ["fetch", source, dest, sums @ ..] if sums.len() <= 2 => {
            let mut opts = vr_fetch::FetchOptions::default();
            for sum in sums {
                match sum.split_once('=') {
                    Some(("md5", v)) => opts.md5 = Some(v.to_string()),
                    Some(("sha256", v)) => opts.sha256 = Some(v.to_string()),
                    _ => return Err(format!("not md5=.. or sha256=..: {sum}").into()),
                }
            }
            let progress = vr_fetch::TerminalProgress::new();
            let got = vr_fetch::fetch(source, Path::new(dest), &opts, &progress)?;
            if let Some(warning) = &got.warning {
                eprintln!("vrfetch: warning: {warning}");
            }
            let how = if got.downloaded { "fetched" } else { "cached" };
            println!("{} {}  {} ({how})", got.md5, got.sha256, got.path.display());
        }
        ["ensure", source, dest, rest @ ..] if rest.len() <= 1 => {
            let progress = vr_fetch::TerminalProgress::new();
            let got =
                vr_fetch::ensure_with(source, Path::new(dest), rest.first().copied(), &progress)?;
            let how = if got.downloaded { "fetched" } else { "cached" };
            println!("{}  {} ({how})", got.md5, got.path.display());
        }
        _ => {
            return Err(
                "usage: vrfetch unpack TARBALL TARGET [UID:GID | shift=BASE:COUNT] | md5 FILE | sha256 FILE \
             | ensure SOURCE DEST [MD5] | fetch SOURCE DEST [md5=MD5] [sha256=SHA256]"
                    .into(),
            )
        }
    }
    Ok(())
}
