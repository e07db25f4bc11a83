//! The man pages of the files the tools read, proc.yaml(5) and image.yaml(5), made from their
//! pages in docs/ (docs/proc-yaml.md, docs/image-yaml.md): the docs are the one source, so the
//! man page cannot say something else. A converter for the markdown those pages use, nothing
//! more: a `#` title (the page's name), `##`/`###` headings, paragraphs, fenced code blocks,
//! tables (one tagged paragraph per row), `1.` and `-` lists, and inline `code`, `**bold**`,
//! `[links](target)` and backslash escapes. Anything else that would come out wrong (block
//! quotes, HTML, deeper headings, a row with the wrong number of cells) is an error naming
//! the line, so a docs edit that the man page cannot show fails `cargo xtask dist` and the
//! tests instead of shipping a garbled page. Pure: text in, text out.

use anyhow::{bail, Result};

/// What a man page needs besides the markdown.
pub struct Meta<'a> {
    /// The page's name (`proc.yaml`); the markdown's `#` title must be this.
    pub name: &'a str,
    /// Its section (5).
    pub section: u8,
    /// The date in the footer.
    pub date: &'a str,
    /// The package and version in the footer (`vrun 0.1.0`).
    pub source: &'a str,
    /// The NAME line after `name -`.
    pub whatis: &'a str,
    /// Links to docs pages that have a man page, as (file, page): (`vrun.md`, `vrun(1)`).
    pub refs: &'a [(String, String)],
    /// The pages listed under SEE ALSO (`vrun(1)`).
    pub see_also: &'a [String],
    /// A paragraph after them (where the markdown pages are installed).
    pub see_also_text: &'a str,
}

/// The roff of the man page made from `markdown`. Errors name the markdown's line.
pub fn to_man(markdown: &str, meta: &Meta) -> Result<String> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = Out::default();
    let mut i = lines.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
    match lines.get(i).and_then(|l| l.strip_prefix("# ")) {
        Some(title) if title.trim() == meta.name => i += 1,
        _ => bail!("line {}: the page must start with `# {}`", i + 1, meta.name),
    }
    out.control(&format!(
        ".TH {} {} {} {} vr",
        meta.name,
        meta.section,
        meta.date,
        quote(meta.source)
    ));
    // Left-aligned, no hyphenation: key names stay whole and lines unstretched.
    out.control(".nh");
    out.control(".ad l");
    out.heading("SH", "NAME");
    out.text(&format!("{} \\- {}", meta.name, escape(meta.whatis)));
    out.heading("SH", "DESCRIPTION");
    while i < lines.len() {
        let line = lines[i];
        let at = i + 1;
        if line.trim().is_empty() {
            i += 1;
        } else if let Some(title) = line.strip_prefix("## ") {
            out.heading("SH", &title.trim().to_uppercase());
            i += 1;
        } else if let Some(title) = line.strip_prefix("### ") {
            out.heading("SS", title.trim());
            i += 1;
        } else if line.starts_with('#') {
            bail!("line {at}: only `##` and `###` headings can follow the title");
        } else if line.starts_with('>') || line.starts_with('<') {
            bail!("line {at}: block quotes and HTML have no man page form here");
        } else if line.starts_with("```") {
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim_end() == "```")
                .ok_or_else(|| anyhow::anyhow!("line {at}: code block not closed"))?;
            out.code_block(&lines[i + 1..end]);
            i = end + 1;
        } else if line.starts_with('|') {
            let end = (i..lines.len())
                .find(|&j| !lines[j].starts_with('|'))
                .unwrap_or(lines.len());
            table(&mut out, &lines[i..end], at, meta.refs)?;
            i = end;
        } else if let Some((marker, first)) = list_item(line) {
            let mut text = first.to_string();
            i += 1;
            while i < lines.len() && !starts_block(lines[i]) && list_item(lines[i]).is_none() {
                text.push(' ');
                text.push_str(lines[i].trim());
                i += 1;
            }
            let (mark, indent) = match marker {
                Marker::Bullet => ("\\(bu".to_string(), 2),
                Marker::Number(n) => (format!("{n}."), 4),
            };
            out.control(&format!(".IP {mark} {indent}"));
            out.text(&inline(&text, meta.refs));
        } else {
            let mut text = line.trim().to_string();
            i += 1;
            while i < lines.len() && !starts_block(lines[i]) && list_item(lines[i]).is_none() {
                text.push(' ');
                text.push_str(lines[i].trim());
                i += 1;
            }
            out.paragraph();
            out.text(&inline(&text, meta.refs));
        }
    }
    out.heading("SH", "SEE ALSO");
    let refs: Vec<String> = meta.see_also.iter().map(|r| man_ref(r)).collect();
    out.text(&refs.join(", "));
    if !meta.see_also_text.is_empty() {
        out.paragraph();
        out.text(&escape(meta.see_also_text));
    }
    Ok(out.roff)
}

