//! Ctrl-C or SIGTERM during a download or an unpack: stop at the next chunk or entry and
//! return [`Error::Interrupted`], so that the temp file or temp folder is removed on the way
//! out instead of being left half-written beside the cache entry.
//!
//! A tool calls [`install`] once before fetching; from then on SIGINT, SIGTERM and SIGHUP only
//! set a flag that the download and unpack loops look at. A second signal of the same run
//! restores the default action and kills the process at once (for a download that hangs).
//! What a killed process leaves behind is removed by the next call that takes the same
//! entry's lock (see [`remove_stale_temps`]).

use crate::error::{Error, Result};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked us to stop; 0 while none did.
static CAUGHT: AtomicI32 = AtomicI32::new(0);

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(signal: libc::c_int) {
    if CAUGHT.swap(signal, Ordering::SeqCst) != 0 {
        // The second one: no more waiting.
        // SAFETY: signal() and raise() are async-signal-safe.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// Makes SIGINT, SIGTERM and SIGHUP stop downloads and unpacks (see the module docs). Without
/// SA_RESTART, so that a read waiting on a silent server returns.
pub fn install() -> nix::Result<()> {
    for signal in SIGNALS {
        // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic and calls
        // async-signal-safe functions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(nix::errno::Errno::last());
            }
        }
    }
    Ok(())
}

/// The signal that asked the process to stop, if one did.
pub fn caught() -> Option<i32> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// [`Error::Interrupted`] when a signal asked us to stop.
pub(crate) fn check() -> Result<()> {
    match caught() {
        Some(signal) => Err(Error::Interrupted { signal }),
        None => Ok(()),
    }
}

/// Removes what killed processes left beside `target`: temp downloads `.<name>.XXXXXX.part`
/// and temp unpack folders `.<name>.unpack-XXXXXX`. Call it only while holding the lock that
/// covers `target` (no live process is writing them then). Returns how many it removed.
pub fn remove_stale_temps(target: &Path) -> usize {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return 0;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let name = name.to_string_lossy();
    let part = format!(".{name}.");
    let unpack = format!(".{name}.unpack-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let gone = if file.starts_with(&unpack) {
            std::fs::remove_dir_all(&path).is_ok()
        } else if file.starts_with(&part) && file.ends_with(".part") {
            std::fs::remove_file(&path).is_ok()
        } else {
            false
        };
        removed += usize::from(gone);
    }
    removed
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
