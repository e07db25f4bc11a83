//! The `postinst` of the packages whose tools start containers (vrun, vimage): it gives root a
//! range of host ids in /etc/subuid and /etc/subgid when root has none there. vr maps the ids
//! 0-65535 of every container to root's range, and LXC's `newuidmap`/`newgidmap` (package
//! `uidmap`) refuse a range that root was not given (docs/lxc.md, "User namespace").
//!
//! The script is POSIX sh with `set -e`, acts only on `configure`, never touches a line it did
//! not write and never writes a second root line: root's own entry (by name or as uid 0), if
//! any, is left as it is. The range it gives is 100000-165535, vr's default, unless another
//! line of the file already uses one of those ids (the first user made at install often has
//! `100000:65536` on Debian and Ubuntu): then the first 65536 ids free after the ranges in the
//! way, since a user who holds the containers' ids could enter their files through a user
//! namespace of his own. Nothing is left half-done: no free range is a warning, never a failed
//! install. The packages never remove the line: files under `VR_ROOT` keep those owners.

/// The line of the script naming the files it edits; tests point it at temp files.
#[cfg(test)]
pub const FILES_LINE: &str = "for file in /etc/subuid /etc/subgid; do";

/// The `DEBIAN/postinst` of `tool`'s package.
pub fn postinst(tool: &str) -> String {
    TEMPLATE.replace("@TOOL@", tool)
}

const TEMPLATE: &str = r#"#!/bin/sh
# postinst of @TOOL@ (vr): give root a range of host ids for the user namespaces of vr's
# containers, unless root has one. vr maps the ids 0-65535 of every container to root's
# range in /etc/subuid and /etc/subgid, and LXC's newuidmap/newgidmap refuse a range root
# was not given. Root's own line is never changed, nor any other line.
set -e

COUNT=65536
FIRST=100000
# The last base whose range still ends below 2^32.
LAST=$((4294967295 - COUNT))

# Whether a line of file $1 gives away one of the ids $2 to $2+COUNT-1; if so, $next is the
# first id after that line's range.
taken() {
    while IFS=: read -r who start count rest || [ -n "$who$start$count" ]; do
        case "$start:$count" in
        *[!0-9:]* | :* | *:) continue ;;
        esac
        # Leading zeros would make the shell read octal.
        start=${start#"${start%%[!0]*}"}
        count=${count#"${count%%[!0]*}"}
        [ "${#start}" -le 10 ] && [ "${#count}" -le 10 ] || continue
        next=$((${start:-0} + ${count:-0}))
        if [ "${start:-0}" -lt $(($2 + COUNT)) ] && [ "$2" -lt "$next" ]; then
            return 0
        fi
    done <"$1"
    return 1
}

case "$1" in
configure)
    for file in /etc/subuid /etc/subgid; do
        if [ -e "$file" ] && grep -Eq '^(root|0):' "$file"; then
            continue
        fi
        if [ ! -e "$file" ]; then
            : >"$file"
            chmod 644 "$file"
        fi
        base=$FIRST
        while [ "$base" -le "$LAST" ] && taken "$file" "$base"; do
            base=$next
        done
        if [ "$base" -gt "$LAST" ]; then
            echo "@TOOL@: warning: no free range of $COUNT ids in $file: give root one (a line root:<first id>:$COUNT) before starting containers" >&2
            continue
        fi
        # A last line without its newline gets one first.
        if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then
            echo >>"$file"
        fi
        echo "root:$base:$COUNT" >>"$file"
        echo "@TOOL@: gave root the host ids $base-$((base + COUNT - 1)) in $file (vr's containers map their ids 0-65535 to them)"
    done
    ;;
esac

