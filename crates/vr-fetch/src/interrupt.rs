//! A download or an unpack stopped by its [`vr_stop::Stop`] ([`crate::FetchOptions::stop`],
//! [`crate::UnpackOptions::stop`]; by default the process's flag, which a binary sets up with
//! [`vr_stop::Stop::install`]) returns [`crate::Error::Interrupted`] at the next chunk or entry,
//! its temp file or folder removed on the way out. What a killed process leaves behind is
//! removed by the next fetch or unpack of the same entry (see [`remove_stale_temps`]).

use std::path::Path;

/// Removes what killed processes left beside `target`: temp downloads `.<name>.XXXXXX.part`
/// and temp unpack folders `.<name>.unpack-XXXXXX` that no live process holds locked (every
/// writer holds an `flock` on its temp file or folder while it writes). Returns how many it
/// removed. Fetches and unpacks call it themselves for their entry.
pub fn remove_stale_temps(target: &Path) -> usize {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return 0;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    crate::temp::sweep(dir, &name.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temps_of_this_entry_only() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in [
            ".img.tar.gz.a1B2c3.part",
            ".other.tar.gz.x.part",
            "img.tar.gz",
            "img.tar.gz.lock",
        ] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        for dir in [
            ".contents.unpack-Q1w2E3",
            ".contents.0123456789abcdef0123456789abcdef.Zz9",
            "contents",
        ] {
            std::fs::create_dir_all(d.join(dir).join("sub")).unwrap();
        }
        assert_eq!(remove_stale_temps(&d.join("img.tar.gz")), 1);
        assert_eq!(remove_stale_temps(&d.join("contents")), 1);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".contents.0123456789abcdef0123456789abcdef.Zz9",
                ".other.tar.gz.x.part",
                "contents",
                "img.tar.gz",
                "img.tar.gz.lock"
            ]
        );
    }
}
