//! Tiny OS images made at test time from busybox-static, and tarball helpers.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// Users of every test image: root, `app` (1000:1000) and `nobody`.
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
/// Groups of every test image.
pub const GROUP: &str = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";

/// Writes a minimal busybox rootfs into `dir` (created if missing): `/bin/busybox` with a
/// symlink per applet in /bin, /etc/passwd and /etc/group with the users above, and the empty
/// mount points a container needs (proc, sys, dev, tmp, etc/hosts, etc/resolv.conf).
pub fn busybox_rootfs(dir: &Path) -> io::Result<()> {
    let busybox = crate::which("busybox").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "busybox not on PATH (apt-get install busybox-static)",
        )
    })?;
    for sub in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
        "var/tmp", "run",
    ] {
        fs::create_dir_all(dir.join(sub))?;
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::copy(&busybox, dir.join("bin/busybox"))?;
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755))?;
    let list = Command::new(&busybox).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" {
            continue;
        }
        let link = dir.join("bin").join(applet);
        if !link.exists() {
            symlink("busybox", &link)?;
        }
    }
    fs::write(dir.join("etc/passwd"), PASSWD)?;
    fs::write(dir.join("etc/group"), GROUP)?;
    fs::write(dir.join("etc/hosts"), "")?;
    fs::write(dir.join("etc/resolv.conf"), "")?;
    fs::write(dir.join("etc/hostname"), "busybox\n")?;
    Ok(())
}

/// Makes a busybox image tarball at `out` (`.tar.gz`) and returns its md5 hex.
pub fn busybox_image(out: &Path) -> io::Result<String> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("rootfs");
    busybox_rootfs(&root)?;
    tar_gz(&root, out)?;
    md5_file(out)
}

/// Packs the contents of `dir` (paths relative to it, owners numeric) into the gzip tarball
/// `out` with GNU tar.
pub fn tar_gz(dir: &Path, out: &Path) -> io::Result<()> {
    let status = Command::new("tar")
        .arg("--numeric-owner")
        .arg("-czf")
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "tar -czf {} failed: {status}",
            out.display()
        )));
    }
    Ok(())
}

/// md5 hex digest of a file, read in chunks.
pub fn md5_file(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut ctx = md5::Context::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.consume(&buf[..n]);
    }
    Ok(format!("{:x}", ctx.compute()))
}

/// Adds `uid_base`/`gid_base` to the owner of `dir` and of everything below it (symlinks
/// themselves, not followed): a tree as vr unpacks it for a user-namespaced container.
pub fn shift_tree(dir: &Path, uid_base: u32, gid_base: u32) -> io::Result<()> {
    use std::os::unix::fs::{lchown, MetadataExt};
    let meta = fs::symlink_metadata(dir)?;
    lchown(
        dir,
        Some(meta.uid() + uid_base),
        Some(meta.gid() + gid_base),
    )?;
    if meta.is_dir() {
        for entry in fs::read_dir(dir)? {
            shift_tree(&entry?.path(), uid_base, gid_base)?;
        }
    }
    Ok(())
}

/// Where [`debian_base`] keeps its tarball between runs.
pub const DEBIAN_CACHE: &str = "/var/cache/vr-tests/bookworm-minbase.tar.gz";

/// A real Debian base (`debootstrap --variant=minbase bookworm`, as root) packed as a
/// tarball, made once and cached at [`DEBIAN_CACHE`]: for what busybox cannot show (apt,
/// setuid tools, file capabilities).
pub fn debian_base() -> io::Result<std::path::PathBuf> {
    let cache = Path::new(DEBIAN_CACHE);
    if cache.is_file() {
        return Ok(cache.to_path_buf());
    }
    let dir = cache.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir)?;
    let tmp = tempfile::tempdir_in(dir)?;
    let root = tmp.path().join("root");
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&root)
        .arg("http://deb.debian.org/debian")
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!("debootstrap failed: {status}")));
    }
    let part = tmp.path().join("base.tar.gz");
    tar_gz(&root, &part)?;
    fs::rename(&part, cache)?;
    Ok(cache.to_path_buf())
}
