//! The text files of a package, generated from a tool's clap definition, its docs pages and the
//! workspace metadata: man pages (clap_mangen; section 5 from docs/ through [`markdown`]),
//! shell completions (clap_complete), the Debian control and copyright files. Pure: text in,
//! bytes out; reads and writes no file.

use super::{markdown, FilePage, Tool};
use anyhow::{Context, Result};
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

/// One generated man page: its file name (`vrun-setup.1`) and roff source.
pub struct Page {
    pub file: String,
    pub roff: String,
}

/// The tool's man pages: `<tool>.1` (with the tool's extra sections and SEE ALSO), and for a
/// tool with subcommands one `<tool>-<sub>.1` per subcommand, which the main page refers to.
pub fn man_pages(tool: &Tool, date: &str) -> Result<Vec<Page>> {
    let mut cmd = (tool.command)().disable_help_subcommand(true);
    cmd.build();
    // NAME says what the package's synopsis says (what `apropos` and `apt show` print); the
    // DESCRIPTION stays the command's long help, as `--help` prints it.
    let long = cmd.get_long_about().or(cmd.get_about()).cloned();
    let mut main = cmd.clone().about(tool.synopsis);
    if let Some(long) = long {
        main = main.long_about(long);
    }
    let mut pages = vec![Page {
        file: format!("{}.1", tool.name),
        roff: main_page(tool, main, date)?,
    }];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = Man::new(sub.clone())
            .date(date)
            .source(format!("{} {}", tool.name, super::VERSION))
            .manual("vr");
        let mut out = Vec::new();
        man.render(&mut out)?;
        pages.push(Page {
            file: man.get_filename(),
            roff: String::from_utf8(out).context("clap_mangen wrote a page that is not UTF-8")?,
        });
    }
    Ok(pages)
}

/// The tool's own page, sections in the usual order: NAME, SYNOPSIS, DESCRIPTION, OPTIONS,
/// SUBCOMMANDS, then the tool's sections (ENVIRONMENT, EXIT STATUS, ..), SEE ALSO, VERSION.
fn main_page(tool: &Tool, cmd: clap::Command, date: &str) -> Result<String> {
    let has_subcommands = cmd.has_subcommands();
    let man = Man::new(cmd).date(date).manual("vr");
    type Render = fn(&Man, &mut dyn std::io::Write) -> std::io::Result<()>;
    let mut parts: Vec<Render> = vec![
        Man::render_title,
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
        Man::render_options_section,
    ];
    if has_subcommands {
        parts.push(Man::render_subcommands_section);
    }
    let mut chunks = Vec::new();
    for part in parts {
        let mut out = Vec::new();
        part(&man, &mut out)?;
        chunks.push(String::from_utf8(out).context("clap_mangen wrote roff that is not UTF-8")?);
    }
    chunks.push(extra_sections(tool).render());
    let mut version = Vec::new();
    man.render_version_section(&mut version)?;
    chunks.push(String::from_utf8(version).context("clap_mangen wrote roff that is not UTF-8")?);
    // Every rendered chunk starts with the same preamble (the apostrophe string); keep one.
    let preamble = Roff::new().render();
    let mut page = String::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let body = if i == 0 {
            chunk.as_str()
        } else {
            chunk.strip_prefix(&preamble).unwrap_or(chunk)
        };
        page.push_str(body);
    }
    Ok(page)
}

