//! Turning a failed spawn into the `Output` text of an uptest that could not be started.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// Says why `path` could not be started, naming the file (and the interpreter of its `#!`
/// line when that is what is missing).
pub fn describe_spawn_error(path: &Path, err: &io::Error) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let hint = match err.raw_os_error() {
        // The file is there, so what is missing is the interpreter of its #! line.
        Some(libc::ENOENT) => match interpreter(path) {
            Some(interp) => format!(" (bad interpreter: {interp})"),
            None => String::new(),
        },
        Some(libc::ENOEXEC) => " (not a binary for this machine and no #! line)".to_string(),
        Some(libc::EACCES) if !is_executable(path) => " (not executable: chmod +x)".to_string(),
        _ => String::new(),
    };
    format!("cannot start {name}: {err}{hint}")
}

/// The interpreter named by the `#!` line of `path`, if it has one.
fn interpreter(path: &Path) -> Option<String> {
    let mut head = [0u8; 256];
    let n = fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let text = String::from_utf8_lossy(line);
    text.split_whitespace().next().map(str::to_string)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn explains_each_failure() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let write = |name: &str, body: &str, mode: u32| {
            let p = d.join(name);
            fs::write(&p, body).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let enoent = io::Error::from_raw_os_error(libc::ENOENT);
        let eacces = io::Error::from_raw_os_error(libc::EACCES);
        let enoexec = io::Error::from_raw_os_error(libc::ENOEXEC);
        let bad = write("bad", "#!/no/such/sh -e\necho\n", 0o755);
        let plain = write("plain", "echo hi\n", 0o644);
        let noshebang = write("noshebang", "x", 0o755);
        symlink("missing", d.join("broken")).unwrap();
        let cases: Vec<(std::path::PathBuf, &io::Error, String)> = vec![
            (
                bad,
                &enoent,
                "cannot start bad: No such file or directory (os error 2) (bad interpreter: /no/such/sh)"
                    .into(),
            ),
            (
                plain,
                &eacces,
                "cannot start plain: Permission denied (os error 13) (not executable: chmod +x)"
                    .into(),
            ),
            (
                noshebang,
                &enoexec,
                "cannot start noshebang: Exec format error (os error 8) (not a binary for this machine and no #! line)"
                    .into(),
            ),
            (
                d.join("broken"),
                &enoent,
                "cannot start broken: No such file or directory (os error 2)".into(),
            ),
        ];
        for (path, err, want) in cases {
            assert_eq!(describe_spawn_error(&path, err), want);
        }
    }
}
