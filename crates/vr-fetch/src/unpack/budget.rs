//! What an unpack may still write: entries, bytes and free space ([`UnpackLimits`]), charged
//! before anything of an entry is written, with each file counted at its declared size (a
//! sparse file at the size it claims, however few bytes it stores).

use crate::limits::{blocks, Limit, Room, UnpackLimits, BLOCK};
use std::path::Path;

/// The budget of one unpack.
pub(crate) struct Budget {
    limits: UnpackLimits,
    entries: u64,
    bytes: u64,
    room: Room,
}

impl Budget {
    /// A budget for an unpack into `dir`, whose file system is looked at now.
    pub(crate) fn new(dir: &Path, limits: UnpackLimits) -> std::io::Result<Budget> {
        Ok(Budget {
            limits,
            entries: 0,
            bytes: 0,
            room: Room::new(dir, limits.keep_free)?,
        })
    }

    /// Charges one entry of `kind` declaring `size` bytes.
    pub(crate) fn entry(&mut self, kind: tar::EntryType, size: u64) -> Result<(), Limit> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(Limit::UnpackEntries {
                max: self.limits.max_entries,
            });
        }
        use tar::EntryType as T;
        let cost = match kind {
            T::Regular | T::Continuous | T::GNUSparse => blocks(size),
            T::Directory => BLOCK,
            _ => 0,
        };
        self.bytes(cost)
    }

    /// Charges the extended attributes of an entry: `bytes` of names and values.
    pub(crate) fn xattrs(&mut self, bytes: u64) -> Result<(), Limit> {
        self.bytes(bytes)
    }

    /// Charges a folder made for an entry's path.
    pub(crate) fn folder(&mut self) -> Result<(), Limit> {
        self.bytes(BLOCK)
    }

    fn bytes(&mut self, cost: u64) -> Result<(), Limit> {
        self.bytes = self.bytes.saturating_add(cost);
        if self.bytes > self.limits.max_bytes {
            return Err(Limit::UnpackSize {
                max: self.limits.max_bytes,
            });
        }
        if !self.room.take(cost) {
            let (dir, keep) = self.room.kept();
            return Err(Limit::UnpackSpace {
                dir: dir.to_path_buf(),
                keep,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::KeepFree;
    use tar::EntryType as T;

    fn budget(max_bytes: u64, max_entries: u64) -> (tempfile::TempDir, Budget) {
        let dir = tempfile::tempdir().unwrap();
        let limits = UnpackLimits {
            max_bytes,
            max_entries,
            keep_free: KeepFree::NONE,
        };
        let b = Budget::new(dir.path(), limits).unwrap();
        (dir, b)
    }

    #[test]
    fn entries_are_counted() {
        let (_d, mut b) = budget(u64::MAX, 3);
        for kind in [T::Symlink, T::Link, T::Fifo] {
            b.entry(kind, 0).unwrap();
        }
        assert_eq!(b.entry(T::Symlink, 0), Err(Limit::UnpackEntries { max: 3 }));
    }

    #[test]
    fn declared_sizes_are_counted_in_blocks() {
        let (_d, mut b) = budget(3 * BLOCK, u64::MAX);
        b.entry(T::Regular, 1).unwrap();
        b.entry(T::Directory, 0).unwrap();
        b.entry(T::Symlink, 0).unwrap();
        b.folder().unwrap();
        assert_eq!(b.folder(), Err(Limit::UnpackSize { max: 3 * BLOCK }));
        let (_d, mut b) = budget(1 << 30, u64::MAX);
        assert_eq!(
            b.entry(T::GNUSparse, 1 << 50),
            Err(Limit::UnpackSize { max: 1 << 30 })
        );
    }

    #[test]
    fn xattrs_are_counted_in_bytes() {
        let (_d, mut b) = budget(BLOCK + 10, u64::MAX);
        b.entry(T::Regular, 1).unwrap();
        b.xattrs(10).unwrap();
        assert_eq!(b.xattrs(1), Err(Limit::UnpackSize { max: BLOCK + 10 }));
    }

    #[test]
    fn free_space_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let limits = UnpackLimits {
            max_bytes: u64::MAX,
            max_entries: u64::MAX,
            keep_free: KeepFree {
                percent: 100,
                at_most: u64::MAX,
            },
        };
        let mut b = Budget::new(dir.path(), limits).unwrap();
        b.entry(T::Symlink, 0).unwrap();
        assert!(matches!(
            b.entry(T::Regular, 1),
            Err(Limit::UnpackSpace { .. })
        ));
    }
}
