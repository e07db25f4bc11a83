//! Decompression on a second thread, so that inflating and writing files overlap (as
//! `tar -xzf` overlaps with its `gzip -d` child). A few fixed-size buffers circulate between the
//! two threads, so memory stays flat.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread;

/// Size of one chunk handed from the decompressing thread to the reader.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight at most.
const DEPTH: usize = 4;

/// A reader fed by a thread that reads `source` ahead.
pub(crate) struct Pipe {
    full: Receiver<io::Result<(Vec<u8>, usize)>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
}

impl Pipe {
    /// Starts reading `source` on a new thread. The thread ends at EOF, on an error (handed to
    /// the reader), or when the `Pipe` is dropped.
    pub(crate) fn spawn(mut source: Box<dyn Read + Send>) -> io::Result<Pipe> {
        let (full_tx, full) = sync_channel::<io::Result<(Vec<u8>, usize)>>(DEPTH);
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
        thread::Builder::new()
            .name("vr-fetch-inflate".into())
            .spawn(move || loop {
                let mut buf = empty_rx.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
                match fill(&mut source, &mut buf) {
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

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn fill(source: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
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

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            if self.done {
                return Ok(0);
            }
            let spent = std::mem::take(&mut self.current);
            if !spent.is_empty() {
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

    #[test]
    fn passes_bytes_through_in_order() {
        for size in [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 5, 20 * CHUNK] {
            let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
            let mut pipe = Pipe::spawn(Box::new(io::Cursor::new(data.clone()))).unwrap();
            let mut got = Vec::new();
            pipe.read_to_end(&mut got).unwrap();
            assert_eq!(got, data, "size {size}");
        }
    }

    #[test]
    fn hands_over_errors() {
        let mut pipe = Pipe::spawn(Box::new(Failing(CHUNK + 10))).unwrap();
        let mut got = Vec::new();
        let err = pipe.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.to_string(), "boom");
    }
}
