//! gzip decoding, member by member: a member whose output fits in [`OUT_MAX`] bytes is
//! inflated whole by libdeflate, straight into the buffer handed to the unpacking thread
//! (about twice as fast as streaming zlib here); vimage writes its images as 1 MiB members, so
//! they all take that way. A member that does not fit (a `gzip` or `tar -czf` file is one
//! member) is streamed through flate2 (zlib-rs), and so is everything after it: the one
//! attempt costs at most [`OUT_MAX`] bytes of inflating.
//!
//! Two members are inflated at once, the second on a thread of its own: vimage's members all
//! start with the same 10 header bytes (no name, no mtime), so where the next one starts is
//! guessed by looking for them after the first one's header. The guess counts only when the
//! first member ends exactly there (a member's data may hold those bytes by chance); otherwise
//! the second thread's work is dropped.
//!
//! Every member's CRC-32 and length are checked either way; the members are read until the
//! file ends, as `gzip -d` reads them, and bytes after a member that do not start another one
//! are an error.

use super::pipe::{fill, Source, CHUNK};
use std::io::{self, BufRead, ErrorKind, Read};
use std::ptr::NonNull;

/// The largest member output inflated whole: vimage's members hold 1 MiB.
const OUT_MAX: usize = (1 << 20) + (64 << 10);
/// Compressed bytes held (when the file has them) before a member is inflated whole: two
/// members of vimage's, each 1 MiB at worst (stored blocks), fit.
const IN_MIN: usize = (2 << 20) + (64 << 10);
/// Size of the buffer of compressed bytes.
const IN_BUF: usize = 3 * IN_MIN;

/// The decompressed stream of a gzip file, as a [`Source`].
pub(super) struct Gz<R> {
    state: State<R>,
    inflater: Inflater,
    /// The second thread's.
    inflater2: Inflater,
    /// The member the second thread inflated, handed out next: its bytes in `ahead_buf`.
    ahead: Option<usize>,
    ahead_buf: Vec<u8>,
    members: u64,
}

enum State<R> {
    /// Between members, inflating them whole: the compressed bytes not consumed yet.
    Whole(Window<R>),
    /// Streaming the rest of the file.
    Streaming(Box<flate2::bufread::MultiGzDecoder<Window<R>>>),
    /// Broken by an error.
    Failed,
}

impl<R: Read + Send> Gz<R> {
    /// A decoder of the gzip file `input`.
    pub(super) fn new(input: R) -> io::Result<Gz<R>> {
        Ok(Gz {
            state: State::Whole(Window::new(input)),
            inflater: Inflater::new()?,
            inflater2: Inflater::new()?,
            ahead: None,
            ahead_buf: Vec::new(),
            members: 0,
        })
    }

    fn next_inner(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            if let Some(n) = self.ahead.take() {
                std::mem::swap(buf, &mut self.ahead_buf);
                return Ok(n);
            }
            let window = match &mut self.state {
                State::Whole(window) => window,
                State::Streaming(decoder) => {
                    buf.resize(CHUNK, 0);
                    return fill(decoder.as_mut(), buf);
                }
                State::Failed => return Err(io::Error::other("the gzip stream broke earlier")),
            };
            window.fill(IN_MIN)?;
            if window.data().is_empty() {
                if self.members == 0 {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the gzip stream is empty",
                    ));
                }
                return Ok(0);
            }
            buf.resize(OUT_MAX, 0);
            let data = window.data();
            let guess = next_header(data);
            let mut second = None;
            let first = match guess {
                Some(at) => {
                    self.ahead_buf.resize(OUT_MAX, 0);
                    let (inflater2, ahead_buf) = (&mut self.inflater2, &mut self.ahead_buf);
                    let inflater = &mut self.inflater;
                    std::thread::scope(|s| {
                        let helper = std::thread::Builder::new()
                            .name("vr-fetch-inflate2".into())
                            .spawn_scoped(s, || inflater2.gzip(&data[at..], ahead_buf));
                        let first = inflater.gzip(data, buf);
                        // No thread (the system is out of them): one member at a time.
                        second = helper.ok().and_then(|h| h.join().ok()).flatten();
                        first
                    })
                }
                None => self.inflater.gzip(data, buf),
            };
            match first {
                Some((used, produced)) => {
                    // The second member counts only if it starts where the first one ends.
                    let second = second.filter(|_| guess == Some(used));
                    let used2 = second.map_or(0, |(u, _)| u);
                    window.consume(used + used2);
                    self.members += 1 + u64::from(second.is_some());
                    self.ahead = second.map(|(_, p)| p).filter(|&p| p > 0);
                    // An empty member: on to the next one.
                    if produced > 0 {
                        return Ok(produced);
                    }
                }
                // Larger than the buffers, or corrupt: streaming tells which.
                None => {
                    let State::Whole(window) = std::mem::replace(&mut self.state, State::Failed)
                    else {
                        return Err(io::Error::other("the gzip stream broke earlier"));
                    };
                    self.members += 1;
                    self.state =
                        State::Streaming(Box::new(flate2::bufread::MultiGzDecoder::new(window)));
                }
            }
        }
    }
}

