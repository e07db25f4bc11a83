//! `fetch`: a URL or local path to a verified file in a cache entry.
//!
//! Under the entry's lock (`<dest>.lock`), after sweeping what dead runs left beside it:
//!
//! - a cached file is used when it has every checksum asked for (md5, sha256, or both);
//!   without a checksum it is revalidated: a conditional GET with the ETag / Last-Modified it
//!   was served with (or, for a local source, its size and mtime then and now). `304` keeps
//!   it; a new body replaces it; a source that cannot be reached leaves it in use, with a
//!   [`Warning`] in the answer (vr-fetch never prints: the caller says so);
//! - a download streams into a locked temp file beside the entry, hashed (md5 and sha256) in
//!   the same pass, within [`DownloadLimits`], and is renamed over the entry only once it is
//!   complete and has every checksum asked for: a failed download or check leaves the cached
//!   file as it was;
//! - the sidecar `<dest>.meta` records the validators and sums of the file in place.

use crate::download::{self, Job};
use crate::error::{io, Error, Result};
use crate::hash::{hash_file, Sums, Want};
use crate::http::{self, Answer, Validators};
use crate::limits::DownloadLimits;
use crate::lock::{lock_path, EntryLock};
use crate::meta::{self, mtime_ns, Meta};
use crate::origin::{file_kind, open_local, sync_dir, Origin};
use crate::progress::{NoProgress, Progress};
use crate::redact::{chain, redact};
use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use vr_stop::Stop;

/// What a fetch must check, and how far it may go.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The md5 the file must have (32 hex digits, any case).
    pub md5: Option<String>,
    /// The sha256 the file must have (64 hex digits, any case). With `md5` too, both are
    /// checked.
    pub sha256: Option<String>,
    /// Limits of a download.
    pub limits: DownloadLimits,
    /// Without a checksum, ask the source whether a cached file is still current (default
    /// true); false uses any cached file as it is.
    pub revalidate: bool,
    /// A file an older vr cached this source under (before entries were keyed by the whole
    /// source): when `dest` is missing and a checksum is given that it has, it is taken over
    /// (hard-linked, or copied) instead of downloading; it is left where it is. Without a
    /// checksum it is never used: nothing says it came from this source.
    pub adopt: Option<PathBuf>,
    /// Stops a download when set (default: the process's flag, see [`crate::interrupt`]).
    pub stop: Stop,
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            md5: None,
            sha256: None,
            limits: DownloadLimits::default(),
            revalidate: true,
            adopt: None,
            stop: Stop::process(),
        }
    }
}

/// A file in place under its final name, with its checksums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Where the file is (the `dest` asked for).
    pub path: PathBuf,
    /// Its md5, 32 lowercase hex digits.
    pub md5: String,
    /// Its sha256, 64 lowercase hex digits.
    pub sha256: String,
    /// True when it was fetched now, false when the cached file was reused.
    pub downloaded: bool,
    /// Set when the cached file is used because the source could not be asked whether it
    /// changed (the server is down or broke off, a local source is gone).
    pub warning: Option<Warning>,
}

/// A cached copy used without knowing whether it is current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The source (redacted).
    pub source: String,
    /// Why it could not be asked (redacted).
    pub reason: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot check {} for a newer version ({}): using the cached copy",
            self.source, self.reason
        )
    }
}

/// Makes sure `dest` holds the file at `source` (an http(s) URL, a `file://` URL or a local
/// path), with md5 `md5` when one is given. See [`fetch`].
pub fn ensure(source: &str, dest: &Path, md5: Option<&str>) -> Result<Fetched> {
    ensure_with(source, dest, md5, &NoProgress)
}

/// Like [`ensure`], reporting download progress to `progress`. See [`fetch`].
pub fn ensure_with(
    source: &str,
    dest: &Path,
    md5: Option<&str>,
    progress: &dyn Progress,
) -> Result<Fetched> {
    let opts = FetchOptions {
        md5: md5.map(str::to_owned),
        ..FetchOptions::default()
    };
    fetch(source, dest, &opts, progress)
}

/// Makes sure `dest` holds the file at `source` as `opts` ask (see the module docs).
pub fn fetch(
    source: &str,
    dest: &Path,
    opts: &FetchOptions,
    progress: &dyn Progress,
) -> Result<Fetched> {
    fetch_open(source, dest, opts, progress).map(|(fetched, _)| fetched)
}