/// The roff being written, and whether a paragraph macro would be redundant there.
#[derive(Default)]
struct Out {
    roff: String,
    after_heading: bool,
}

impl Out {
    fn control(&mut self, line: &str) {
        self.roff.push_str(line);
        self.roff.push('\n');
        self.after_heading = false;
    }

    fn heading(&mut self, macro_: &str, title: &str) {
        self.control(&format!(".{macro_} {}", quote(title)));
        self.after_heading = true;
    }

    /// `.PP`, except right after a heading (which starts one already).
    fn paragraph(&mut self) {
        if !self.after_heading {
            self.control(".PP");
        }
        self.after_heading = false;
    }

    /// A text line; `\&` first where roff would read it as a control line.
    fn text(&mut self, line: &str) {
        if line.starts_with(['.', '\'']) {
            self.roff.push_str("\\&");
        }
        self.control(line);
    }

    fn code_block(&mut self, lines: &[&str]) {
        self.paragraph();
        self.control(".RS 4");
        self.control(".nf");
        for line in lines {
            self.text(&code(line));
        }
        self.control(".fi");
        self.control(".RE");
    }
}

/// Whether `line` ends a paragraph or list item: a blank line or the start of another block.
fn starts_block(line: &str) -> bool {
    line.trim().is_empty() || line.starts_with(['#', '|', '>', '<']) || line.starts_with("```")
}

enum Marker {
    Bullet,
    Number(u32),
}

/// A list item's marker and text: `- text`, `* text` or `12. text`.
fn list_item(line: &str) -> Option<(Marker, &str)> {
    if let Some(text) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return Some((Marker::Bullet, text.trim()));
    }
    let (number, text) = line.split_once(". ")?;
    let n = number.parse().ok().filter(|_| number.len() <= 3)?;
    Some((Marker::Number(n), text.trim()))
}

/// A table: one `.TP` per row, tagged with its first cell; the last cell is the text, and the
/// cells between come after it as `Header: cell`.
fn table(out: &mut Out, rows: &[&str], at: usize, refs: &[(String, String)]) -> Result<()> {
    let header = cells(rows[0]);
    let is_rule = |c: &String| {
        let c = c.trim_matches(':');
        !c.is_empty() && c.chars().all(|ch| ch == '-')
    };
    match rows.get(1).map(|r| cells(r)) {
        Some(rule) if rule.len() == header.len() && rule.iter().all(is_rule) => {}
        _ => bail!(
            "line {}: a table's second line must be its `|---|` rule",
            at + 1
        ),
    }
    if header.len() < 2 {
        bail!("line {at}: a table needs two columns at least");
    }
    for (n, row) in rows.iter().enumerate().skip(2) {
        let cells = cells(row);
        if cells.len() != header.len() {
            bail!(
                "line {}: {} cells, the header has {}",
                at + n,
                cells.len(),
                header.len()
            );
        }
        out.control(".TP");
        out.text(&inline(&cells[0], refs));
        out.text(&inline(&cells[cells.len() - 1], refs));
        for (title, cell) in header[1..header.len() - 1].iter().zip(&cells[1..]) {
            if !cell.is_empty() {
                let mut title = title.clone();
                if let Some(first) = title.get(..1) {
                    title.replace_range(..1, &first.to_uppercase());
                }
                out.control(".br");
                out.text(&inline(&format!("{title}: {cell}."), refs));
            }
        }
    }
    Ok(())
}

