//! Reading the YAML files vr is handed (proc.yaml, image.yaml) and the files it reads from an
//! unpacked build or image (the Procfile, /etc/passwd, /etc/group) without letting a hostile
//! file hang or exhaust the tools: at most [`MAX_CONFIG_BYTES`] are read (so `/dev/zero` is an
//! error, not an endless read); files of a build or image must be regular files (not a symlink
//! out of the tree, not a FIFO that blocks); and flow collections nested deeper than
//! [`MAX_NESTING`] are refused before the YAML parser sees them: libyaml takes time quadratic
//! in that depth (200 000 `[` kept it busy for minutes).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::{Error, Result};

/// The largest proc.yaml, image.yaml or Procfile read, in bytes (1 MiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The deepest nesting of flow collections (`[` and `{`) accepted.
pub const MAX_NESTING: usize = 64;

/// Reads the YAML file at `path` (a proc.yaml or image.yaml; symlinks are followed).
pub fn read_config(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|source| read_error(path, source))?;
    read_capped(path, file)
}

/// Reads a file of an unpacked build or image (a Procfile, an image's /etc/passwd): `None` when
/// it does not exist; an error when it is anything but a regular file (a symlink is not
/// followed: it could point anywhere on the host).
pub fn read_unpacked_file(path: &Path) -> Result<Option<String>> {
    let meta = match path.symlink_metadata() {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(read_error(path, source)),
    };
    let kind = meta.file_type();
    let what = if kind.is_symlink() {
        "a symlink"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_file() {
        let file = File::open(path).map_err(|source| read_error(path, source))?;
        return read_capped(path, file).map(Some);
    } else {
        "a special file"
    };
    Err(Error::NotAFile {
        file: path.to_path_buf(),
        what,
    })
}

fn read_error(path: &Path, source: std::io::Error) -> Error {
    Error::Read {
        file: path.to_path_buf(),
        source,
    }
}

fn read_capped(path: &Path, file: File) -> Result<String> {
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| read_error(path, source))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(Error::TooLarge {
            file: path.to_path_buf(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        read_error(
            path,
            std::io::Error::new(
                ErrorKind::InvalidData,
                format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            ),
        )
    })
}

/// The line of the first `[` or `{` that opens a flow collection deeper than `max`, if any.
///
/// A conservative scan, so that a file it passes cannot be deeper for libyaml: comments are
/// skipped, brackets in plain and block scalars count, and brackets inside a quoted scalar
/// count on top of the depth where it starts but are forgotten when it closes (a quote this
/// scan takes for the start of a scalar where YAML does not, inside a block scalar, say, thus
/// hides nothing). A real file holds neither `max` unclosed brackets outside quotes nor one
/// string with `max` of them.
pub fn too_deep(text: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut prev = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '#' if prev.is_whitespace() => {
                // A comment: to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
                prev = '\n';
                continue;
            }
            '\'' | '"' if prev.is_whitespace() || "[{,".contains(prev) => {
                // A quoted scalar: to its closing quote ('' and \" do not close it).
                let quote = c;
                let mut inner = 0usize;
                while let Some(c) = chars.next() {
                    match c {
                        '\n' => line += 1,
                        '[' | '{' => {
                            inner += 1;
                            if depth + inner > max {
                                return Some(line);
                            }
                        }
                        // An escape: the next character is taken as it is.
                        '\\' if quote == '"' => line += usize::from(chars.next() == Some('\n')),
                        c if c == quote => {
                            if quote == '\'' && chars.peek() == Some(&'\'') {
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > max {
                    return Some(line);
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_depth() {
        let deep = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        assert_eq!(too_deep(&deep(64), 64), None);
        assert_eq!(too_deep(&deep(65), 64), Some(1));
        assert_eq!(too_deep(&format!("x: 1\n\n{}", deep(65)), 64), Some(3));
        // Siblings do not add up; maps count like lists.
        let wide = format!("a: [{}]\n", "[1], ".repeat(1000));
        assert_eq!(too_deep(&wide, 2), None);
        assert_eq!(too_deep("a: {b: {c: [1]}}\n", 2), Some(1));
    }

    #[test]
    fn quoted_brackets_count_only_while_quoted_and_comments_not_at_all() {
        let text =
            "a: '[ it''s [['\nb: \"[[ \\\" [\"\nc: '[[['\n# [[[[[[\nc: x # [[[[[\nd: it's [ok]\n";
        assert_eq!(too_deep(text, 3), None);
        assert_eq!(too_deep(text, 2), Some(1));
        // An apostrophe inside a word starts no quote: the brackets after it count.
        assert_eq!(too_deep("a: it's [[x]]\n", 1), Some(1));
        // Quotes opened in a flow list count on top of it, each on its own.
        assert_eq!(too_deep("a: ['[[[', \"{{{\"]\n", 4), None);
        assert_eq!(too_deep("a: ['[[[', \"{{{\"]\n", 3), Some(1));
    }

    #[test]
    fn a_quote_that_is_not_one_hides_nothing() {
        // In a block scalar a quote is text; the scan still counts what follows it.
        let text = "a: |\n  it is '\nb: [[[[x]]]]\n# '\n";
        assert_eq!(too_deep(text, 3), Some(3));
        // Many strings with an unclosed bracket each do not add up.
        let many = "- '[ x'\n".repeat(100);
        assert_eq!(too_deep(&many, 2), None);
        // One string with too many does.
        assert_eq!(too_deep("a: '[[[['\n", 3), Some(1));
    }

    #[test]
    fn lines_are_counted_inside_quotes() {
        assert_eq!(too_deep("a: 'one\ntwo'\nb: [[x]]\n", 1), Some(3));
        assert_eq!(too_deep("a: \"one\\\ntwo\"\nb: [[x]]\n", 1), Some(3));
    }

    #[test]
    fn reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
        let err = read_config(&big).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}: larger than 1048576 bytes, refused", big.display())
        );
        // An endless file is cut at the limit, not read forever.
        let err = read_config(Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(err, "/dev/zero: larger than 1048576 bytes, refused");
        let just = dir.path().join("just.yaml");
        std::fs::write(&just, vec![b'#'; MAX_CONFIG_BYTES as usize]).unwrap();
        assert_eq!(read_config(&just).unwrap().len(), MAX_CONFIG_BYTES as usize);
    }

    #[test]
    fn not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin.yaml");
        std::fs::write(&bin, b"a: ok\nb: \xff\n").unwrap();
        let err = read_config(&bin).unwrap_err();
        assert_eq!(
            format!("{err}: {}", std::error::Error::source(&err).unwrap()),
            format!("cannot read {}: not UTF-8 text (byte 9)", bin.display())
        );
    }

    #[test]
    fn build_files_must_be_regular() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Procfile");
        assert_eq!(read_unpacked_file(&p).unwrap(), None);
        std::os::unix::fs::symlink("/etc/passwd", &p).unwrap();
        let err = read_unpacked_file(&p).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}: is a symlink, expected a regular file", p.display())
        );
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        assert!(read_unpacked_file(&p)
            .unwrap_err()
            .to_string()
            .ends_with("is a folder, expected a regular file"));
        std::fs::remove_dir(&p).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(fifo.success());
        assert!(read_unpacked_file(&p)
            .unwrap_err()
            .to_string()
            .ends_with("is a named pipe, expected a regular file"));
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, "web: run\n").unwrap();
        assert_eq!(
            read_unpacked_file(&p).unwrap().as_deref(),
            Some("web: run\n")
        );
    }
}
