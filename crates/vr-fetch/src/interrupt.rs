//! Ctrl-C or SIGTERM during a download or an unpack: stop at the next chunk or entry and
//! return [`crate::Error::Interrupted`], so that the temp file or temp folder is removed on the way
//! out instead of being left half-written beside the cache entry.
//!
//! A tool calls [`install`] (or [`vr_stop::Stop::install`]) once before fetching; from then on
//! SIGINT, SIGTERM and SIGHUP only set the process's flag that the download and unpack loops
//! look at. A second signal kills the process at once (for a download that hangs).
//! Libraries and tests can pass a [`vr_stop::Stop`] of their own instead
//! ([`crate::FetchOptions::stop`], [`crate::UnpackOptions::stop`]); the default is the
//! process's flag. What a killed process leaves behind is removed by the next fetch or unpack
//! of the same entry (see [`remove_stale_temps`]).

use std::path::Path;

/// Makes SIGINT, SIGTERM and SIGHUP stop downloads and unpacks: the process's
/// [`vr_stop::Stop`] flag, which every vr tool shares (see the module docs).
pub fn install() -> std::io::Result<()> {
    vr_stop::Stop::install().map(|_| ())
}

/// The signal that asked the process to stop, if one did.
pub fn caught() -> Option<i32> {
    vr_stop::Stop::process().signal()
}

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
