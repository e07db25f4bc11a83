//! The Zstandard writer of `.tar.zst` images: zstd's own multithreaded mode (zstdmt) at level
//! 3, as `zstd -3 -T<n>` writes, with a content checksum.
//!
//! zstd cuts the input into jobs of a fixed size and compresses them on its worker threads;
//! with at least one worker, the bytes depend on the job size and overlap, never on the number
//! of workers. Both are set here (rather than left to defaults derived from the level) and one
//! worker is used even for `threads = 1` (zero workers is zstd's single-threaded mode, which
//! writes other bytes), so an image has the same bytes on every host.
//!
//! The compressed bytes go to their writer (the tarball, hashed as it is written) on a thread
//! of their own ([`Offload`]), as `tar | zstd > file` has its writing in another process: the
//! thread feeding zstd only reads files and makes tar headers.

use std::io::{self, Write};
use std::sync::mpsc::{self, SyncSender};
use std::thread::{self, JoinHandle};
use zstd::stream::write::Encoder;
use zstd::zstd_safe::CParameter;

/// The compression level (`zstd -3`, zstd's default).
pub const LEVEL: i32 = 3;
/// Input bytes per job: what zstd picks itself at level 3 (4 windows of 2 MiB).
const JOB_SIZE: u32 = 8 << 20;
/// How much of the previous job each job sees, as zstd's overlap log (6: 1/8 of the window,
/// zstd's default at level 3).
const OVERLAP_LOG: u32 = 6;

/// Bytes handed to the writing thread at once.
const CHUNK: usize = 1 << 20;

/// A zstd frame written into `W` on `threads` workers, the compressed bytes written into `W`
/// on a thread of their own. Call [`ZstWriter::finish`] to end the frame and get `W` back.
pub struct ZstWriter<W: Write + Send + 'static>(Encoder<'static, Offload<W>>);

impl<W: Write + Send + 'static> ZstWriter<W> {
    /// Starts the frame.
    pub fn new(out: W, threads: usize) -> io::Result<ZstWriter<W>> {
        Ok(ZstWriter(encoder(Offload::new(out), threads)?))
    }

    /// Ends the frame, waits for the writing thread and returns `W` (not fsynced).
    pub fn finish(self) -> io::Result<W> {
        self.0.finish()?.finish()
    }
}

impl<W: Write + Send + 'static> Write for ZstWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A `Write` that hands what it is given, 1 MiB at a time, to a thread that writes
/// it into `W` in order. Its `flush` only passes on what it holds; [`Offload::finish`] waits
/// for the thread.
pub struct Offload<W: Write + Send + 'static> {
    buf: Vec<u8>,
    chunks: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> Offload<W> {
    /// Starts the writing thread.
    pub fn new(mut out: W) -> Offload<W> {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
        let thread = thread::spawn(move || {
            for chunk in rx {
                out.write_all(&chunk)?;
            }
            Ok(out)
        });
        Offload {
            buf: Vec::with_capacity(CHUNK),
            chunks: Some(tx),
            thread: Some(thread),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = self.chunks.as_ref().map(|tx| tx.send(chunk));
        if !matches!(sent, Some(Ok(()))) {
            // The thread stopped: its error says why.
            self.chunks = None;
            return Err(match self.thread.take().map(|t| t.join()) {
                Some(Ok(Err(e))) => e,
                _ => io::Error::other("the writing thread stopped"),
            });
        }
        Ok(())
    }

    /// Passes on the last bytes, waits for the thread and returns `W`.
    pub fn finish(mut self) -> io::Result<W> {
        self.send()?;
        self.chunks = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            _ => Err(io::Error::other("the writing thread panicked")),
        }
    }
}

impl<W: Write + Send + 'static> Write for Offload<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// An encoder writing a zstd frame into `out` on `threads` workers (at least one). Call
/// `finish` to end the frame and get `out` back.
pub fn encoder<W: Write>(out: W, threads: usize) -> io::Result<Encoder<'static, W>> {
    let mut enc = Encoder::new(out, LEVEL)?;
    let workers = u32::try_from(threads.max(1)).unwrap_or(u32::MAX);
    enc.multithread(workers)?;
    enc.set_parameter(CParameter::JobSize(JOB_SIZE))?;
    enc.set_parameter(CParameter::OverlapSizeLog(OVERLAP_LOG))?;
    enc.include_checksum(true)?;
    Ok(enc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        let mut x: u64 = 7;
        (0..len)
            .map(|i| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                // Runs of text with some noise: compressible, not trivially.
                if i % 97 < 80 {
                    b"image layer "[i % 12]
                } else {
                    (x >> 56) as u8
                }
            })
            .collect()
    }

    fn zst(data: &[u8], threads: usize) -> Vec<u8> {
        let mut enc = encoder(Vec::new(), threads).expect("encoder");
        for chunk in data.chunks(100_003) {
            enc.write_all(chunk).expect("write");
        }
        enc.finish().expect("finish")
    }

    #[test]
    fn same_input_gives_same_bytes_whatever_the_thread_count() {
        // Several jobs, the last one short.
        let data = sample(3 * JOB_SIZE as usize + 12_345);
        let one = zst(&data, 1);
        assert_eq!(one, zst(&data, 2));
        assert_eq!(one, zst(&data, 5));
        assert_eq!(zstd::decode_all(&one[..]).expect("decode"), data);
    }

    #[test]
    fn the_writer_on_its_own_thread_gives_the_same_bytes() {
        let data = sample(JOB_SIZE as usize + 3 * CHUNK + 17);
        let mut w = ZstWriter::new(Vec::new(), 2).expect("start");
        for chunk in data.chunks(65_536) {
            w.write_all(chunk).expect("write");
        }
        assert_eq!(w.finish().expect("finish"), zst(&data, 1));
    }

    #[test]
    fn a_failing_writer_is_an_error_not_a_hang() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let data = sample(4 * CHUNK);
        let mut w = ZstWriter::new(Full, 2).expect("start");
        let written = data.chunks(65_536).try_for_each(|c| w.write_all(c));
        let err = written.and_then(|()| w.finish().map(|_| ())).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }

    #[test]
    fn the_zstd_command_reads_it() {
        let data = sample(1 << 20);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.zst");
        std::fs::write(&path, zst(&data, 2)).expect("write");
        let out = std::process::Command::new("zstd")
            .arg("-dc")
            .arg(&path)
            .output()
            .expect("zstd");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, data);
    }
}