/// The trimmed cells of a table row; a `|` inside a code span or escaped does not split.
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').unwrap_or(row);
    let mut cells = vec![String::new()];
    let mut ticks = 0; // the length of the open code span's backtick run, 0 outside one
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        let cell = cells.last_mut().expect("one cell at least");
        match c {
            '`' => {
                let mut run = 1;
                while chars.next_if_eq(&'`').is_some() {
                    run += 1;
                }
                cell.push_str(&"`".repeat(run));
                ticks = match ticks {
                    0 => run,
                    t if t == run => 0,
                    t => t,
                };
            }
            '\\' if chars.peek() == Some(&'|') && ticks == 0 => {
                cell.push('|');
                chars.next();
            }
            '|' if ticks == 0 => cells.push(String::new()),
            c => cell.push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

/// Inline markdown as roff text: code spans and `**bold**` in bold, links as their text (a
/// link to a docs page with a man page gives that page, `vrun(1)`), the rest escaped.
fn inline(text: &str, refs: &[(String, String)]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..].iter().collect();
        match chars[i] {
            '`' => {
                let run = chars[i..].iter().take_while(|&&c| c == '`').count();
                let fence = "`".repeat(run);
                let body_start = i + run;
                let body: String = chars[body_start..].iter().collect();
                // The closing run: the same number of backticks, not part of a longer run.
                let close = body
                    .match_indices(&fence)
                    .map(|(at, _)| at)
                    .find(|&at| !body[at + run..].starts_with('`') && !body[..at].ends_with('`'));
                match close {
                    Some(at) => {
                        let mut span = &body[..at];
                        if span.len() > 1 && span.starts_with(' ') && span.ends_with(' ') {
                            span = &span[1..span.len() - 1];
                        }
                        // Long paths may break after a `/` (the page is not hyphenated).
                        let span = code(span).replace('/', "/\\:");
                        out.push_str(&format!("\\fB{span}\\fR"));
                        i = body_start + body[..at].chars().count() + run;
                    }
                    None => {
                        out.push_str(&code(&fence));
                        i = body_start;
                    }
                }
            }
            '*' if rest.starts_with("**") => match rest[2..].find("**") {
                Some(end) if end > 0 => {
                    out.push_str(&format!("\\fB{}\\fR", inline(&rest[2..2 + end], refs)));
                    i += 2 + rest[2..2 + end].chars().count() + 2;
                }
                _ => {
                    out.push_str("**");
                    i += 2;
                }
            },
            '[' => match link(&rest) {
                Some((label, target, len)) => {
                    let file = target.split('#').next().unwrap_or_default();
                    let page = refs.iter().find(|(f, _)| f == file).map(|(_, p)| p);
                    let shown = inline(label, refs);
                    match page {
                        Some(page) if page.split('(').next() == Some(label) => {
                            out.push_str(&man_ref(page));
                        }
                        Some(page) => out.push_str(&format!("{shown} ({})", man_ref(page))),
                        None => out.push_str(&shown),
                    }
                    i += len;
                }
                None => {
                    out.push('[');
                    i += 1;
                }
            },
            '\\' if chars.get(i + 1).is_some_and(|c| c.is_ascii_punctuation()) => {
                out.push_str(&escape(&chars[i + 1].to_string()));
                i += 2;
            }
            c => {
                out.push_str(&escape(&c.to_string()));
                i += 1;
            }
        }
    }
    out
}

/// `[label](target)` at the start of `text`: (label, target, length in chars).
fn link(text: &str) -> Option<(&str, &str, usize)> {
    let close = text.find("](")?;
    let label = &text[1..close];
    let end = close + 2 + text[close + 2..].find(')')?;
    let target = &text[close + 2..end];
    if label.contains('[') || target.contains(' ') {
        return None;
    }
    Some((label, target, text[..=end].chars().count()))
}

/// `vrun(1)` as a man page reference: the name in bold.
fn man_ref(page: &str) -> String {
    match page.split_once('(') {
        Some((name, rest)) => format!("\\fB{}\\fR({rest}", escape(name)),
        None => escape(page),
    }
}

/// Plain text for roff: backslashes escaped, non-ASCII characters by their code point.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\[u{:04X}]", c as u32)),
        }
    }
    out
}

/// Literal text (code) for roff: as [`escape`], and `-`, `'` and `` ` `` as the ASCII
/// characters, which groff would otherwise print as a hyphen and typographic quotes.
fn code(text: &str) -> String {
    escape(text)
        .replace('-', "\\-")
        .replace('\'', "\\(aq")
        .replace('`', "\\(ga")
}

/// A macro argument, quoted when it has spaces.
fn quote(arg: &str) -> String {
    let arg = escape(arg).replace('"', "\\(dq");
    if arg.contains(' ') {
        format!("\"{arg}\"")
    } else {
        arg
    }
}

#[cfg(test)]
mod tests;
