//! What the tar crate reads between two entries: metered (a hostile 200 MB "long name" is
//! refused before it is held in memory) and kept, so that an entry's pax records can be read
//! as they are stored.
//!
//! The tar crate hands out an entry's pax records split at every newline, so a record whose
//! value holds one (an ACL in GNU tar's text form, a binary capability or ACL with a 0x0a
//! byte) comes out malformed. The records are therefore taken from the bytes read: walking
//! the extension headers (pax `x`, GNU long names `L`/`K`) that lie between where the crate
//! looked for the entry and the entry's own header, both positions the crate reports.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// The most bytes read between two entries: headers, GNU long names and pax records, which
/// the tar crate holds in memory whole.
pub(super) const MAX_BETWEEN_ENTRIES: u64 = 1 << 20;

const BLOCK: u64 = 512;

#[derive(Default)]
struct State {
    /// Counting and keeping (between entries) or not.
    on: bool,
    /// Bytes read since counting started.
    count: u64,
    /// Bytes read in all: the position in the tar stream.
    pos: u64,
    /// Where `kept` starts in the tar stream.
    start: u64,
    /// The bytes read since counting started.
    kept: Vec<u8>,
}

/// The shared view of a [`Metered`] reader.
#[derive(Clone, Default)]
pub(super) struct Meter(Rc<RefCell<State>>);

impl Meter {
    /// Starts (afresh) or stops counting and keeping what is read.
    pub(super) fn between_entries(&self, on: bool) {
        let mut s = self.0.borrow_mut();
        s.on = on;
        if on {
            s.count = 0;
            s.start = s.pos;
            s.kept.clear();
        }
    }

    /// The position in the tar stream: bytes read so far.
    pub(super) fn pos(&self) -> u64 {
        self.0.borrow().pos
    }

    /// The pax data of the entry whose header is at `header_pos`, read since counting last
    /// started, the crate having looked for the entry from `from`. Err: the bytes between
    /// do not form a chain of extension headers ending at the entry (then the crate and this
    /// walk disagree about the archive, and the entry is refused).
    pub(super) fn local_pax(&self, from: u64, header_pos: u64) -> Result<Option<Vec<u8>>, String> {
        let s = self.0.borrow();
        let (Some(from), Some(end)) = (from.checked_sub(s.start), header_pos.checked_sub(s.start))
        else {
            return Err(format!(
                "its header at byte {header_pos} was not read where expected"
            ));
        };
        local_pax(&s.kept, from, end).map(|pax| pax.map(<[u8]>::to_vec))
    }
}

/// In `kept`, the data of the last pax (`x`) header of the chain of extension headers from
/// `from` to `end`.
fn local_pax(kept: &[u8], from: u64, end: u64) -> Result<Option<&[u8]>, String> {
    let mut pos = from;
    let mut pax = None;
    while pos < end {
        let header = slice(kept, pos, BLOCK)
            .ok_or_else(|| format!("an extension header at byte {pos} is cut short"))?;
        let header = tar::Header::from_byte_slice(header);
        let size = header
            .entry_size()
            .map_err(|e| format!("an extension header at byte {pos}: {e}"))?;
        let data = pos + BLOCK;
        if header.entry_type().is_pax_local_extensions() {
            pax = Some(
                slice(kept, data, size)
                    .ok_or_else(|| format!("the pax records at byte {data} are cut short"))?,
            );
        }
        pos = size
            .checked_add(BLOCK - 1)
            .and_then(|s| data.checked_add(s / BLOCK * BLOCK))
            .ok_or_else(|| format!("an extension header at byte {pos} is too large"))?;
    }
    if pos != end {
        return Err(format!(
            "its extension headers end at byte {pos}, its own header starts at {end}"
        ));
    }
    Ok(pax)
}

