//! How far a download or an unpack may go before it is stopped, and the free-space check both
//! share.
//!
//! Defaults ([`DownloadLimits::default`], [`UnpackLimits::default`]):
//!
//! | limit | default | stops |
//! |---|---|---|
//! | `VR_DOWNLOAD_SPEED_LIMIT` / `VR_DOWNLOAD_SPEED_TIME` | 1 KiB/s over 30 s | a download slower than that over any 30 s (curl's `--speed-limit`/`--speed-time`); a server silent for 30 s |
//! | `VR_DOWNLOAD_MAX_BYTES` | 16 GiB | a download larger than that |
//! | `VR_KEEP_FREE_BYTES` | 5% of the file system, at most 1 GiB | a download that would leave less free |
//! | `download.connect_timeout` | 30 s | a server that does not accept the connection |
//! | `download.max_redirects` | 5 | a chain of redirects (a loop) |
//! | `VR_UNPACK_MAX_BYTES` | 64 GiB | an unpack whose files (real bytes, and the declared size of sparse files) add up to more |
//! | `VR_UNPACK_MAX_ENTRIES` | 1,000,000 | a tarball with more entries |
//! | `VR_KEEP_FREE_BYTES` | 5% of the file system, at most 1 GiB | an unpack that would leave less free |
//!
//! The `VR_*` names are environment variables of vrun and vimage that set these limits
//! ([`Limits::from_env`]): whole numbers of bytes, entries or seconds; `VR_KEEP_FREE_BYTES` sets
//! the most kept back (the 5% stays). Error messages name the variable that raises a limit.
//!
//! Sizes are counted as the disk will hold them: each file rounded up to 4 KiB blocks, each
//! folder one block. Free space is read with `statvfs` (blocks available to unprivileged users)
//! when the work starts and again after every 16 MiB.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often free space is read again, in bytes written.
const RECHECK: u64 = 16 << 20;
/// The block size sizes are rounded up to.
pub(crate) const BLOCK: u64 = 4096;

/// Free space to leave on a file system: `percent` of its size, but never more than
/// `at_most` bytes (so a large disk does not keep hundreds of GB back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepFree {
    /// Share of the file system's size to leave free, in percent (0 to 100).
    pub percent: u8,
    /// The most that is kept back, in bytes, whatever the percentage says.
    pub at_most: u64,
}

impl Default for KeepFree {
    /// 5%, at most 1 GiB.
    fn default() -> KeepFree {
        KeepFree {
            percent: 5,
            at_most: 1 << 30,
        }
    }
}

impl KeepFree {
    /// Nothing kept back: only the other limits apply.
    pub const NONE: KeepFree = KeepFree {
        percent: 0,
        at_most: 0,
    };

    /// The bytes to keep free on a file system of `size` bytes.
    pub fn bytes(&self, size: u64) -> u64 {
        let share = (u128::from(size) * u128::from(self.percent.min(100)) / 100) as u64;
        share.min(self.at_most)
    }
}

/// Limits of one download (see the module docs for the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadLimits {
    /// Low-speed limit in bytes per second: fewer bytes than `speed_limit * speed_time`
    /// arriving in any `speed_time` window ends the download (0: no speed limit).
    pub speed_limit: u64,
    /// The window of the low-speed limit; also how long a server may stay silent, and how
    /// long after connecting it may take to send its headers.
    pub speed_time: Duration,
    /// The most bytes a download may have.
    pub max_bytes: u64,
    /// Free space to leave on the cache's file system.
    pub keep_free: KeepFree,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// The most redirects followed.
    pub max_redirects: u32,
}

impl Default for DownloadLimits {
    fn default() -> DownloadLimits {
        DownloadLimits {
            speed_limit: 1024,
            speed_time: Duration::from_secs(30),
            max_bytes: 16 << 30,
            keep_free: KeepFree::default(),
            connect_timeout: Duration::from_secs(30),
            max_redirects: 5,
        }
    }
}

/// Limits of one unpack (see the module docs for the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// The most bytes the unpacked files may take: real bytes and the declared size of
    /// sparse files alike, each file rounded up to 4 KiB.
    pub max_bytes: u64,
    /// The most entries a tarball may have.
    pub max_entries: u64,
    /// Free space to leave on the target's file system.
    pub keep_free: KeepFree,
}

impl Default for UnpackLimits {
    fn default() -> UnpackLimits {
        UnpackLimits {
            max_bytes: 64 << 30,
            max_entries: 1_000_000,
            keep_free: KeepFree::default(),
        }
    }
}

