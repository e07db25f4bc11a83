//! Writing a tool's package files: the `.deb` (a tree laid out here, Installed-Size and
//! md5sums computed, the postinst of a tool that starts containers, built with `dpkg-deb`)
//! and the reproducible tarball.

use super::{depends, pages, postinst, PackFile, Tool, VERSION};
use crate::util;
use anyhow::{Context, Result};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lays out `target/dist/<tool>/deb/` and builds `<tool>_<version>_<arch>.deb`.
pub fn build_deb(
    tool: &Tool,
    files: &[PackFile],
    binary: &Path,
    arch: &str,
    out: &Path,
    epoch: u64,
) -> Result<PathBuf> {
    let work = out.join(tool.name);
    let root = work.join("deb");
    let mut md5sums = String::new();
    let mut kib = 0u64;
    for file in files {
        let path = root.join(&file.deb);
        write_file(&path, &file.data, file.mode)?;
        md5sums.push_str(&format!("{:x}  {}\n", md5::compute(&file.data), file.deb));
        kib += (file.data.len() as u64).div_ceil(1024);
    }
    // Installed-Size in KiB, as dpkg-gencontrol counts it: each file rounded up, 1 per folder.
    kib += count_dirs(&root)?;
    let control = pages::control(tool, arch, kib, &depends(tool, binary, &work)?);
    write_file(&root.join("DEBIAN/control"), control.as_bytes(), 0o644)?;
    write_file(&root.join("DEBIAN/md5sums"), md5sums.as_bytes(), 0o644)?;
    if tool.runs_containers {
        let script = postinst::postinst(tool.name);
        write_file(&root.join("DEBIAN/postinst"), script.as_bytes(), 0o755)?;
    }
    set_dir_modes(&root)?;
    let deb = out.join(format!("{}_{VERSION}_{arch}.deb", tool.name));
    util::run(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&root)
            .arg(&deb)
            .env("SOURCE_DATE_EPOCH", epoch.to_string()),
    )?;
    Ok(deb)
}

/// Writes `<tool>-<version>-x86_64-linux.tar.gz`: the same files (but those of the .deb only)
/// under one top folder, owned by root, times set to the release time, entries sorted.
pub fn build_tarball(tool: &Tool, files: &[PackFile], out: &Path, epoch: u64) -> Result<PathBuf> {
    let top = format!("{}-{VERSION}-x86_64-linux", tool.name);
    let path = out.join(format!("{top}.tar.gz"));
    let file =
        fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    let mut sorted: Vec<(&str, &PackFile)> = files
        .iter()
        .filter_map(|f| Some((f.tar.as_deref()?, f)))
        .collect();
    sorted.sort_by_key(|(tar, _)| *tar);
    let mut dirs_done = std::collections::BTreeSet::new();
    for (tar_path, file) in sorted {
        let rel = format!("{top}/{tar_path}");
        for dir in Path::new(&rel)
            .ancestors()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            if dir.as_os_str().is_empty() || !dirs_done.insert(dir.to_path_buf()) {
                continue;
            }
            let mut header = tar_header(tar::EntryType::Directory, 0o755, 0, epoch);
            tar.append_data(&mut header, dir, std::io::empty())?;
        }
        let data = file.tar_data.as_ref().unwrap_or(&file.data);
        let mut header = tar_header(tar::EntryType::Regular, file.mode, data.len() as u64, epoch);
        tar.append_data(&mut header, &rel, &data[..])?;
    }
    tar.into_inner()?.finish()?;
    Ok(path)
}

fn tar_header(kind: tar::EntryType, mode: u32, size: u64, epoch: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(epoch);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

/// Folders below `root` (DEBIAN not counted).
fn count_dirs(root: &Path) -> Result<u64> {
    let mut n = 0;
    for entry in fs::read_dir(root).with_context(|| format!("cannot read {}", root.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && entry.file_name() != "DEBIAN" {
            n += 1 + count_dirs(&entry.path())?;
        }
    }
    Ok(n)
}

/// 0755 on every folder (whatever the umask), as dpkg-deb wants for DEBIAN/.
fn set_dir_modes(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod {}", dir.display()))?;
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            set_dir_modes(&entry.path())?;
        }
    }
    Ok(())
}
