//! One GET over http(s), with ureq 2, that no server can make panic, hang or leak a secret:
//!
//! - redirects are followed here, not by ureq: only to http(s) (ureq 2 unwraps on any other
//!   scheme), at most [`DownloadLimits::max_redirects`] of them, and a redirect to another
//!   host does not take the user info along;
//! - the request runs on a helper thread until the headers are in, so that a server that
//!   drips its headers (or never answers) is given up after `connect_timeout + speed_time`, and
//!   a stop request is seen at once (ureq 2 cannot interrupt a read: a helper thread given up
//!   on lives on, holding its connection, until the server stops sending; the tools exit
//!   soon after anyway); the body is read with a socket timeout of `speed_time`;
//! - every error text coming from ureq is scrubbed of the URL's user info and query;
//! - with validators (ETag, Last-Modified) of a cached copy the GET is conditional, and
//!   `304 Not Modified` is an answer of its own.

use crate::error::{Error, Result};
use crate::limits::{DownloadLimits, Limit};
use crate::redact::{redact, Scrubber};
use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vr_stop::Stop;

/// What a cached copy was served with, to ask the server whether it changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Validators {
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
}

impl Validators {
    pub(crate) fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// A body to read.
pub(crate) struct Body {
    pub(crate) reader: Box<dyn Read + Send>,
    /// The length announced, when the body is not content-encoded.
    pub(crate) len: Option<u64>,
    /// The validators it came with.
    pub(crate) validators: Validators,
    /// Cleans the errors of `reader` of the URL's secrets.
    pub(crate) scrub: Scrubber,
}

/// The server's answer.
pub(crate) enum Answer {
    /// 304: the cached copy is current.
    NotModified,
    /// 2xx with a body.
    Body(Body),
}

/// GETs `source` (an http(s) URL), conditionally when `validators` are given.
pub(crate) fn get(
    source: &str,
    validators: Option<&Validators>,
    limits: &DownloadLimits,
    stop: Stop,
) -> Result<Answer> {
    let shown = redact(source);
    let mut url = url::Url::parse(source).map_err(|e| Error::Transport {
        url: shown.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
    })?;
    let mut scrub = Scrubber::new(source);
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(limits.connect_timeout)
        .timeout_read(limits.speed_time)
        .timeout_write(limits.speed_time)
        .redirects(0)
        .build();
    let mut hops = 0;
    loop {
        let here = redact(url.as_str());
        let response = call(&agent, &url, validators, limits, stop, &scrub)?;
        let status = response.status();
        match status {
            304 if validators.is_some_and(|v| !v.is_empty()) => return Ok(Answer::NotModified),
            301 | 302 | 303 | 307 | 308 => {
                hops += 1;
                if hops > limits.max_redirects {
                    return Err(Error::Redirect {
                        url: shown,
                        reason: format!("more than {} redirects", limits.max_redirects),
                    });
                }
                let next = next_url(&url, response.header("Location"))
                    .map_err(|reason| Error::Redirect { url: here, reason })?;
                scrub = scrub.with(next.as_str());
                url = next;
            }
            200..=299 => return body(response, scrub, &here).map(Answer::Body),
            _ => return Err(Error::HttpStatus { url: here, status }),
        }
    }
}

/// Sends one request and waits for its headers on a helper thread: at most
/// `connect_timeout + speed_time`, and no longer than a stop request.
fn call(
    agent: &ureq::Agent,
    url: &url::Url,
    validators: Option<&Validators>,
    limits: &DownloadLimits,
    stop: Stop,
    scrub: &Scrubber,
) -> Result<ureq::Response> {
    let shown = redact(url.as_str());
    // The file's own bytes are wanted (a .tar.gz must not be un-gzipped on the way).
    let mut request = agent
        .request_url("GET", url)
        .set("Accept-Encoding", "identity");
    if let Some(v) = validators {
        if let Some(etag) = &v.etag {
            request = request.set("If-None-Match", etag);
        }
        if let Some(date) = &v.last_modified {
            request = request.set("If-Modified-Since", date);
        }
    }
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("vr-fetch-http".into())
        .spawn(move || {
            // Nobody may be listening any more: then the answer is dropped, and with it the
            // connection.
            let _ = tx.send(request.call());
        })
        .map_err(|source| Error::Transport {
            url: shown.clone(),
            source,
        })?;
    let deadline = Instant::now() + limits.connect_timeout + limits.speed_time;
    let answer = loop {
        stop.check()
            .map_err(|i| Error::Interrupted { signal: i.0 })?;
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(answer) => break answer,
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(Error::DownloadLimit {
                    url: shown,
                    limit: Limit::Speed {
                        bytes_per_sec: limits.speed_limit,
                        window: limits.speed_time,
                    },
                })
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Transport {
                    url: shown,
                    source: std::io::Error::other("the request ended without an answer"),
                })
            }
        }
    };
    match answer {
        Ok(response) => Ok(response),
        Err(ureq::Error::Status(status, _)) => Err(Error::HttpStatus { url: shown, status }),
        // A read that timed out while waiting for the headers: the server is silent.
        Err(ureq::Error::Transport(t))
            if t.kind() == ureq::ErrorKind::Io
                && matches!(
                    transport_error(&t, scrub).kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
        {
            Err(Error::DownloadLimit {
                url: shown,
                limit: Limit::Speed {
                    bytes_per_sec: limits.speed_limit,
                    window: limits.speed_time,
                },
            })
        }
        Err(ureq::Error::Transport(t)) => Err(Error::Transport {
            url: shown,
            source: transport_error(&t, scrub),
        }),
    }
}

