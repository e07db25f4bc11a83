//! Decompression on a second thread, so that inflating and writing files overlap (as
//! `tar -xzf` overlaps with its `gzip -d` child). A few buffers circulate between the two
//! threads, so memory stays flat. The decompressor fills each buffer itself ([`Source`]): a
//! gzip member is inflated straight into one, never copied on the way.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread;

/// Size of one chunk a [`Read`] source fills.
pub(super) const CHUNK: usize = 1 << 20;
/// Chunks in flight at most (besides the one being filled and the one being read).
const DEPTH: usize = 6;

/// What a [`Pipe`] reads from: the decompressed stream, a buffer at a time.
pub(super) trait Source: Send {
    /// Puts the next bytes of the stream at the start of `buf` (resizing it as it needs;
    /// what it holds is scratch) and returns how many; 0 only at the end.
    fn next(&mut self, buf: &mut Vec<u8>) -> io::Result<usize>;
}

/// A [`Source`] over a reader: each buffer [`CHUNK`] bytes, filled as far as the reader goes.
pub(super) struct Chunks<R>(pub(super) R);

impl<R: Read + Send> Source for Chunks<R> {
    fn next(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        buf.resize(CHUNK, 0);
        fill(&mut self.0, buf)
    }
}

/// Reads until `buf` is full or `source` ends; returns the bytes read.
pub(super) fn fill(source: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A reader fed by a thread that reads a [`Source`] ahead.
pub(crate) struct Pipe {
    full: Receiver<io::Result<(Vec<u8>, usize)>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
}

impl Pipe {
    /// Starts reading `source` on a new thread. The thread ends at the end of the stream, on
    /// an error (handed to the reader), or when the `Pipe` is dropped.
    pub(crate) fn spawn(mut source: Box<dyn Source>) -> io::Result<Pipe> {
        let (full_tx, full) = sync_channel::<io::Result<(Vec<u8>, usize)>>(DEPTH);
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
        thread::Builder::new()
            .name("vr-fetch-inflate".into())
            .spawn(move || loop {
                let mut buf = empty_rx.try_recv().unwrap_or_default();
                match source.next(&mut buf) {
                    Ok(0) => {
                        let _ = full_tx.send(Ok((buf, 0)));
                        return;
                    }
                    Ok(n) => {
                        if full_tx.send(Ok((buf, n))).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        return;
                    }
                }
            })?;
        Ok(Pipe {
            full,
            empty,
            current: Vec::new(),
            len: 0,
            pos: 0,
            done: false,
        })
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            if self.done {
                return Ok(0);
            }
            let spent = std::mem::take(&mut self.current);
            if spent.capacity() > 0 {
                let _ = self.empty.try_send(spent);
            }
            match self.full.recv() {
                Ok(Ok((buf, 0))) => {
                    self.done = true;
                    let _ = self.empty.try_send(buf);
                    return Ok(0);
                }
                Ok(Ok((buf, n))) => {
                    self.current = buf;
                    self.len = n;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("decompression thread ended early"));
                }
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("boom"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }

    /// Hands out `sizes` bytes at a time, in buffers of its own sizes.
    struct Uneven(Vec<usize>, u8);
    impl Source for Uneven {
        fn next(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
            let Some(n) = self.0.pop() else {
                return Ok(0);
            };
            buf.resize(n + 3, 0);
            for b in &mut buf[..n] {
                *b = self.1;
                self.1 = self.1.wrapping_add(1);
            }
            Ok(n)
        }
    }

    #[test]
    fn passes_bytes_through_in_order() {
        for size in [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 5, 20 * CHUNK] {
            let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
            let source = Chunks(io::Cursor::new(data.clone()));
            let mut pipe = Pipe::spawn(Box::new(source)).unwrap();
            let mut got = Vec::new();
            pipe.read_to_end(&mut got).unwrap();
            assert_eq!(got, data, "size {size}");
        }
        let sizes = vec![5, 4 << 20, 1, 1 << 20, 70_000, 3];
        let total: usize = sizes.iter().sum();
        let mut pipe = Pipe::spawn(Box::new(Uneven(sizes, 0))).unwrap();
        let mut got = Vec::new();
        pipe.read_to_end(&mut got).unwrap();
        let want: Vec<u8> = (0..total).map(|i| i as u8).collect();
        assert!(got == want, "uneven buffers");
    }

    #[test]
    fn hands_over_errors() {
        let mut pipe = Pipe::spawn(Box::new(Chunks(Failing(CHUNK + 10)))).unwrap();
        let mut got = Vec::new();
        let err = pipe.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.to_string(), "boom");
    }
}
