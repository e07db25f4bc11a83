use super::*;

fn refs() -> Vec<(String, String)> {
    vec![
        ("vrun.md".into(), "vrun(1)".into()),
        ("proc-yaml.md".into(), "proc.yaml(5)".into()),
    ]
}

/// The page of `body` (after the title), with the fixed parts of [`meta`].
fn convert(body: &str) -> Result<String> {
    let refs = refs();
    let see_also = ["vrun(1)".to_string()];
    let meta = Meta {
        name: "x.yaml",
        section: 5,
        date: "2026-01-02",
        source: "vrun 0.1.0",
        whatis: "what x.yaml says",
        refs: &refs,
        see_also: &see_also,
        see_also_text: "",
    };
    to_man(&format!("# x.yaml\n\n{body}"), &meta)
}

const HEAD: &str = ".TH x.yaml 5 2026-01-02 \"vrun 0.1.0\" vr\n.nh\n.ad l\n.SH NAME\nx.yaml \\- what x.yaml says\n.SH DESCRIPTION\n";
const TAIL: &str = ".SH \"SEE ALSO\"\n\\fBvrun\\fR(1)\n";

#[test]
fn converts_each_construct() {
    // (markdown after the title, roff between the DESCRIPTION heading and SEE ALSO)
    let cases: &[(&str, &str)] = &[
        ("", ""),
        // Paragraphs: lines joined, `.PP` between (none right after a heading).
        (
            "One\ntwo.\n\nThree.",
            "One two.\n.PP\nThree.\n",
        ),
        (
            "## As whom, with what\n\nText.\n\n### Sub\nMore.",
            ".SH \"AS WHOM, WITH WHAT\"\nText.\n.SS Sub\nMore.\n",
        ),
        // Inline code in bold, its -, ' and ` as typed; a span across lines; a double-backtick
        // span holding a backtick; **bold**.
        (
            "Run `vrun --fail 'x'` (`a\nb`) and `` key `port` `` **image's**.",
            "Run \\fBvrun \\-\\-fail \\(aqx\\(aq\\fR (\\fBa b\\fR) and \\fBkey \\(gaport\\(ga\\fR \\fBimage's\\fR.\n",
        ),
        // Links: to a page with a man page, that page; others, their text.
        (
            "See [vrun](vrun.md#users), [the file](proc-yaml.md) and [LXC](lxc.md).",
            "See \\fBvrun\\fR(1), the file (\\fBproc.yaml\\fR(5)) and LXC.\n",
        ),
        // Escapes, a backslash, a line that would be a control line, non-ASCII.
        (
            "\\*not bold\\* a\\b \u{2026}\n\n'quoted' text\n\n.dot",
            "*not bold* a\\eb \\[u2026]\n.PP\n\\&'quoted' text\n.PP\n\\&.dot\n",
        ),
        // A path in code may break after each `/`.
        ("In `/etc/vr/`.", "In \\fB/\\:etc/\\:vr/\\:\\fR.\n"),
        // An unmatched backtick and a lone bracket stay as typed.
        ("a ` b [c] d", "a \\(ga b [c] d\n"),
        // A code block: no fill, literal, indented.
        (
            "Before:\n\n```yaml\nkey: 'v'\n  - .x\n```\n",
            "Before:\n.PP\n.RS 4\n.nf\nkey: \\(aqv\\(aq\n  \\- .x\n.fi\n.RE\n",
        ),
        // Lists, items continued on indented lines.
        (
            "1. first\n   still first;\n2. second\n\n- a\n- b",
            ".IP 1. 4\nfirst still first;\n.IP 2. 4\nsecond\n.IP \\(bu 2\na\n.IP \\(bu 2\nb\n",
        ),
        // A table: tagged paragraphs, the middle columns after the text.
        (
            "| key | required by | value |\n|---|:---:|---|\n| `a_b` | setup, run | the a; `x|y` |\n| `c` | | the c \\| d |",
            ".TP\n\\fBa_b\\fR\nthe a; \\fBx|y\\fR\n.br\nRequired by: setup, run.\n.TP\n\\fBc\\fR\nthe c | d\n",
        ),
        (
            "| key | value |\n|---|---|\n| `k` | v |",
            ".TP\n\\fBk\\fR\nv\n",
        ),
    ];
    for (markdown, want) in cases {
        assert_eq!(
            convert(markdown).unwrap(),
            format!("{HEAD}{want}{TAIL}"),
            "{markdown:?}"
        );
    }
}

#[test]
fn see_also_paragraph() {
    let refs = refs();
    let see_also = ["vrun(1)".to_string(), "image.yaml(5)".to_string()];
    let meta = Meta {
        name: "p",
        section: 5,
        date: "d",
        source: "s",
        whatis: "w",
        refs: &refs,
        see_also: &see_also,
        see_also_text: "In /usr/share/doc/vrun/.",
    };
    let page = to_man("# p\n", &meta).unwrap();
    assert!(
        page.ends_with(".SH \"SEE ALSO\"\n\\fBvrun\\fR(1), \\fBimage.yaml\\fR(5)\n.PP\nIn /usr/share/doc/vrun/.\n"),
        "{page}"
    );
}

#[test]
fn refuses_what_it_cannot_show() {
    // (markdown after the title, error)
    let cases: &[(&str, &str)] = &[
        (
            "#### Deep",
            "line 3: only `##` and `###` headings can follow the title",
        ),
        (
            "> quote",
            "line 3: block quotes and HTML have no man page form here",
        ),
        (
            "text\n<div>",
            "line 4: block quotes and HTML have no man page form here",
        ),
        ("```\ncode", "line 3: code block not closed"),
        (
            "| a | b |\n| x | y |",
            "line 4: a table's second line must be its `|---|` rule",
        ),
        ("| a |\n|---|", "line 3: a table needs two columns at least"),
        (
            "| a | b |\n|---|---|\n| 1 |",
            "line 5: 1 cells, the header has 2",
        ),
    ];
    for (markdown, want) in cases {
        let err = convert(markdown).unwrap_err();
        assert_eq!(err.to_string(), *want, "{markdown:?}");
    }
    let refs = refs();
    let meta = Meta {
        name: "proc.yaml",
        section: 5,
        date: "",
        source: "",
        whatis: "",
        refs: &refs,
        see_also: &[],
        see_also_text: "",
    };
    let err = to_man("\n# image.yaml\n", &meta).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2: the page must start with `# proc.yaml`"
    );
}