/// Like [`fetch`], and the file opened under the entry's lock: what is read from it is what
/// was checked, even if another caller replaces the entry right after.
pub(crate) fn fetch_open(
    source: &str,
    dest: &Path,
    opts: &FetchOptions,
    progress: &dyn Progress,
) -> Result<(Fetched, File)> {
    let shown = redact(source);
    let want = Want::parse(opts.md5.as_deref(), opts.sha256.as_deref(), &shown)?;
    let origin = Origin::parse(source, &shown)?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _lock = EntryLock::acquire(&lock_path(dest))?;
    crate::temp::sweep(&dir, &name);
    let entry = Entry {
        shown: &shown,
        origin: &origin,
        dest,
        dir: &dir,
        name: &name,
        want: &want,
        opts,
        progress,
    };
    let fetched = match fs::symlink_metadata(dest) {
        Ok(m) if m.is_file() => entry.cached()?,
        Ok(m) => {
            return Err(Error::NotAFile {
                path: dest.to_path_buf(),
                what: file_kind(&m.file_type()),
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => match entry.adopt()? {
            Some(fetched) => fetched,
            None => entry.download(None)?,
        },
        Err(e) => return Err(io("stat", dest)(e)),
    };
    let file = File::open(dest).map_err(io("open", dest))?;
    Ok((fetched, file))
}

/// One fetch, under the entry's lock.
struct Entry<'a> {
    shown: &'a str,
    origin: &'a Origin,
    dest: &'a Path,
    dir: &'a Path,
    name: &'a str,
    want: &'a Want,
    opts: &'a FetchOptions,
    progress: &'a dyn Progress,
}

impl Entry<'_> {
    fn hit(&self, sums: Sums, warning: Option<Warning>) -> Fetched {
        Fetched {
            path: self.dest.to_path_buf(),
            md5: sums.md5,
            sha256: sums.sha256,
            downloaded: false,
            warning,
        }
    }

    /// The entry holds a file: use it, revalidate it, or replace it.
    fn cached(&self) -> Result<Fetched> {
        let meta = meta::read(self.dest);
        if self.want.any() {
            let sums = sums_of(self.dest, meta.as_ref(), self.want)?;
            if self.want.check(&sums, self.shown).is_ok() {
                return Ok(self.hit(sums, None));
            }
            // Other bytes are wanted now: the cached file stays until they are in and checked.
            return self.download(None);
        }
        if !self.opts.revalidate {
            let sums = sums_of(self.dest, meta.as_ref(), self.want)?;
            return Ok(self.hit(sums, None));
        }
        let fallback = |err: Error| -> Result<Fetched> {
            if !err.unreachable() {
                return Err(err);
            }
            let sums = sums_of(self.dest, meta.as_ref(), self.want)?;
            let warning = Warning {
                source: self.shown.to_string(),
                reason: chain(&err),
            };
            Ok(self.hit(sums, Some(warning)))
        };
        let current = match (self.origin, &meta) {
            (Origin::Local(path), Some(m)) => match fs::metadata(path) {
                Ok(now) => m.local == Some((now.len(), mtime_ns(&now))),
                Err(e) => return fallback(io("open", path)(e)),
            },
            _ => false,
        };
        if current {
            if let Some(m) = meta {
                return Ok(self.hit(m.sums, None));
            }
        }
        let validators = meta
            .as_ref()
            .map(|m| m.validators.clone())
            .filter(|v| !v.is_empty());
        match self.download(validators.as_ref()) {
            Err(err) => fallback(err),
            Ok(fetched) => Ok(fetched),
        }
    }

    /// Fetches the source (conditionally, with `validators`) and puts it in place when it
    /// checks out. A 304 answers from the cache.
    fn download(&self, validators: Option<&Validators>) -> Result<Fetched> {
        let limits = &self.opts.limits;
        let done = match self.origin {
            Origin::Http(url) => {
                let mut body = match http::get(url, validators, limits, self.opts.stop)? {
                    Answer::NotModified => {
                        let meta = meta::read(self.dest);
                        let sums = sums_of(self.dest, meta.as_ref(), self.want)?;
                        return Ok(self.hit(sums, None));
                    }
                    Answer::Body(body) => body,
                };
                let job = self.job(download::From::Http(&body.scrub));
                let done = job.run(&mut body.reader, body.len, self.dir, self.name)?;
                (done, body.validators, None)
            }
            Origin::Local(path) => {
                let (mut file, stat) = open_local(path)?;
                let job = self.job(download::From::Local(path));
                let done = job.run(&mut file, Some(stat.len()), self.dir, self.name)?;
                (
                    done,
                    Validators::default(),
                    Some((stat.len(), mtime_ns(&stat))),
                )
            }
        };
        let (done, validators, local) = done;
        self.want.check(&done.sums, self.shown)?;
        // The old sidecar goes first: a crash before the new one is written leaves none, never
        // one that speaks for another file.
        meta::remove(self.dest)?;
        done.temp
            .file
            .persist(self.dest)
            .map_err(|e| io("rename into place", self.dest)(e.error))?;
        sync_dir(self.dir);
        let meta = Meta {
            sums: done.sums.clone(),
            validators,
            local,
        };
        meta::write(self.dest, &meta)?;
        Ok(Fetched {
            downloaded: true,
            ..self.hit(done.sums, None)
        })
    }

    fn job<'b>(&'b self, from: download::From<'b>) -> Job<'b> {
        Job {
            shown: self.shown,
            from,
            limits: &self.opts.limits,
            stop: self.opts.stop,
            progress: self.progress,
        }
    }

    /// Takes over the file an older vr cached, when a checksum says it is this one.
    fn adopt(&self) -> Result<Option<Fetched>> {
        let Some(old) = self.opts.adopt.as_deref() else {
            return Ok(None);
        };
        if !self.want.any() || !fs::symlink_metadata(old).is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        let _old_lock = EntryLock::acquire(&lock_path(old))?;
        let (md5, sha256) = hash_file(old, true, true)?;
        let sums = Sums {
            md5: md5.unwrap_or_default(),
            sha256: sha256.unwrap_or_default(),
        };
        if self.want.check(&sums, self.shown).is_err() {
            return Ok(None);
        }
        let link = self
            .dir
            .join(format!(".{}.adopt-{}.part", self.name, std::process::id()));
        let _ = fs::remove_file(&link);
        let linked = fs::hard_link(old, &link).and_then(|()| fs::rename(&link, self.dest));
        if linked.is_err() {
            let _ = fs::remove_file(&link);
            // Another file system: copied like a local source, and checked again.
            let (mut file, stat) = open_local(old)?;
            let job = self.job(download::From::Local(old));
            let done = job.run(&mut file, Some(stat.len()), self.dir, self.name)?;
            self.want.check(&done.sums, self.shown)?;
            done.temp
                .file
                .persist(self.dest)
                .map_err(|e| io("rename into place", self.dest)(e.error))?;
        }
        sync_dir(self.dir);
        let meta = Meta {
            sums: sums.clone(),
            validators: Validators::default(),
            local: None,
        };
        meta::write(self.dest, &meta)?;
        Ok(Some(self.hit(sums, None)))
    }
}

/// The sums of the cached file at `dest`: those asked for computed from its bytes (that is
/// the check), the others taken from its sidecar when it speaks for the file, else computed
/// too, in the same read.
fn sums_of(dest: &Path, meta: Option<&Meta>, want: &Want) -> Result<Sums> {
    let known = meta.map(|m| &m.sums);
    let need_md5 = want.md5.is_some() || known.is_none();
    let need_sha = want.sha256.is_some() || known.is_none();
    let (md5, sha256) = hash_file(dest, need_md5, need_sha)?;
    let from_meta = |pick: fn(&Sums) -> &String| known.map(|s| pick(s).clone());
    Ok(Sums {
        md5: md5.or_else(|| from_meta(|s| &s.md5)).unwrap_or_default(),
        sha256: sha256
            .or_else(|| from_meta(|s| &s.sha256))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_scheme_is_named_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let err = ensure("ftp://u:pw@h/x.tar.gz?t=1", &dir.path().join("x"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported URL scheme in ftp://***@h/x.tar.gz?***: expected http, https, file or a local path"
        );
    }

    #[test]
    fn invalid_md5_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = ensure("/x", &dir.path().join("x"), Some("abc")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid md5 \"abc\" for /x: expected 32 hex digits"
        );
    }
}
