//! A bounded tail of a byte stream: keeps the last `cap` bytes and counts what it dropped, so
//! an uptest that writes 100 MB costs at most about `2 * cap` bytes of memory.

/// Default number of output bytes kept per uptest (1 MiB).
pub const DEFAULT_CAP: usize = 1 << 20;
/// Default number of output bytes kept for all uptests together (16 MiB).
pub const DEFAULT_TOTAL_CAP: usize = 16 << 20;

/// Collects the last `cap` bytes written to it.
#[derive(Debug)]
pub struct Tail {
    buf: Vec<u8>,
    cap: usize,
    total: u64,
}

/// What a [`Tail`] kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The last bytes of the stream (at most the cap).
    pub bytes: Vec<u8>,
    /// How many bytes before them were dropped.
    pub dropped: u64,
}

impl Tail {
    /// An empty tail that keeps at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Tail {
            buf: Vec::new(),
            cap,
            total: 0,
        }
    }

    /// Appends `data`, dropping the oldest bytes once more than `cap` are held. The buffer may
    /// grow to `2 * cap` between trims so that trimming costs O(1) per byte.
    pub fn push(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        if data.len() >= self.cap {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - self.cap..]);
            return;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() > self.cap.saturating_mul(2) {
            let cut = self.buf.len() - self.cap;
            self.buf.drain(..cut);
        }
    }

    /// Total bytes pushed so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept bytes and the count of dropped ones.
    pub fn finish(mut self) -> Captured {
        if self.buf.len() > self.cap {
            let cut = self.buf.len() - self.cap;
            self.buf.drain(..cut);
        }
        let dropped = self.total - self.buf.len() as u64;
        Captured {
            bytes: self.buf,
            dropped,
        }
    }
}

impl Captured {
    /// The kept bytes as text: invalid UTF-8 becomes U+FFFD. After a cut, the partial character
    /// at the start (up to 3 UTF-8 continuation bytes) is dropped too rather than shown as
    /// U+FFFD; `dropped` counts it.
    pub fn text(&self) -> (String, u64) {
        let mut skip = 0;
        if self.dropped > 0 {
            while skip < 3 && self.bytes.get(skip).is_some_and(|b| b & 0xC0 == 0x80) {
                skip += 1;
            }
        }
        let text = String::from_utf8_lossy(&self.bytes[skip..]).into_owned();
        (text, self.dropped + skip as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_cap_bytes() {
        // (cap, chunks, kept, dropped)
        type Case<'a> = (usize, &'a [&'a [u8]], &'a [u8], u64);
        let nine: [&[u8]; 9] = [b"a"; 9];
        let cases: &[Case] = &[
            (4, &[], b"", 0),
            (4, &[b"ab"], b"ab", 0),
            (4, &[b"abcd"], b"abcd", 0),
            (4, &[b"abcde"], b"bcde", 1),
            (4, &[b"ab", b"cd", b"ef"], b"cdef", 2),
            (4, &[b"abc", b"defghi", b"j"], b"ghij", 6),
            (4, &nine, b"aaaa", 5),
            (0, &[b"abc"], b"", 3),
        ];
        for (cap, chunks, kept, dropped) in cases {
            let mut tail = Tail::new(*cap);
            for c in *chunks {
                tail.push(c);
                assert!(tail.buf.len() <= 2 * cap.max(&1));
            }
            let total: usize = chunks.iter().map(|c| c.len()).sum();
            assert_eq!(tail.total(), total as u64);
            let got = tail.finish();
            assert_eq!(
                (got.bytes.as_slice(), got.dropped),
                (*kept, *dropped),
                "cap {cap} chunks {chunks:?}"
            );
        }
    }

    #[test]
    fn memory_stays_bounded_for_many_pushes() {
        let mut tail = Tail::new(1000);
        let chunk = [b'x'; 333];
        for _ in 0..10_000 {
            tail.push(&chunk);
            assert!(tail.buf.len() <= 2000);
        }
        let got = tail.finish();
        assert_eq!(got.bytes.len(), 1000);
        assert_eq!(got.dropped, 333 * 10_000 - 1000);
    }

    #[test]
    fn text_is_lossy_and_skips_a_cut_character() {
        // (bytes, dropped, text, dropped after skipping)
        let cases: &[(&[u8], u64, &str, u64)] = &[
            (b"plain", 0, "plain", 0),
            (b"\xff\xfeok", 0, "\u{fffd}\u{fffd}ok", 0),
            // "é" is c3 a9: a cut after c3 leaves a9 first.
            (b"\xa9tail", 10, "tail", 11),
            // Not cut: a stray continuation byte is shown as U+FFFD.
            (b"\xa9tail", 0, "\u{fffd}tail", 0),
            // At most 3 bytes are skipped.
            (b"\x80\x80\x80\x80x", 1, "\u{fffd}x", 4),
        ];
        for (bytes, dropped, text, dropped_after) in cases {
            let c = Captured {
                bytes: bytes.to_vec(),
                dropped: *dropped,
            };
            assert_eq!(c.text(), (text.to_string(), *dropped_after), "{bytes:?}");
        }
    }
}
