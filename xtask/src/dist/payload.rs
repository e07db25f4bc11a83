//! What a tool's package holds, file by file, with its place in the `.deb` and in the tarball:
//! the binary, man pages (section 1 from clap, section 5 from docs/), completions, the docs
//! pages and examples, the changelog and lintian overrides (.deb only), the license and, for
//! the tools that start containers, vr's seccomp profile.

use super::{debian, pages, Tool, SECCOMP_SOURCE};
use crate::util;
use anyhow::{Context, Result};
use clap_complete::Shell;
use std::fs;
use std::io::Write;
use std::path::Path;

/// Docs pages larger than this are gzipped in the .deb, as dh_compress does (Debian Policy
/// 12.3); smaller ones, the examples and the copyright stay plain.
pub const COMPRESS_OVER: usize = 4096;

/// One file of a package: where it goes in the .deb and in the tarball, its bytes and mode.
pub struct PackFile {
    /// Path in the .deb (`usr/bin/vrun`).
    pub deb: String,
    /// Path in the tarball below its top folder (`bin/vrun`); `None`: only in the .deb.
    pub tar: Option<String>,
    /// The bytes in the .deb.
    pub data: Vec<u8>,
    /// The bytes in the tarball when they differ (plain man pages, LICENSE as is).
    pub tar_data: Option<Vec<u8>>,
    /// Permission bits.
    pub mode: u32,
}

impl PackFile {
    /// A file that is the same in both, mode 0644.
    fn plain(deb: String, tar: impl Into<String>, data: Vec<u8>) -> PackFile {
        PackFile {
            deb,
            tar: Some(tar.into()),
            data,
            tar_data: None,
            mode: 0o644,
        }
    }

    /// A file of the .deb only, mode 0644.
    fn deb_only(deb: String, data: Vec<u8>) -> PackFile {
        PackFile {
            tar: None,
            ..PackFile::plain(deb, "", data)
        }
    }

    /// A text file gzipped in the .deb, plain in the tarball.
    fn gzipped(deb: String, tar: impl Into<String>, text: Vec<u8>) -> Result<PackFile> {
        Ok(PackFile {
            data: gzip(&text)?,
            tar_data: Some(text),
            ..PackFile::plain(deb, tar, Vec::new())
        })
    }
}

/// Everything a tool's package holds.
pub fn payload(tool: &Tool, binary: &Path, epoch: u64) -> Result<Vec<PackFile>> {
    let name = tool.name;
    let doc = format!("usr/share/doc/{name}");
    let date = pages::date(epoch);
    let data = fs::read(binary).with_context(|| format!("cannot read {}", binary.display()))?;
    let mut files = vec![PackFile {
        mode: 0o755,
        ..PackFile::plain(format!("usr/bin/{name}"), format!("bin/{name}"), data)
    }];
    for page in pages::man_pages(tool, &date)? {
        files.push(PackFile::gzipped(
            format!("usr/share/man/man1/{}.gz", page.file),
            format!("man/man1/{}", page.file),
            page.roff.into_bytes(),
        )?);
    }
    for page in tool.file_pages {
        let markdown = read_text(page.doc)?;
        let installed = format!("/{}", doc_path(&doc, page.doc, markdown.len()));
        let page = pages::file_page(tool, page, &markdown, &installed, &date)?;
        files.push(PackFile::gzipped(
            format!("usr/share/man/man5/{}.gz", page.file),
            format!("man/man5/{}", page.file),
            page.roff.into_bytes(),
        )?);
    }
    for (shell, script) in pages::completions(tool) {
        let (deb, tar) = match shell {
            Shell::Bash => (
                format!("usr/share/bash-completion/completions/{name}"),
                format!("completions/{name}.bash"),
            ),
            Shell::Zsh => (
                format!("usr/share/zsh/vendor-completions/_{name}"),
                format!("completions/_{name}"),
            ),
            _ => (
                format!("usr/share/fish/vendor_completions.d/{name}.fish"),
                format!("completions/{name}.fish"),
            ),
        };
        files.push(PackFile::plain(deb, tar, script));
    }
    for page in tool.docs {
        let text = read_text(page)?;
        let deb = doc_path(&doc, page, text.len());
        let tar = format!("doc/{}", pages::doc_file(page));
        files.push(if deb.ends_with(".gz") {
            PackFile::gzipped(deb, tar, text.into_bytes())?
        } else {
            PackFile::plain(deb, tar, text.into_bytes())
        });
    }
    for example in tool.examples {
        let file = pages::doc_file(example);
        let text = read_text(example)?;
        files.push(PackFile::plain(
            format!("{doc}/examples/{file}"),
            format!("examples/{file}"),
            text.into_bytes(),
        ));
    }
    files.push(PackFile::deb_only(
        format!("{doc}/changelog.gz"),
        gzip(debian::changelog(name, epoch)?.as_bytes())?,
    ));
    let license = read_text("LICENSE")?;
    files.push(PackFile {
        tar_data: Some(license.clone().into_bytes()),
        ..PackFile::plain(
            format!("{doc}/copyright"),
            "LICENSE",
            pages::copyright(&license).into_bytes(),
        )
    });
    if let Some(text) = debian::overrides(tool) {
        files.push(PackFile::deb_only(
            format!("usr/share/lintian/overrides/{name}"),
            text.into_bytes(),
        ));
    }
    if tool.runs_containers {
        let path = util::root().join(SECCOMP_SOURCE);
        let profile = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push(PackFile::plain(
            format!("{doc}/vr.seccomp"),
            "vr.seccomp",
            profile,
        ));
    }
    Ok(files)
}

/// Where a docs page of `len` bytes goes in the .deb: `usr/share/doc/<tool>/<page>`, `.gz`
/// added when it is gzipped.
fn doc_path(doc: &str, page: &str, len: usize) -> String {
    let gz = if len > COMPRESS_OVER { ".gz" } else { "" };
    format!("{doc}/{}{gz}", pages::doc_file(page))
}

/// A file of the workspace, by its path from the root.
fn read_text(rel: &str) -> Result<String> {
    let path = util::root().join(rel);
    fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// gzip -9n: best compression, no name, no timestamp (reproducible), made on Unix.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new()
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    Ok(enc.finish()?)
}