impl<R: Read + Send> Source for Gz<R> {
    fn next(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let result = self.next_inner(buf);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }
}

/// Where the member after the one at the start of `data` may start: the next place holding
/// the same 10 header bytes, when that header has no optional fields (as vimage writes it).
fn next_header(data: &[u8]) -> Option<usize> {
    /// The shortest member: header, an empty final block, CRC-32 and length.
    const SHORTEST: usize = 10 + 2 + 8;
    let header = data.get(..10)?;
    if header[..4] != [0x1f, 0x8b, 8, 0] {
        return None;
    }
    memchr::memmem::find(data.get(SHORTEST..)?, header).map(|i| i + SHORTEST)
}

/// Compressed bytes read ahead from `input`: `buf[start..end]`.
struct Window<R> {
    input: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> Window<R> {
    fn new(input: R) -> Window<R> {
        Window {
            input,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads until `want` bytes (at most [`IN_MIN`]) are held, the input ends, or it has no
    /// more for now (a short read from a pipe: a member not all there is then streamed, rather
    /// than waited for). What is held moves to the front only when the space behind it runs
    /// short: at most half of the bytes ever move.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.end - self.start >= want || self.eof {
            return Ok(());
        }
        if self.buf.len() < IN_BUF {
            self.buf.resize(IN_BUF, 0);
        }
        if self.start + want > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < want {
            let room = self.buf.len() - self.end;
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.end += n;
                    if n < room {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Window<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let data = self.fill_buf()?;
        let n = data.len().min(out.len());
        out[..n].copy_from_slice(&data[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Window<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.fill(IN_MIN)?;
        }
        Ok(self.data())
    }

    fn consume(&mut self, amt: usize) {
        self.start = (self.start + amt).min(self.end);
    }
}

/// A libdeflate decompressor.
struct Inflater(NonNull<libdeflate_sys::libdeflate_decompressor>);

// SAFETY: a libdeflate decompressor has no ties to the thread that made it; it is used by one
// thread at a time (through &mut).
unsafe impl Send for Inflater {}

impl Inflater {
    fn new() -> io::Result<Inflater> {
        // SAFETY: no preconditions; returns null when out of memory.
        let raw = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
        NonNull::new(raw)
            .map(Inflater)
            .ok_or_else(|| io::Error::other("cannot allocate a gzip decompressor"))
    }

    /// Inflates the gzip member at the start of `input` into `out`: the bytes of `input` it
    /// took and the bytes it wrote, or None when it is not a whole valid member that fits.
    fn gzip(&mut self, input: &[u8], out: &mut [u8]) -> Option<(usize, usize)> {
        let (mut used, mut produced) = (0usize, 0usize);
        // SAFETY: the decompressor is live and ours alone; input and out are valid for their
        // lengths (reads and writes respectively), and used/produced point to live locals.
        let result = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut used,
                &mut produced,
            )
        };
        (result == libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS
            && used <= input.len()
            && produced <= out.len())
        .then_some((used, produced))
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor and freed only here.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn data(len: usize) -> Vec<u8> {
        let mut x: u64 = 1;
        (0..len)
            .map(|i| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                if i % 64 < 48 {
                    b"some text of an image "[i % 22]
                } else {
                    (x >> 56) as u8
                }
            })
            .collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// `data` as gzip members of `block` bytes each.
    fn members(data: &[u8], block: usize) -> Vec<u8> {
        data.chunks(block).flat_map(gzip).collect()
    }

    fn decode(gz: &[u8]) -> io::Result<Vec<u8>> {
        let mut source = Gz::new(gz)?;
        let (mut out, mut buf) = (Vec::new(), Vec::new());
        loop {
            match source.next(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn members_of_every_size_decode_to_the_same_bytes() {
        let d = data(9 << 20);
        let cases = [
            ("one member (streamed)", gzip(&d)),
            ("1 MiB members (whole)", members(&d, 1 << 20)),
            ("odd members", members(&d, 777_777)),
            ("members larger than the buffers", members(&d, 5 << 20)),
            ("small members then a large one", {
                let mut v = members(&d[..2 << 20], 1 << 20);
                v.extend(gzip(&d[2 << 20..]));
                v
            }),
            ("an empty member among others", {
                let mut v = gzip(&d[..1 << 20]);
                v.extend(gzip(b""));
                v.extend(members(&d[1 << 20..], 1 << 20));
                v
            }),
            ("tiny members", members(&d[..100_000], 1000)),
        ];
        for (name, gz) in cases {
            let want = if name.starts_with("tiny") {
                &d[..100_000]
            } else {
                &d[..]
            };
            assert!(decode(&gz).unwrap() == want, "{name}");
        }
        // A member with a file name and comment in its header.
        let mut e = flate2::GzBuilder::new()
            .filename("x.tar")
            .comment("hi")
            .write(Vec::new(), flate2::Compression::fast());
        e.write_all(&d[..5000]).unwrap();
        let named = e.finish().unwrap();
        assert_eq!(decode(&named).unwrap(), &d[..5000]);
    }

    #[test]
    fn a_header_inside_a_member_is_no_boundary() {
        // The first member's data holds the bytes of its own header (stored: no compression),
        // so the guess is wrong; the stream still decodes whole (the second thread's work is
        // dropped).
        let stored = |d: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
            e.write_all(d).unwrap();
            e.finish().unwrap()
        };
        let header = stored(b"")[..10].to_vec();
        let mut plain = Vec::new();
        for _ in 0..50 {
            plain.extend_from_slice(&header);
            plain.extend_from_slice(&data(3000));
        }
        let mut gz = stored(&plain);
        let first_len = gz.len();
        assert!(next_header(&gz).is_some_and(|at| at < first_len - 8));
        gz.extend(stored(&plain));
        let mut want = plain.clone();
        want.extend_from_slice(&plain);
        assert!(decode(&gz).unwrap() == want);
    }

    #[test]
    fn corrupt_cut_and_trailing_junk_are_errors() {
        let d = data(3 << 20);
        let good = members(&d, 1 << 20);
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 0x55;
        let mut bad_crc = gzip(&d[..1000]);
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 1;
        let mut junk = good.clone();
        junk.extend_from_slice(b"not gzip");
        let single = gzip(&d);
        let cases: [(&str, &[u8]); 7] = [
            ("cut in a member", &good[..good.len() / 2]),
            ("cut in a streamed member", &single[..single.len() / 2]),
            ("cut in the trailer", &good[..good.len() - 3]),
            ("flipped", &flipped),
            ("bad crc", &bad_crc),
            ("junk after", &junk),
            ("empty", b""),
        ];
        for (name, gz) in cases {
            assert!(decode(gz).is_err(), "{name}");
        }
    }
}
