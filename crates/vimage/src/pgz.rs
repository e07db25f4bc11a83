//! A parallel gzip writer in the manner of pigz (deflate by stock zlib, see [`crate::zlib`]): the input is cut into blocks that worker threads
//! deflate at once, each primed with the 32 KiB of input before it, and the blocks are joined
//! into ONE standard gzip member (sync-flushed raw deflate blocks, a final block, CRC-32 and
//! length). Any gzip reader (`gzip -d`, `tar -xzf`, Python's `tarfile`) reads it, it is within a
//! fraction of a percent of single-threaded deflate's size, and the same input always gives the
//! same bytes (fixed header: no name, mtime 0, OS unix).
//!
//! Memory is bounded: at most `2 × threads` blocks are in flight.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// Input bytes per block handed to one worker.
const BLOCK: usize = 1 << 20;
/// Deflate's window: the dictionary carried from one block to the next.
const WINDOW: usize = 32 * 1024;
/// gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS = unix.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

struct Job {
    index: u64,
    data: Vec<u8>,
    dict: Arc<Vec<u8>>,
    last: bool,
}

/// A `Write` that gzips what it is given on several threads into `W`. Call [`ParGz::finish`] to
/// write the trailer and get `W` back; dropping it without `finish` leaves a truncated stream.
pub struct ParGz<W: Write + Send + 'static> {
    buf: Vec<u8>,
    next_index: u64,
    prev_tail: Arc<Vec<u8>>,
    crc: crc32fast::Hasher,
    len: u64,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> ParGz<W> {
    /// Starts a writer with `threads` deflate workers (at least one) at gzip `level` (0-9).
    pub fn new(mut out: W, threads: usize, level: u32) -> io::Result<ParGz<W>> {
        out.write_all(&HEADER)?;
        let threads = threads.max(1);
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads * 2);
        let (done_tx, done_rx) = mpsc::sync_channel::<(u64, io::Result<Vec<u8>>)>(threads * 2);
        let job_rx = Arc::new(std::sync::Mutex::new(job_rx));
        let workers = (0..threads)
            .map(|_| {
                let job_rx = job_rx.clone();
                let done_tx = done_tx.clone();
                thread::spawn(move || worker(&job_rx, &done_tx, level))
            })
            .collect();
        drop(done_tx);
        let writer = thread::spawn(move || write_in_order(out, done_rx));
        Ok(ParGz {
            buf: Vec::with_capacity(BLOCK),
            next_index: 0,
            prev_tail: Arc::new(Vec::new()),
            crc: crc32fast::Hasher::new(),
            len: 0,
            jobs: Some(job_tx),
            workers,
            writer: Some(writer),
        })
    }

    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(if last { 0 } else { BLOCK }),
        );
        let tail_start = data.len().saturating_sub(WINDOW);
        let next_tail = Arc::new(data[tail_start..].to_vec());
        let job = Job {
            index: self.next_index,
            data,
            dict: std::mem::replace(&mut self.prev_tail, next_tail),
            last,
        };
        self.next_index += 1;
        let sender = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("parallel gzip writer already finished"))?;
        if sender.send(job).is_err() {
            // The writer thread stopped: its error is reported by finish().
            return Err(self.collect_error());
        }
        Ok(())
    }

    fn collect_error(&mut self) -> io::Error {
        self.jobs = None;
        match self.writer.take().map(|w| w.join()) {
            Some(Ok(Err(e))) => e,
            _ => io::Error::other("parallel gzip writer stopped"),
        }
    }

    /// Flushes the last block, writes the gzip trailer, waits for the threads and returns the
    /// inner writer (not fsynced: that is the caller's business).
    pub fn finish(mut self) -> io::Result<W> {
        self.dispatch(true)?;
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let mut out = match self.writer.take().map(|w| w.join()) {
            Some(Ok(result)) => result?,
            _ => return Err(io::Error::other("parallel gzip writer thread panicked")),
        };
        let crc = std::mem::take(&mut self.crc).finalize();
        out.write_all(&crc.to_le_bytes())?;
        out.write_all(&(self.len as u32).to_le_bytes())?;
        Ok(out)
    }
}

impl<W: Write + Send + 'static> Write for ParGz<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        self.crc.update(&data[..n]);
        self.len += n as u64;
        if self.buf.len() == BLOCK {
            self.dispatch(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn worker(
    jobs: &std::sync::Mutex<Receiver<Job>>,
    done: &SyncSender<(u64, io::Result<Vec<u8>>)>,
    level: u32,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let result = crate::zlib::deflate_block(&job.data, &job.dict, level, job.last);
        if done.send((job.index, result)).is_err() {
            return;
        }
    }
}

fn write_in_order<W: Write>(
    mut out: W,
    done: Receiver<(u64, io::Result<Vec<u8>>)>,
) -> io::Result<W> {
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    for (index, block) in done {
        pending.insert(index, block);
        while let Some(block) = pending.remove(&next) {
            out.write_all(&block?)?;
            next += 1;
        }
    }
    if !pending.is_empty() {
        return Err(io::Error::other("parallel gzip: a block went missing"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::MultiGzDecoder;
    use std::io::Read;

    fn gz(data: &[u8], threads: usize) -> Vec<u8> {
        let mut w = ParGz::new(Vec::new(), threads, 6).expect("start");
        // Uneven write sizes cross block boundaries in every way.
        for chunk in data.chunks(77_777) {
            w.write_all(chunk).expect("write");
        }
        w.finish().expect("finish")
    }

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: words from a small LCG.
        let words = [
            &b"alpha "[..],
            b"beta ",
            b"gamma\n",
            b"delta\t",
            b"\0\x01\x02",
            b"epsilon ",
        ];
        let mut x: u32 = 12345;
        let mut v = Vec::with_capacity(len + 16);
        while v.len() < len {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            v.extend_from_slice(words[(x >> 16) as usize % words.len()]);
        }
        v.truncate(len);
        v
    }

    #[test]
    fn round_trips_through_a_standard_gzip_reader() {
        for len in [0, 1, WINDOW, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12345] {
            let data = sample(len);
            let packed = gz(&data, 3);
            assert_eq!(&packed[..10], &HEADER, "len {len}");
            let mut back = Vec::new();
            // A single member: the plain (not multi-member) decoder must read it all.
            flate2::read::GzDecoder::new(&packed[..])
                .read_to_end(&mut back)
                .expect("gunzip");
            assert_eq!(back, data, "len {len}");
            let mut back2 = Vec::new();
            MultiGzDecoder::new(&packed[..])
                .read_to_end(&mut back2)
                .expect("gunzip");
            assert_eq!(back2, data);
        }
    }

    #[test]
    fn same_input_gives_same_bytes_whatever_the_thread_count() {
        let data = sample(2 * BLOCK + 999);
        assert_eq!(gz(&data, 1), gz(&data, 4));
    }

    #[test]
    fn size_is_close_to_single_threaded_deflate() {
        let data = sample(4 * BLOCK);
        let ours = gz(&data, 2).len();
        let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        single.write_all(&data).expect("write");
        let theirs = single.finish().expect("finish").len();
        let ratio = ours as f64 / theirs as f64;
        assert!(ratio < 1.02, "parallel {ours} vs single {theirs}");
    }

    #[test]
    fn gzip_command_reads_it() {
        let data = sample(BLOCK + 5);
        let packed = gz(&data, 2);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.gz");
        std::fs::write(&path, &packed).expect("write");
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&path)
            .output()
            .expect("gzip");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, data);
        let test = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&path)
            .status()
            .expect("gzip -t");
        assert!(test.success());
    }
}
