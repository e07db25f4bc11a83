//! Writing the one JSON array element by element, as results become final, so that no more
//! than one result is ever held (see [`crate::runner`]).
//!
//! The array is one line: `[`, the elements separated by `,`, then `]` and a newline, exactly
//! what serializing all results at once would give. Each element is flushed as it is written,
//! so a reader sees progress. A reader that went away (`| head -c0`, EPIPE) is not an error:
//! from then on the rest is thrown away.

use crate::report::UptestResult;
use std::io::{self, Write};

/// A JSON array being written to `W`.
#[derive(Debug)]
pub struct JsonArray<W: Write> {
    out: W,
    count: usize,
    gone: bool,
}

impl<W: Write> JsonArray<W> {
    /// Opens the array (writes `[`).
    pub fn start(out: W) -> io::Result<Self> {
        let mut array = JsonArray {
            out,
            count: 0,
            gone: false,
        };
        array.write(|out| out.write_all(b"["))?;
        Ok(array)
    }

    /// Writes one element and flushes it.
    pub fn push(&mut self, result: &UptestResult) -> io::Result<()> {
        let first = self.count == 0;
        self.count += 1;
        self.write(|out| {
            if !first {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, result)?;
            out.flush()
        })
    }

    /// Closes the array (writes `]` and a newline), flushes it and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write(|out| {
            out.write_all(b"]\n")?;
            out.flush()
        })?;
        Ok(self.out)
    }

    /// Runs `f` on the writer unless the reader is gone; EPIPE marks it gone.
    fn write(&mut self, f: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<()> {
        if self.gone {
            return Ok(());
        }
        match f(&mut self.out) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.gone = true;
                Ok(())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, output: &str, passed: bool) -> UptestResult {
        UptestResult {
            name: name.into(),
            output: output.into(),
            passed,
            duration_ms: 5,
            exit_code: Some(i32::from(!passed)),
            timed_out: false,
            truncated: false,
            attempts: 1,
        }
    }

    #[test]
    fn element_by_element_is_the_same_line_as_all_at_once() {
        let cases = [
            vec![],
            vec![result("a", "ok\n", true)],
            vec![
                result("a", "ok\n", true),
                result("b", "\u{fffd}\"<\\>\u{1}\n", false),
                result("c", "", true),
            ],
        ];
        for results in cases {
            let mut array = JsonArray::start(Vec::new()).unwrap();
            for r in &results {
                array.push(r).unwrap();
            }
            let out = array.finish().unwrap();
            let mut want = serde_json::to_vec(&results).unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }

    /// A writer that takes `room` bytes, then fails with `kind`.
    struct Full {
        room: usize,
        kind: io::ErrorKind,
        got: Vec<u8>,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(self.kind.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_that_went_away_is_not_an_error_but_a_full_disk_is() {
        // (room, error kind, expected result of push)
        let cases = [
            (3, io::ErrorKind::BrokenPipe, None),
            (0, io::ErrorKind::BrokenPipe, None),
            (
                3,
                io::ErrorKind::StorageFull,
                Some(io::ErrorKind::StorageFull),
            ),
        ];
        for (room, kind, want) in cases {
            let full = Full {
                room,
                kind,
                got: Vec::new(),
            };
            let started = JsonArray::start(full);
            if room == 0 {
                // Gone before the first byte: still fine, and nothing more is tried.
                let mut array = started.unwrap();
                assert!(array.gone);
                array.push(&result("a", "", true)).unwrap();
                array.finish().unwrap();
                continue;
            }
            let mut array = started.unwrap();
            let pushed = array.push(&result("a", "long enough", true));
            assert_eq!(pushed.err().map(|e| e.kind()), want, "{kind:?}");
            if want.is_none() {
                array.push(&result("b", "", true)).unwrap();
                assert_eq!(array.out.got, b"[{\"");
                array.finish().unwrap();
            }
        }
    }
}
