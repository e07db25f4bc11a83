//! URLs as they may be shown: the user info and the query (and fragment) of a URL never appear
//! in a message, a progress line or a log. `http://admin:pw@host/b.tar.gz?token=t` is shown as
//! `http://***@host/b.tar.gz?***`. Local paths are shown as they are.
//!
//! Messages that come from below (ureq, the system) may quote the URL in their own words:
//! [`Scrubber`] removes every secret part of one source from such a text.

/// `source` with its user info, query and fragment replaced by `***`; a local path unchanged.
/// A URL that cannot be parsed shows only its scheme (`http://***`): nothing of it can be
/// told apart safely.
pub fn redact(source: &str) -> String {
    let Some((scheme, _)) = split_scheme(source) else {
        return source.to_string();
    };
    let Ok(url) = url::Url::parse(source) else {
        return format!("{scheme}://***");
    };
    let mut out = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str("***@");
    }
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    if url.query().is_some() {
        out.push_str("?***");
    }
    if url.fragment().is_some() {
        out.push_str("#***");
    }
    out
}

/// The scheme of a URL-looking source (`scheme://...`), or None for a local path.
fn split_scheme(source: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = source.split_once("://")?;
    let ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some((scheme, rest))
}

/// Removes the secret parts of one source from texts that may quote it.
#[derive(Debug, Clone)]
pub(crate) struct Scrubber {
    /// (text to find, replacement), longest first.
    pairs: Vec<(String, String)>,
}

impl Scrubber {
    /// A scrubber for `source` (a URL or a local path).
    pub(crate) fn new(source: &str) -> Scrubber {
        let shown = redact(source);
        let mut pairs = vec![(source.to_string(), shown.clone())];
        // A part shorter than this is not replaced on its own (the whole URL still is): `a` as
        // a user name would turn "Connection Failed" into "Connection F***iled", which tells it.
        const MIN_SECRET: usize = 4;
        let mut secret = |s: &str| {
            if s.len() >= MIN_SECRET {
                pairs.push((s.to_string(), "***".to_string()));
                if let Ok(decoded) = percent_decode(s) {
                    if decoded != s && decoded.len() >= MIN_SECRET {
                        pairs.push((decoded, "***".to_string()));
                    }
                }
            }
        };
        match url::Url::parse(source) {
            Ok(url) if split_scheme(source).is_some() => {
                let serialized = url.as_str().to_string();
                secret(url.username());
                secret(url.password().unwrap_or_default());
                secret(url.query().unwrap_or_default());
                secret(url.fragment().unwrap_or_default());
                pairs.push((serialized, shown));
            }
            Err(_) if split_scheme(source).is_some() => {
                // Nothing of it can be told apart: everything after the scheme is secret.
                if let Some((_, rest)) = split_scheme(source) {
                    secret(rest);
                }
            }
            _ => {}
        }
        pairs.retain(|(find, put)| find != put);
        pairs.sort_by_key(|(find, _)| std::cmp::Reverse(find.len()));
        Scrubber { pairs }
    }

    /// This scrubber and the one of `other` (a URL redirected to) in one.
    pub(crate) fn with(mut self, other: &str) -> Scrubber {
        self.pairs.extend(Scrubber::new(other).pairs);
        self.pairs
            .sort_by_key(|(find, _)| std::cmp::Reverse(find.len()));
        self
    }

    /// `text` with every secret part of the source replaced.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (find, put) in &self.pairs {
            if out.contains(find.as_str()) {
                out = out.replace(find.as_str(), put);
            }
        }
        out
    }

    /// An io error carrying the scrubbed text of `err` and its causes.
    pub(crate) fn io_error(&self, err: &(dyn std::error::Error + 'static)) -> std::io::Error {
        let kind = io_kind(err);
        std::io::Error::new(kind, self.scrub(&chain(err)))
    }
}

/// `err` and its causes joined with `: `.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// The io error kind of the first io error in the chain of `err`.
fn io_kind(err: &(dyn std::error::Error + 'static)) -> std::io::ErrorKind {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.kind();
        }
        current = e.source();
    }
    std::io::ErrorKind::Other
}

fn percent_decode(s: &str) -> Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or(())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_table() {
        let cases = [
            ("http://h/b.tar.gz", "http://h/b.tar.gz"),
            (
                "http://admin:S3cret@host/a/b.tar.gz?token=abc",
                "http://***@host/a/b.tar.gz?***",
            ),
            ("https://user@host:8443/x", "https://***@host:8443/x"),
            ("https://:pw@host/x", "https://***@host/x"),
            ("http://host/x?", "http://host/x?***"),
            ("http://host/x#frag", "http://host/x#***"),
            ("http://host/x?a=1#f", "http://host/x?***#***"),
            ("HTTP://Host/X", "http://host/X"),
            ("file:///srv/b.tar.gz", "file:///srv/b.tar.gz"),
            ("/srv/b.tar.gz", "/srv/b.tar.gz"),
            ("rel/b?.tar.gz", "rel/b?.tar.gz"),
            ("http://user:pa/ss@host/x", "http://***"),
            ("http://[::1", "http://***"),
            ("ftp://u:p@h/x", "ftp://***@h/x"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn scrubber_removes_every_form_of_the_secrets() {
        let s = Scrubber::new("http://admin:S3cret%21@host/b.tar.gz?token=abc123");
        let text = "http://admin:S3cret%21@host/b.tar.gz?token=abc123: failed for admin \
                    with S3cret! and token=abc123";
        let got = s.scrub(text);
        for secret in ["S3cret", "token=abc123", "admin"] {
            assert!(!got.contains(secret), "{got}");
        }
        assert!(got.starts_with("http://***@host/b.tar.gz?***: "), "{got}");
        let local = Scrubber::new("/srv/b.tar.gz");
        assert_eq!(
            local.scrub("cannot open /srv/b.tar.gz"),
            "cannot open /srv/b.tar.gz"
        );
    }
}

#[cfg(test)]
mod short_secret_tests {
    use super::*;

    #[test]
    fn a_short_user_name_is_not_scrubbed_out_of_other_words() {
        let s = Scrubber::new("http://a:longpassword@host/x.tar.gz?tok=1");
        assert_eq!(s.scrub("Connection Failed"), "Connection Failed");
        assert_eq!(
            s.scrub("cannot fetch http://a:longpassword@host/x.tar.gz?tok=1: longpassword"),
            "cannot fetch http://***@host/x.tar.gz?***: ***"
        );
    }
}