/// The tool's hand-written sections and SEE ALSO (the other vr tools and lxc-execute).
fn extra_sections(tool: &Tool) -> Roff {
    let mut roff = Roff::new();
    for (title, items) in tool.sections {
        roff.control("SH", [*title]);
        for (tag, text) in *items {
            roff.control("TP", []);
            roff.text([bold(*tag)]);
            roff.text([roman(*text)]);
        }
    }
    // Written once, in vr-stop (docs/exit-status.md is checked against the same table).
    roff.control("SH", ["EXIT STATUS"]);
    for row in vr_stop::rows(tool.exit) {
        roff.control("TP", []);
        let tag = if row.verbs == "-" {
            row.status.to_string()
        } else {
            format!("{} ({})", row.status, row.verbs)
        };
        roff.text([bold(tag)]);
        roff.text([roman(row.meaning.replace('`', ""))]);
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = tool
        .file_pages
        .iter()
        .map(|p| format!("{}(5)", p.name))
        .collect();
    refs.extend(
        super::TOOLS
            .iter()
            .filter(|t| t.name != tool.name)
            .map(|t| format!("{}(1)", t.name)),
    );
    refs.push("lxc-execute(1)".into());
    roff.text([roman(refs.join(", "))]);
    roff.control("PP", []);
    let examples = if tool.examples.is_empty() {
        ""
    } else {
        ", with examples"
    };
    roff.text([roman(format!(
        "The docs of the package{examples}: /usr/share/doc/{}/.",
        tool.name
    ))]);
    roff
}

/// The man page (section 5) of a file `tool` reads, made from its docs page, `markdown`;
/// `installed` is where the package puts that page.
pub fn file_page(
    tool: &Tool,
    page: &FilePage,
    markdown: &str,
    installed: &str,
    date: &str,
) -> Result<Page> {
    // Links to docs pages that have a man page point to it.
    let mut refs = Vec::new();
    for t in &super::TOOLS {
        refs.push((format!("{}.md", t.name), format!("{}(1)", t.name)));
        for p in t.file_pages {
            refs.push((doc_file(p.doc).to_string(), format!("{}(5)", p.name)));
        }
    }
    let mut see_also = vec![format!("{}(1)", tool.name)];
    for t in &super::TOOLS {
        see_also.extend(
            t.file_pages
                .iter()
                .filter(|p| p.name != page.name)
                .map(|p| format!("{}(5)", p.name)),
        );
    }
    let text = format!(
        "This page is made from {installed} (the same text in markdown); the other docs of \
         the package and its examples are beside it."
    );
    let meta = markdown::Meta {
        name: page.name,
        section: 5,
        date,
        source: &format!("{} {}", tool.name, super::VERSION),
        whatis: page.whatis,
        refs: &refs,
        see_also: &see_also,
        see_also_text: &text,
    };
    let roff = markdown::to_man(markdown, &meta).context(page.doc)?;
    Ok(Page {
        file: format!("{}.5", page.name),
        roff,
    })
}

/// The file name of a docs page (`proc-yaml.md` for `docs/proc-yaml.md`).
pub fn doc_file(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Completion scripts: (shell, script) for bash, zsh and fish.
pub fn completions(tool: &Tool) -> Vec<(Shell, Vec<u8>)> {
    [Shell::Bash, Shell::Zsh, Shell::Fish]
        .into_iter()
        .map(|shell| {
            let mut cmd = (tool.command)();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, tool.name, &mut out);
            (shell, out)
        })
        .collect()
}

/// What every package's Description says first.
const ABOUT_VR: &str = "vr is the container tooling of Velociraptor, a deployment system: \
vimage builds OS images, vrun sets up, runs and tears down each proc in an LXC container, \
vuptest runs the proc's uptests.";

/// The DEBIAN/control file. The synopsis is the tool's own; the long description says what vr
/// is, then what the command's long help says, then the tool's note.
pub fn control(tool: &Tool, arch: &str, installed_kib: u64, depends: &[String]) -> String {
    let cmd = (tool.command)();
    let long = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut body: Vec<&str> = vec![ABOUT_VR];
    body.extend(long.split("\n\n").map(str::trim).filter(|p| !p.is_empty()));
    if !tool.note.is_empty() {
        body.push(tool.note);
    }
    let mut text = format!(
        "Package: {}\nVersion: {}\nArchitecture: {arch}\nMaintainer: {}\nInstalled-Size: {installed_kib}\n",
        tool.name,
        super::VERSION,
        super::MAINTAINER,
    );
    if !depends.is_empty() {
        text.push_str(&format!("Depends: {}\n", depends.join(", ")));
    }
    // The completions work without it only in zsh and fish.
    text.push_str("Recommends: bash-completion\n");
    text.push_str(&format!(
        "Section: utils\nPriority: optional\nHomepage: {}\nDescription: {}\n",
        super::HOMEPAGE,
        tool.synopsis
    ));
    text.push_str(&description(&body));
    text
}

/// An extended Description: each paragraph wrapped at 78 columns, lines indented by one space,
/// paragraphs separated by ` .`.
pub fn description(paragraphs: &[&str]) -> String {
    let mut out = String::new();
    for (i, para) in paragraphs.iter().enumerate() {
        if i > 0 {
            out.push_str(" .\n");
        }
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > 78 {
                out.push_str(&format!(" {line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            out.push_str(&format!(" {line}\n"));
        }
    }
    out
}

/// `usr/share/doc/<tool>/copyright` in Debian's machine-readable format, the license text from
/// the workspace's LICENSE.
pub fn copyright(license: &str) -> String {
    let holder = license
        .lines()
        .find_map(|l| l.trim().strip_prefix("Copyright (c)"))
        .map(str::trim)
        .unwrap_or("the vr developers");
    let body: Vec<&str> = license
        .lines()
        .skip_while(|l| !l.starts_with("Permission is hereby granted"))
        .collect();
    let mut text = format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: vr\nSource: {}\n\nFiles: *\nCopyright: {holder}\nLicense: MIT\n",
        super::HOMEPAGE
    );
    for line in body {
        if line.trim().is_empty() {
            text.push_str(" .\n");
        } else {
            text.push_str(&format!(" {line}\n"));
        }
    }
    text.trim_end_matches(" .\n").to_string()
}

/// A date `YYYY-MM-DD` (UTC) from seconds since the epoch (man page footers).
pub fn date(epoch: u64) -> String {
    let (year, month, day) = civil(epoch);
    format!("{year:04}-{month:02}-{day:02}")
}

/// (year, month, day) in UTC of a time in seconds since the epoch.
pub fn civil(epoch: u64) -> (i64, i64, i64) {
    // Howard Hinnant's civil_from_days.
    let z = (epoch / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
