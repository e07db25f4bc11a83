//! Streams a body into a locked temp file beside its cache entry: md5 and sha256 in the same
//! pass, within the download limits (speed, size, free space), stopping on request. The
//! caller checks the sums and renames the file into place.

use crate::error::{io, Error, Result};
use crate::hash::{Hasher, Sums, BUF_SIZE};
use crate::limits::{DownloadLimits, Limit, Room};
use crate::progress::Progress;
use crate::redact::Scrubber;
use crate::temp::TempFile;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::time::Instant;
use vr_stop::Stop;

/// Where the bytes come from, for errors.
pub(crate) enum From<'a> {
    /// A URL; its reader's errors are scrubbed of the URL's secrets.
    Http(&'a Scrubber),
    /// A local file.
    Local(&'a Path),
}

/// What a download is and what it may do.
pub(crate) struct Job<'a> {
    /// The source as shown (redacted).
    pub(crate) shown: &'a str,
    pub(crate) from: From<'a>,
    pub(crate) limits: &'a DownloadLimits,
    pub(crate) stop: Stop,
    pub(crate) progress: &'a dyn Progress,
}

/// A complete download in its temp file.
pub(crate) struct Done {
    pub(crate) temp: TempFile,
    pub(crate) sums: Sums,
}

impl Job<'_> {
    fn limit(&self, limit: Limit) -> Error {
        Error::DownloadLimit {
            url: self.shown.to_string(),
            limit,
        }
    }

    fn too_slow(&self) -> Error {
        self.limit(Limit::Speed {
            bytes_per_sec: self.limits.speed_limit,
            window: self.limits.speed_time,
        })
    }

    /// Streams `reader` (announced as `total` bytes) into a temp file for the entry `name` in
    /// `dir`. Progress hears of it from the first byte to the end, whatever the outcome.
    pub(crate) fn run(
        &self,
        reader: &mut dyn Read,
        total: Option<u64>,
        dir: &Path,
        name: &str,
    ) -> Result<Done> {
        self.progress.start(self.shown, total);
        let result = self.stream(reader, total, dir, name);
        self.progress.finish();
        result
    }

    fn stream(
        &self,
        reader: &mut dyn Read,
        total: Option<u64>,
        dir: &Path,
        name: &str,
    ) -> Result<Done> {
        let limits = self.limits;
        let size_limit = || {
            self.limit(Limit::DownloadSize {
                max: limits.max_bytes,
            })
        };
        let mut room =
            Room::new(dir, limits.keep_free).map_err(io("look at the free space of", dir))?;
        let no_space = |room: &Room| {
            let (dir, keep) = room.kept();
            self.limit(Limit::DownloadSpace {
                dir: dir.to_path_buf(),
                keep,
            })
        };
        // What the server announces is checked before a byte is written.
        let reserved = total.unwrap_or(0);
        if reserved > limits.max_bytes {
            return Err(size_limit());
        }
        if !room.take(reserved) {
            return Err(no_space(&room));
        }
        let temp = TempFile::new(dir, name).map_err(io("create temp file in", dir))?;
        let mut out = temp.file.as_file();
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; BUF_SIZE];
        let mut received = 0u64;
        let http = matches!(self.from, From::Http(_));
        let mut window = (Instant::now(), 0u64);
        loop {
            self.stop
                .check()
                .map_err(|i| Error::Interrupted { signal: i.0 })?;
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e)
                    if http && matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) =>
                {
                    return Err(self.too_slow())
                }
                Err(e) => {
                    return Err(match &self.from {
                        From::Local(path) => io("read", *path)(e),
                        From::Http(scrub) => Error::BodyRead {
                            url: self.shown.to_string(),
                            received,
                            source: scrub.io_error(&e),
                        },
                    })
                }
            };
            received += n as u64;
            if received > limits.max_bytes {
                return Err(size_limit());
            }
            if received > reserved && !room.take(n as u64) {
                return Err(no_space(&room));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io("write", temp.path()))?;
            self.progress.advance(n as u64);
            if http && limits.speed_limit > 0 {
                window.1 += n as u64;
                let elapsed = window.0.elapsed();
                if elapsed >= limits.speed_time {
                    let wanted = limits.speed_limit as f64 * limits.speed_time.as_secs_f64();
                    if (window.1 as f64) < wanted {
                        return Err(self.too_slow());
                    }
                    window = (Instant::now(), 0);
                }
            }
        }
        if let (true, Some(expected)) = (http, total) {
            if received != expected {
                return Err(Error::Truncated {
                    url: self.shown.to_string(),
                    received,
                    expected,
                });
            }
        }
        out.sync_all().map_err(io("fsync", temp.path()))?;
        Ok(Done {
            temp,
            sums: hasher.finish(),
        })
    }
}