/// A limit that stopped a download or an unpack; its text names the setting that changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Fewer than `bytes_per_sec` per second arrived over `window`.
    Speed {
        /// The low-speed limit.
        bytes_per_sec: u64,
        /// Its window.
        window: Duration,
    },
    /// The download is larger than `max` bytes.
    DownloadSize {
        /// `VR_DOWNLOAD_MAX_BYTES`.
        max: u64,
    },
    /// The download would leave less than `keep` bytes free on the file system of `dir`.
    DownloadSpace {
        /// The folder written to.
        dir: PathBuf,
        /// The bytes to keep free there.
        keep: u64,
    },
    /// The unpacked files would take more than `max` bytes.
    UnpackSize {
        /// `VR_UNPACK_MAX_BYTES`.
        max: u64,
    },
    /// The tarball has more than `max` entries.
    UnpackEntries {
        /// `VR_UNPACK_MAX_ENTRIES`.
        max: u64,
    },
    /// The unpack would leave less than `keep` bytes free on the file system of `dir`.
    UnpackSpace {
        /// The folder unpacked in.
        dir: PathBuf,
        /// The bytes to keep free there.
        keep: u64,
    },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Speed {
                bytes_per_sec,
                window,
            } => write!(
                f,
                "fewer than {bytes_per_sec} bytes/s arrived over {} s \
                 (VR_DOWNLOAD_SPEED_LIMIT, VR_DOWNLOAD_SPEED_TIME)",
                window.as_secs_f64()
            ),
            Limit::DownloadSize { max } => write!(
                f,
                "it is larger than the limit of {} (raise VR_DOWNLOAD_MAX_BYTES)",
                human(*max)
            ),
            Limit::DownloadSpace { dir, keep } => write!(
                f,
                "it would leave less than {} free on the file system of {} \
                 (lower VR_KEEP_FREE_BYTES)",
                human(*keep),
                dir.display()
            ),
            Limit::UnpackSize { max } => write!(
                f,
                "its files take more than the limit of {} (raise VR_UNPACK_MAX_BYTES)",
                human(*max)
            ),
            Limit::UnpackEntries { max } => write!(
                f,
                "it has more than {max} entries (raise VR_UNPACK_MAX_ENTRIES)"
            ),
            Limit::UnpackSpace { dir, keep } => write!(
                f,
                "it would leave less than {} free on the file system of {} \
                 (lower VR_KEEP_FREE_BYTES)",
                human(*keep),
                dir.display()
            ),
        }
    }
}

/// The limits of a tool's downloads and unpacks, as its environment sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Of downloads.
    pub download: DownloadLimits,
    /// Of unpacks.
    pub unpack: UnpackLimits,
}

impl Limits {
    /// The environment variables that set limits.
    pub const VARS: [&'static str; 6] = [
        "VR_DOWNLOAD_SPEED_LIMIT",
        "VR_DOWNLOAD_SPEED_TIME",
        "VR_DOWNLOAD_MAX_BYTES",
        "VR_UNPACK_MAX_BYTES",
        "VR_UNPACK_MAX_ENTRIES",
        "VR_KEEP_FREE_BYTES",
    ];

    /// The defaults, changed by each variable `var` returns a value for (see the module docs);
    /// an error names a variable that is not a whole number.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let mut limits = Limits::default();
        for name in Self::VARS {
            let Some(text) = var(name) else { continue };
            let value: u64 = text
                .trim()
                .parse()
                .map_err(|_| format!("{name}={text:?} is not a whole number"))?;
            match name {
                "VR_DOWNLOAD_SPEED_LIMIT" => limits.download.speed_limit = value,
                "VR_DOWNLOAD_SPEED_TIME" => {
                    if value == 0 {
                        return Err(format!("{name} must be at least 1 (seconds)"));
                    }
                    limits.download.speed_time = Duration::from_secs(value);
                }
                "VR_DOWNLOAD_MAX_BYTES" => limits.download.max_bytes = value,
                "VR_UNPACK_MAX_BYTES" => limits.unpack.max_bytes = value,
                "VR_UNPACK_MAX_ENTRIES" => limits.unpack.max_entries = value,
                _ => {
                    limits.download.keep_free.at_most = value;
                    limits.unpack.keep_free.at_most = value;
                }
            }
        }
        Ok(limits)
    }
}