/// ureq's transport error as an io error without the URL: its kind, message and cause.
fn transport_error(t: &ureq::Transport, scrub: &Scrubber) -> std::io::Error {
    let mut text = t.kind().to_string();
    if let Some(message) = t.message() {
        text.push_str(": ");
        text.push_str(message);
    }
    let mut kind = std::io::ErrorKind::Other;
    if let Some(cause) = std::error::Error::source(t) {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            kind = io.kind();
        }
        let cause = crate::redact::chain(cause);
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    std::io::Error::new(kind, scrub.scrub(&text))
}

/// Where a redirect from `from` goes, or why it is not followed.
fn next_url(from: &url::Url, location: Option<&str>) -> Result<url::Url, String> {
    let location = location
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or("a redirect without a Location")?;
    let mut next = from
        .join(location)
        .map_err(|e| format!("a redirect to an invalid URL ({e})"))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(format!(
            "a redirect to a {}: URL is not followed (only http and https are)",
            next.scheme()
        ));
    }
    if next.origin() != from.origin() {
        // Credentials are for the host they were given for.
        let _ = next.set_username("");
        let _ = next.set_password(None);
    }
    Ok(next)
}

fn body(response: ureq::Response, scrub: Scrubber, shown: &str) -> Result<Body> {
    // With a content encoding the announced length is not the length read; with chunks
    // there is none. Otherwise it must be one number: a length that cannot be read means the
    // end of the body cannot be told.
    let encoded = response
        .header("Content-Encoding")
        .is_some_and(|enc| !enc.trim().eq_ignore_ascii_case("identity"));
    let chunked = response.header("Transfer-Encoding").is_some();
    let lengths: Vec<Option<u64>> = response
        .all("Content-Length")
        .iter()
        .map(|v| v.trim().parse().ok())
        .collect();
    let len = match lengths.as_slice() {
        _ if chunked => None,
        [] => None,
        [first, rest @ ..] if first.is_some() && rest.iter().all(|l| l == first) => {
            first.filter(|_| !encoded)
        }
        _ => {
            return Err(Error::Transport {
                url: shown.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "invalid Content-Length: {}",
                        response.all("Content-Length").join(", ")
                    ),
                ),
            })
        }
    };
    let validators = Validators {
        etag: response.header("ETag").map(str::to_owned),
        last_modified: response.header("Last-Modified").map(str::to_owned),
    };
    Ok(Body {
        reader: Box::new(response.into_reader()),
        len,
        validators,
        scrub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_url_table() {
        let from = url::Url::parse("http://u:p@h:8/a/b.tar.gz?x=1").unwrap();
        let cases: &[(Option<&str>, Result<&str, &str>)] = &[
            (Some("/c.tar.gz"), Ok("http://u:p@h:8/c.tar.gz")),
            (Some("c.tar.gz"), Ok("http://u:p@h:8/a/c.tar.gz")),
            (Some("https://other/d"), Ok("https://other/d")),
            (Some("http://v:q@other/d"), Ok("http://other/d")),
            (Some("//h:8/e"), Ok("http://h:8/e")),
            (
                Some("file:///etc/hostname"),
                Err("a redirect to a file: URL"),
            ),
            (Some("ftp://h/x"), Err("a redirect to a ftp: URL")),
            (Some("data:text/plain,hi"), Err("a redirect to a data: URL")),
            (Some("http://[::1"), Err("a redirect to an invalid URL")),
            (Some(""), Err("a redirect without a Location")),
            (None, Err("a redirect without a Location")),
        ];
        for (location, want) in cases {
            let got = next_url(&from, *location);
            match (got, want) {
                (Ok(url), Ok(want)) => assert_eq!(url.as_str(), *want, "{location:?}"),
                (Err(reason), Err(want)) => {
                    assert!(reason.starts_with(want), "{location:?}: {reason}")
                }
                (got, want) => panic!("{location:?}: {got:?} vs {want:?}"),
            }
        }
    }
}