/// Where the tar crate looks for the headers after `entry`, handed out at position `pos`
/// (after its header and any GNU sparse extension blocks): past its data, as stored, padded
/// to 512 bytes. The data stored is the size the entry reports, but for a GNU sparse file,
/// which reports its expanded size, what its header says.
pub(super) fn after_data<R: Read>(entry: &tar::Entry<'_, R>, pos: u64) -> u64 {
    let header = entry.header();
    let stored = if header.entry_type().is_gnu_sparse() {
        header.entry_size().unwrap_or(u64::MAX)
    } else {
        entry.size()
    };
    stored
        .checked_add(511)
        .and_then(|s| pos.checked_add(s / 512 * 512))
        .unwrap_or(u64::MAX)
}

fn slice(kept: &[u8], at: u64, len: u64) -> Option<&[u8]> {
    let at = usize::try_from(at).ok()?;
    let len = usize::try_from(len).ok()?;
    kept.get(at..at.checked_add(len)?)
}

/// A reader that keeps its position and, while its [`Meter`] says so, what it reads, failing
/// once more than [`MAX_BETWEEN_ENTRIES`] bytes were read between two entries.
pub(super) struct Metered<R> {
    pub(super) inner: R,
    pub(super) meter: Meter,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.meter.0.borrow_mut();
        s.pos += n as u64;
        if s.on {
            s.count += n as u64;
            if s.count > MAX_BETWEEN_ENTRIES {
                return Err(io::Error::other(format!(
                    "a tar header, long name or pax record larger than {MAX_BETWEEN_ENTRIES} \
                     bytes (refused: it would be held in memory)"
                )));
            }
            s.kept.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A 512-byte header of `kind` with `size`, then its data padded to 512.
    fn ext(kind: tar::EntryType, data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_cksum();
        let mut v = h.as_bytes().to_vec();
        v.extend_from_slice(data);
        v.resize(v.len().div_ceil(512) * 512, 0);
        v
    }

    #[test]
    fn finds_the_pax_data_among_extension_headers() {
        use tar::EntryType as T;
        let pax = b"30 SCHILY.acl.access=a\nb\nc\n";
        let mut kept = vec![0u8; 100]; // the rest of the previous entry's padding
        kept.extend(ext(T::XHeader, pax));
        kept.extend(ext(T::new(b'L'), b"a/long/name"));
        let end = kept.len() as u64;
        assert_eq!(local_pax(&kept, 100, end), Ok(Some(&pax[..])));
        // No extension header at all.
        assert_eq!(local_pax(&kept, end, end), Ok(None));
        assert_eq!(
            local_pax(&kept, 100 + 1024, end),
            Ok(None),
            "only the long name"
        );
        // Not a chain that ends at the entry.
        assert!(local_pax(&kept, 100, end - 512).is_err());
        assert!(local_pax(&kept, 100, end + 512).is_err());
        assert!(local_pax(&kept, 0, end).is_err());
    }

    #[test]
    fn the_meter_keeps_what_is_read_between_entries() {
        let pax = b"12 user.x=\n\n";
        let mut data = vec![7u8; 1000];
        data.truncate(600);
        let ext_at = 1024u64;
        data.resize(ext_at as usize, 0);
        data.extend(ext(tar::EntryType::XHeader, pax));
        let header_pos = data.len() as u64;
        data.extend(vec![0u8; 512]);
        let meter = Meter::default();
        let mut r = Metered {
            inner: &data[..],
            meter: meter.clone(),
        };
        let mut buf = vec![0u8; 600];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(meter.pos(), 600);
        meter.between_entries(true);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        meter.between_entries(false);
        assert_eq!(meter.local_pax(ext_at, header_pos), Ok(Some(pax.to_vec())));
        assert!(
            meter.local_pax(0, header_pos).is_err(),
            "before what was kept"
        );
    }

    #[test]
    fn too_much_between_entries_is_refused() {
        let data = vec![0u8; (MAX_BETWEEN_ENTRIES + 1) as usize];
        let meter = Meter::default();
        let mut r = Metered {
            inner: &data[..],
            meter: meter.clone(),
        };
        let mut sink = Vec::new();
        r.read_to_end(&mut sink).unwrap();
        meter.between_entries(true);
        let mut r = Metered {
            inner: &data[..],
            meter: meter.clone(),
        };
        let err = r.read_to_end(&mut sink).unwrap_err();
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );
    }
}