/// `bytes` for people: `512 bytes`, `64 MiB`, `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if (value - value.round()).abs() < 0.05 {
        format!("{:.0} {}", value.round(), UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `bytes` rounded up to whole blocks.
pub(crate) fn blocks(bytes: u64) -> u64 {
    bytes.div_ceil(BLOCK).saturating_mul(BLOCK)
}

/// Room left on a file system before its free space drops below what is to be kept.
pub(crate) struct Room {
    dir: PathBuf,
    keep: u64,
    /// Free bytes above `keep` at the last look.
    room: u64,
    /// Bytes taken since the last look.
    since: u64,
}

impl Room {
    /// Looks at the file system of `dir`.
    pub(crate) fn new(dir: &Path, keep_free: KeepFree) -> std::io::Result<Room> {
        let mut room = Room {
            dir: dir.to_path_buf(),
            keep: 0,
            room: 0,
            since: 0,
        };
        let (size, free) = statvfs(dir)?;
        room.keep = keep_free.bytes(size);
        room.room = free.saturating_sub(room.keep);
        Ok(room)
    }

    /// The bytes to keep free, and the folder looked at.
    pub(crate) fn kept(&self) -> (&Path, u64) {
        (&self.dir, self.keep)
    }

    /// Takes `bytes` about to be written: false when they do not fit above what is kept free.
    /// Free space is read again every 16 MiB, and before a write that looks too big.
    pub(crate) fn take(&mut self, bytes: u64) -> bool {
        let fits = |r: &Room| r.since.saturating_add(bytes) <= r.room;
        if self.since >= RECHECK || !fits(self) {
            if let Ok((_, free)) = statvfs(&self.dir) {
                self.room = free.saturating_sub(self.keep);
                self.since = 0;
            }
        }
        if !fits(self) {
            return false;
        }
        self.since += bytes;
        true
    }
}

/// (size, free for unprivileged users) of the file system of `dir`, in bytes.
fn statvfs(dir: &Path) -> std::io::Result<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(dir)?;
    let frag = st.fragment_size() as u64;
    let frag = if frag == 0 {
        st.block_size() as u64
    } else {
        frag
    };
    Ok((
        (st.blocks() as u64).saturating_mul(frag),
        (st.blocks_available() as u64).saturating_mul(frag),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Limits::from_env(env(&[])).unwrap(), Limits::default());
        let l = Limits::from_env(env(&[
            ("VR_DOWNLOAD_SPEED_LIMIT", "10"),
            ("VR_DOWNLOAD_SPEED_TIME", "2"),
            ("VR_UNPACK_MAX_BYTES", "1048576"),
            ("VR_KEEP_FREE_BYTES", "0"),
        ]))
        .unwrap();
        assert_eq!(l.download.speed_limit, 10);
        assert_eq!(l.download.speed_time, Duration::from_secs(2));
        assert_eq!(l.unpack.max_bytes, 1 << 20);
        assert_eq!(l.unpack.keep_free.at_most, 0);
        assert_eq!(l.download.keep_free.at_most, 0);
        assert_eq!(
            Limits::from_env(env(&[("VR_UNPACK_MAX_ENTRIES", "lots")])).unwrap_err(),
            "VR_UNPACK_MAX_ENTRIES=\"lots\" is not a whole number"
        );
        assert!(Limits::from_env(env(&[("VR_DOWNLOAD_SPEED_TIME", "0")])).is_err());
    }

    #[test]
    fn human_table() {
        let cases = [
            (0, "0 bytes"),
            (1023, "1023 bytes"),
            (1024, "1 KiB"),
            (1536, "1.5 KiB"),
            (64 << 20, "64 MiB"),
            (16 << 30, "16 GiB"),
            (1 << 50, "1 PiB"),
            (u64::MAX, "16 EiB"),
        ];
        for (bytes, want) in cases {
            assert_eq!(human(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn keep_free_is_a_share_with_a_cap() {
        let k = KeepFree::default();
        assert_eq!(k.bytes(64 << 20), (64 << 20) / 20);
        assert_eq!(k.bytes(1 << 40), 1 << 30);
        assert_eq!(KeepFree::NONE.bytes(1 << 40), 0);
        let all = KeepFree {
            percent: 200,
            at_most: u64::MAX,
        };
        assert_eq!(all.bytes(1000), 1000);
    }

    #[test]
    fn blocks_round_up() {
        assert_eq!(blocks(0), 0);
        assert_eq!(blocks(1), 4096);
        assert_eq!(blocks(4096), 4096);
        assert_eq!(blocks(4097), 8192);
        assert_eq!(blocks(u64::MAX), u64::MAX);
    }

    #[test]
    fn limit_texts_name_their_setting() {
        let cases = [
            (
                Limit::Speed {
                    bytes_per_sec: 1024,
                    window: Duration::from_secs(30),
                },
                "VR_DOWNLOAD_SPEED_LIMIT",
            ),
            (
                Limit::DownloadSize { max: 1 << 30 },
                "VR_DOWNLOAD_MAX_BYTES",
            ),
            (
                Limit::DownloadSpace {
                    dir: "/apps/builds".into(),
                    keep: 1 << 30,
                },
                "VR_KEEP_FREE_BYTES",
            ),
            (Limit::UnpackSize { max: 1 << 30 }, "VR_UNPACK_MAX_BYTES"),
            (Limit::UnpackEntries { max: 10 }, "VR_UNPACK_MAX_ENTRIES"),
            (
                Limit::UnpackSpace {
                    dir: "/apps".into(),
                    keep: 1,
                },
                "VR_KEEP_FREE_BYTES",
            ),
        ];
        for (limit, setting) in cases {
            assert!(limit.to_string().contains(setting), "{limit}");
        }
    }

    #[test]
    fn room_of_a_real_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let mut room = Room::new(dir.path(), KeepFree::NONE).unwrap();
        assert!(room.take(4096));
        assert!(!room.take(u64::MAX / 2));
        let all = KeepFree {
            percent: 100,
            at_most: u64::MAX,
        };
        let mut none = Room::new(dir.path(), all).unwrap();
        assert!(!none.take(1));
        assert!(none.take(0));
    }
}