exit 0
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;
    use std::process::Command;

    /// Runs `tool`'s postinst with `arg`, its files pointed at `dir`/subuid and `dir`/subgid,
    /// under `shell` (a command line); returns (status, stdout, stderr).
    fn run_postinst(shell: &[String], tool: &str, dir: &Path, arg: &str) -> (i32, String, String) {
        let script = postinst(tool);
        assert_eq!(script.matches(FILES_LINE).count(), 1, "{script}");
        let script = script.replace(
            FILES_LINE,
            &format!(
                "for file in {}/subuid {}/subgid; do",
                dir.display(),
                dir.display()
            ),
        );
        let path = dir.join("postinst");
        fs::write(&path, script).unwrap();
        let out = Command::new(&shell[0])
            .args(&shell[1..])
            .arg(&path)
            .arg(arg)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// The shells the postinst must work in, as command lines: /bin/sh (dash on Debian, what dpkg
    /// runs it with), and bash in POSIX mode and busybox sh where they are installed.
    fn posix_shells() -> Vec<Vec<String>> {
        let mut shells = vec![vec!["/bin/sh".to_string()]];
        for (name, args) in [("bash", &["--posix"][..]), ("busybox", &["sh"][..])] {
            if let Some(path) = vr_tests::which(name) {
                let mut line = vec![path.display().to_string()];
                line.extend(args.iter().map(|a| a.to_string()));
                shells.push(line);
            }
        }
        shells
    }

    #[test]
    fn postinst_is_posix_sh_with_set_e() {
        let script = postinst("vrun");
        assert!(script.starts_with("#!/bin/sh\n"), "{script}");
        assert!(script.contains("\nset -e\n"), "{script}");
        assert!(!script.contains("@TOOL@"), "{script}");
        for shell in posix_shells() {
            let out = Command::new(&shell[0])
                .args(&shell[1..])
                .arg("-n")
                .arg("/dev/stdin")
                .stdin(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write as _;
                    child.stdin.take().unwrap().write_all(script.as_bytes())?;
                    child.wait_with_output()
                })
                .unwrap();
            assert!(out.status.success(), "{shell:?}: {out:?}");
        }
    }

    #[test]
    fn postinst_gives_root_a_free_range_once() {
        const ROOT: &str = "root:100000:65536\n";
        // (subuid before, subgid before) -> (subuid after, subgid after); None: no file.
        type Files = (Option<&'static str>, Option<&'static str>);
        let cases: &[(Files, (&str, &str))] = &[
            ((None, None), (ROOT, ROOT)),
            ((Some(""), Some("")), (ROOT, ROOT)),
            // Root's own entry, by name or uid, is left as it is.
            (
                (Some("root:200000:65536\n"), None),
                ("root:200000:65536\n", ROOT),
            ),
            (
                (Some("0:300000:1000\n"), Some("root:1:2\n")),
                ("0:300000:1000\n", "root:1:2\n"),
            ),
            // Another user holds 100000-165535 (the first user of many installs): the next free ids.
            (
                (Some("alice:100000:65536\n"), Some("alice:100000:65536\n")),
                (
                    "alice:100000:65536\nroot:165536:65536\n",
                    "alice:100000:65536\nroot:165536:65536\n",
                ),
            ),
            // ... after every range in the way; a last line without its newline gets one.
            (
                (
                    Some("bob:165536:65536\nalice:100000:65536"),
                    Some("svc:150000:10\n"),
                ),
                (
                    "bob:165536:65536\nalice:100000:65536\nroot:231072:65536\n",
                    "svc:150000:10\nroot:150010:65536\n",
                ),
            ),
            // Leading zeros are decimal; "rooty" is not root; lines not understood stay.
            (
                (Some("rooty:0100000:65536\n"), Some("# x\n\nx:y:z\n:5:\n")),
                (
                    "rooty:0100000:65536\nroot:165536:65536\n",
                    "# x\n\nx:y:z\n:5:\nroot:100000:65536\n",
                ),
            ),
            // A range below 100000 that ends inside it.
            (
                (Some("u:99999:2\n"), None),
                ("u:99999:2\nroot:100001:65536\n", ROOT),
            ),
        ];
        for shell in posix_shells() {
            for ((uid_before, gid_before), (uid_after, gid_after)) in cases {
                let tmp = tempfile::tempdir().unwrap();
                let (subuid, subgid) = (tmp.path().join("subuid"), tmp.path().join("subgid"));
                for (path, text) in [(&subuid, uid_before), (&subgid, gid_before)] {
                    if let Some(text) = text {
                        fs::write(path, text).unwrap();
                    }
                }
                let what = format!("{shell:?} {uid_before:?} {gid_before:?}");
                let (status, stdout, stderr) =
                    run_postinst(&shell, "vrun", tmp.path(), "configure");
                assert_eq!((status, stderr.as_str()), (0, ""), "{what}");
                assert_eq!(fs::read_to_string(&subuid).unwrap(), *uid_after, "{what}");
                assert_eq!(fs::read_to_string(&subgid).unwrap(), *gid_after, "{what}");
                // What it added, it says; nothing else.
                let added = [
                    (&subuid, uid_before, uid_after),
                    (&subgid, gid_before, gid_after),
                ]
                .iter()
                .filter(|(_, before, after)| before.unwrap_or("") != **after)
                .count();
                assert_eq!(stdout.lines().count(), added, "{what}: {stdout}");
                for line in stdout.lines() {
                    assert!(
                        line.starts_with("vrun: gave root the host ids ")
                            && line.ends_with(" (vr's containers map their ids 0-65535 to them)"),
                        "{what}: {line}"
                    );
                }
                if uid_before.is_none() {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = fs::metadata(&subuid).unwrap().permissions().mode();
                    assert_eq!(mode & 0o777, 0o644, "{what}");
                }
                // A second run (both packages, an upgrade) changes nothing.
                let again = run_postinst(&shell, "vimage", tmp.path(), "configure");
                assert_eq!(again, (0, String::new(), String::new()), "{what}");
                assert_eq!(fs::read_to_string(&subuid).unwrap(), *uid_after, "{what}");
                assert_eq!(fs::read_to_string(&subgid).unwrap(), *gid_after, "{what}");
            }
        }
    }

    #[test]
    fn postinst_does_nothing_but_configure_and_never_fails_the_install() {
        for shell in posix_shells() {
            let tmp = tempfile::tempdir().unwrap();
            for arg in ["abort-upgrade", "abort-remove", "triggered", ""] {
                let got = run_postinst(&shell, "vrun", tmp.path(), arg);
                assert_eq!(got, (0, String::new(), String::new()), "{arg:?}");
                assert!(!tmp.path().join("subuid").exists(), "{arg:?}");
            }
            // No free range at all: a warning, the file as it was, and the install goes on.
            let full = "all:1:4294967294\n";
            fs::write(tmp.path().join("subuid"), full).unwrap();
            fs::write(tmp.path().join("subgid"), "root:5:65536\n").unwrap();
            let (status, stdout, stderr) = run_postinst(&shell, "vrun", tmp.path(), "configure");
            assert_eq!((status, stdout.as_str()), (0, ""));
            assert_eq!(
                stderr,
                format!(
                    "vrun: warning: no free range of 65536 ids in {}/subuid: give root one (a line root:<first id>:65536) before starting containers\n",
                    tmp.path().display()
                )
            );
            assert_eq!(fs::read_to_string(tmp.path().join("subuid")).unwrap(), full);
        }
    }
}
