//! Rules for values that become path components: container names, image names, tarball names.

use crate::{Error, Result};

/// Why `part` cannot be (part of) a single path component on the host, or `None` when it can.
///
/// Rejected: empty, `.`, `..`, `/`, NUL, control characters (the names end up in the LXC
/// config, one setting per line) and `:` or `,` (they separate the layers and options of an
/// overlay mount, which holds these paths).
pub fn name_problem(part: &str) -> Option<&'static str> {
    if part.is_empty() {
        Some("must not be empty")
    } else if part == "." || part == ".." {
        Some("must not be `.` or `..`")
    } else if part.contains('/') {
        Some("must not contain `/`")
    } else if part.contains('\0') {
        Some("must not contain a NUL byte")
    } else if part.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if part.contains([':', ',']) {
        Some("must not contain `:` or `,` (they split overlay mount options)")
    } else {
        None
    }
}

/// Checks that `value` (of key `key`) is a safe single path component.
pub fn check_name(value: &str, key: &'static str) -> Result<()> {
    match name_problem(value) {
        Some(reason) => Err(Error::InvalidName {
            key,
            value: value.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The file name at the end of a URL or local path, validated as a path component.
///
/// For URLs (`scheme://...`) the query and fragment are dropped first; a local path keeps `?`
/// and `#` as part of the name. `key` names the proc.yaml key in errors.
pub fn url_basename(url_or_path: &str, key: &'static str) -> Result<String> {
    let path = match url_or_path.split_once("://") {
        Some((_scheme, rest)) => {
            let rest = rest.split(['?', '#']).next().unwrap_or(rest);
            match rest.split_once('/') {
                Some((_host, path)) => path,
                None => "",
            }
        }
        None => url_or_path,
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.is_empty() {
        return Err(Error::InvalidName {
            key,
            value: url_or_path.to_string(),
            reason: "has no file name at its end",
        });
    }
    match name_problem(name) {
        Some(reason) => Err(Error::InvalidName {
            key,
            value: url_or_path.to_string(),
            reason: match reason {
                "must not be `.` or `..`" => "ends in `.` or `..`, not a file name",
                _ => reason,
            },
        }),
        None => Ok(name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases: &[(&str, Option<&str>)] = &[
            ("web", None),
            ("v1.2.3", None),
            ("my app ünïcode", None),
            ("-dash-", None),
            ("", Some("must not be empty")),
            (".", Some("must not be `.` or `..`")),
            ("..", Some("must not be `.` or `..`")),
            ("...", None),
            ("a/b", Some("must not contain `/`")),
            ("/", Some("must not contain `/`")),
            ("a\0b", Some("must not contain a NUL byte")),
            (
                "a\nlxc.mount.entry",
                Some("must not contain control characters"),
            ),
            (
                "a:b",
                Some("must not contain `:` or `,` (they split overlay mount options)"),
            ),
            (
                "a,b",
                Some("must not contain `:` or `,` (they split overlay mount options)"),
            ),
        ];
        for (name, want) in cases {
            assert_eq!(name_problem(name), *want, "{name:?}");
        }
    }

    #[test]
    fn check_name_error_text() {
        let err = check_name("..", "image_name").unwrap_err();
        assert_eq!(
            err.to_string(),
            "key `image_name`: \"..\" must not be `.` or `..`"
        );
    }

    #[test]
    fn basenames() {
        let ok: &[(&str, &str)] = &[
            ("http://h/builds/app-1.tar.gz", "app-1.tar.gz"),
            ("https://h:8080/a/b/app.tar.gz?sig=x/y#frag", "app.tar.gz"),
            ("https://h/app.tar.bz2#x", "app.tar.bz2"),
            ("/srv/builds/app.tar.xz", "app.tar.xz"),
            ("app.tar.gz", "app.tar.gz"),
            ("/srv/odd#name?.tar.gz", "odd#name?.tar.gz"),
            ("file:///srv/x.tar.gz", "x.tar.gz"),
        ];
        for (url, want) in ok {
            assert_eq!(url_basename(url, "build_url").unwrap(), *want, "{url}");
        }
        let bad: &[(&str, &str)] = &[
            (
                "http://h/builds/",
                "key `build_url`: \"http://h/builds/\" has no file name at its end",
            ),
            (
                "http://h",
                "key `build_url`: \"http://h\" has no file name at its end",
            ),
            (
                "http://h/?x=/y",
                "key `build_url`: \"http://h/?x=/y\" has no file name at its end",
            ),
            ("", "key `build_url`: \"\" has no file name at its end"),
            (
                "http://h/a/..",
                "key `build_url`: \"http://h/a/..\" ends in `.` or `..`, not a file name",
            ),
            (
                "/srv/.",
                "key `build_url`: \"/srv/.\" ends in `.` or `..`, not a file name",
            ),
            (
                "/srv/a\nb",
                "key `build_url`: \"/srv/a\\nb\" must not contain control characters",
            ),
        ];
        for (url, want) in bad {
            let err = url_basename(url, "build_url").unwrap_err();
            assert_eq!(err.to_string(), *want, "{url}");
        }
    }
}
