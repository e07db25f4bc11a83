//! Walking a rootfs into tar entries, written the way GNU tar writes `tar --sort=name
//! --numeric-owner -C root -cf - .`: names `./`, `./bin/`, `./bin/sh` (a directory's name ends
//! in `/`), names and link targets of 100 bytes or more in GNU long-name entries
//! (`././@LongLink`), numeric owners only (no user or group names), no atime or ctime. Each
//! folder's entries come in byte order; a file with several links is stored once and its
//! other names are hardlinks to the first. With a clamp (`SOURCE_DATE_EPOCH`), no mtime is
//! later than it. An entry with xattrs vr carries gets one PAX header (`x`) before it, its
//! records sorted by key ([`vr_fs::xattr::to_pax`]: ids as the container saw them).

use crate::pack::{unshifted, PackError, PackOptions};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The longest name (or link target) GNU tar keeps in the header itself: one byte less than
/// the field, so that it stays NUL-terminated.
const NAME_MAX_IN_HEADER: usize = 99;

/// Writes the tree at `root` as tar entries into `builder`; write errors name `out`.
pub(crate) fn walk<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    out: &Path,
    opts: &PackOptions,
) -> Result<(), PackError> {
    let mut walker = Walker {
        builder,
        links: HashMap::new(),
        root,
        out,
        opts,
    };
    walker.entry(Path::new(""))
}

struct Walker<'a, W: Write> {
    builder: &'a mut tar::Builder<W>,
    /// (dev, ino) of files with several links -> the archive name first written.
    links: HashMap<(u64, u64), Vec<u8>>,
    root: &'a Path,
    out: &'a Path,
    opts: &'a PackOptions<'a>,
}

impl<W: Write> Walker<'_, W> {
    fn werr(&self, source: io::Error) -> PackError {
        PackError::Write {
            path: self.out.to_path_buf(),
            source,
        }
    }

    /// Writes the entry at `rel` (relative to the root; empty for the root) and, for a
    /// folder, everything under it.
    fn entry(&mut self, rel: &Path) -> Result<(), PackError> {
        if (self.opts.cancel)() {
            return Err(PackError::Cancelled);
        }
        let path = if rel.as_os_str().is_empty() {
            self.root.to_path_buf()
        } else {
            self.root.join(rel)
        };
        let rerr = |source| PackError::Read {
            path: path.clone(),
            source,
        };
        let meta = fs::symlink_metadata(&path).map_err(rerr)?;
        let ft = meta.file_type();
        let mut name = b"./".to_vec();
        name.extend_from_slice(rel.as_os_str().as_bytes());
        let mut header = tar::Header::new_gnu();
        header.set_mode(meta.mode() & 0o7777);
        let (uid, gid) = match self.opts.unshift {
            Some(m) => (
                unshifted(meta.uid(), m.host_uid, m.count),
                unshifted(meta.gid(), m.host_gid, m.count),
            ),
            None => (meta.uid(), meta.gid()),
        };
        header.set_uid(u64::from(uid));
        header.set_gid(u64::from(gid));
        let mtime = meta.mtime().max(0) as u64;
        header.set_mtime(self.opts.source_date_epoch.map_or(mtime, |e| mtime.min(e)));
        header.set_size(0);
        if ft.is_dir() {
            if !rel.as_os_str().is_empty() {
                name.push(b'/');
            }
            header.set_entry_type(tar::EntryType::Directory);
            let pax = self.pax_records(&path)?;
            self.append(&mut header, &name, None, &pax, &mut io::empty())?;
            let mut children: Vec<OsString> = fs::read_dir(&path)
                .map_err(rerr)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .map_err(rerr)?;
            children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for child in children {
                let rel = rel.join(&child);
                if !self.opts.exclude.contains(&rel) {
                    self.entry(&rel)?;
                }
            }
            return Ok(());
        }
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                let first = first.clone();
                header.set_entry_type(tar::EntryType::Link);
                // The xattrs are the inode's: they came with the first name.
                return self.append(&mut header, &name, Some(&first), &[], &mut io::empty());
            }
            self.links.insert(key, name.clone());
        }
        let pax = self.pax_records(&path)?;
        if ft.is_file() {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            // The container has ended, so nothing swaps a link in; O_NOFOLLOW all the same.
            let file = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(rerr)?;
            let mut data = FileData {
                file,
                left: meta.len(),
                cancel: self.opts.cancel,
                failed: None,
            };
            match self.append(&mut header, &name, None, &pax, &mut data) {
                Err(PackError::Write { .. }) if data.failed.is_some() => {
                    Err(match data.failed.take() {
                        Some(Failed::Cancelled) => PackError::Cancelled,
                        Some(Failed::Read(source)) => rerr(source),
                        None => PackError::Cancelled,
                    })
                }
                other => other,
            }
        } else if ft.is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            let target = fs::read_link(&path).map_err(rerr)?;
            let target = target.as_os_str().as_bytes();
            self.append(&mut header, &name, Some(target), &pax, &mut io::empty())
        } else if ft.is_char_device() || ft.is_block_device() {
            header.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            let rdev = meta.rdev();
            let werr = |e| self.werr(e);
            header.set_device_major(libc::major(rdev)).map_err(werr)?;
            header.set_device_minor(libc::minor(rdev)).map_err(werr)?;
            self.append(&mut header, &name, None, &pax, &mut io::empty())
        } else if ft.is_fifo() {
            header.set_entry_type(tar::EntryType::Fifo);
            self.append(&mut header, &name, None, &pax, &mut io::empty())
        } else {
            // Sockets cannot be archived (GNU tar skips them too).
            Ok(())
        }
    }

    /// The PAX records of the xattrs vr carries ([`vr_fs::xattr::portable`]) of `path`, ids
    /// as the container saw them, sorted by key.
    fn pax_records(&self, path: &Path) -> Result<Vec<(String, Vec<u8>)>, PackError> {
        let shift = self.opts.unshift.map(|m| vr_fs::xattr::Shift {
            uid_base: m.host_uid,
            gid_base: m.host_gid,
            count: m.count,
        });
        let xattrs = vr_fs::xattr::read(path).map_err(|source| PackError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut records: Vec<(String, Vec<u8>)> = xattrs
            .iter()
            .filter_map(|(name, value)| vr_fs::xattr::to_pax(name, value, shift))
            .collect();
        records.sort();
        Ok(records)
    }

    /// Appends `header` named `name` (with `link` as its link target): a PAX extended header
    /// with `pax` first when there are records, then long names, the header and exactly the
    /// header's size of `data`.
    fn append(
        &mut self,
        header: &mut tar::Header,
        name: &[u8],
        link: Option<&[u8]>,
        pax: &[(String, Vec<u8>)],
        data: &mut dyn Read,
    ) -> Result<(), PackError> {
        if !pax.is_empty() {
            let mtime = header.mtime().map_err(|e| self.werr(e))?;
            self.pax_header(name, mtime, pax)?;
        }
        let gnu = header
            .as_gnu_mut()
            .ok_or_else(|| self.werr(io::Error::other("not a GNU tar header")))?;
        let (name_field, link_field) = (&mut gnu.name, &mut gnu.linkname);
        let long_name = fill(name_field, name);
        let long_link = link.is_some_and(|link| fill(link_field, link));
        if long_link {
            self.long_name(tar::EntryType::GNULongLink, link.unwrap_or_default())?;
        }
        if long_name {
            self.long_name(tar::EntryType::GNULongName, name)?;
        }
        set_cksum(header);
        self.builder.append(header, data).map_err(|e| self.werr(e))
    }

    /// A PAX extended header (`x`) holding `records` for the entry `name`, named and stamped
    /// as GNU tar does (`./bin/PaxHeaders/ping`, the entry's mtime).
    fn pax_header(
        &mut self,
        name: &[u8],
        mtime: u64,
        records: &[(String, Vec<u8>)],
    ) -> Result<(), PackError> {
        let data = pax_data(records);
        let mut header = tar::Header::new_ustar();
        if let Some(ustar) = header.as_ustar_mut() {
            fill(&mut ustar.name, &pax_name(name));
        }
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_size(data.len() as u64);
        header.set_entry_type(tar::EntryType::XHeader);
        set_cksum(&mut header);
        self.builder
            .append(&header, &data[..])
            .map_err(|e| self.werr(e))
    }

    /// A GNU `././@LongLink` entry of `kind` holding `name` and a NUL.
    fn long_name(&mut self, kind: tar::EntryType, name: &[u8]) -> Result<(), PackError> {
        let mut header = tar::Header::new_gnu();
        if let Some(gnu) = header.as_gnu_mut() {
            fill(&mut gnu.name, b"././@LongLink");
        }
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(name.len() as u64 + 1);
        header.set_entry_type(kind);
        set_cksum(&mut header);
        let data = name.chain(&[0u8][..]);
        self.builder.append(&header, data).map_err(|e| self.werr(e))
    }
}

/// PAX records as `<length> <key>=<value>\n`, the length counting the whole record.
fn pax_data(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

/// The name of the PAX header of the entry `name`, as GNU tar makes it (`%d/PaxHeaders/%f`):
/// `./bin/PaxHeaders/ping` for `./bin/ping`, `./PaxHeaders/etc` for `./etc/`. (Readers do not
/// use it; a long one is cut.)
fn pax_name(name: &[u8]) -> Vec<u8> {
    let name = name.strip_suffix(b"/").unwrap_or(name);
    let (dir, file) = match name.iter().rposition(|&b| b == b'/') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (&b"."[..], name),
    };
    let mut out = [dir, b"/PaxHeaders/", file].concat();
    out.truncate(NAME_MAX_IN_HEADER);
    out
}

/// Sets the header's checksum as GNU tar writes it: six octal digits, NUL, space.
fn set_cksum(header: &mut tar::Header) {
    header.set_cksum();
    if let Ok(sum) = header.cksum() {
        header
            .as_old_mut()
            .cksum
            .copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }
}

/// Copies `value` into the header field `field` (zero-padded), cut at the field's size; true
/// when it is too long for the field and needs a GNU long-name entry.
fn fill(field: &mut [u8; 100], value: &[u8]) -> bool {
    let n = value.len().min(field.len());
    field.fill(0);
    field[..n].copy_from_slice(&value[..n]);
    value.len() > NAME_MAX_IN_HEADER
}

/// Why reading a file's bytes stopped.
enum Failed {
    Cancelled,
    Read(io::Error),
}

/// A file's bytes: exactly `left` of them, asking `cancel` before each read. A file that is
/// shorter than its size said fails (the archive would be corrupt); one that grew is cut at
/// that size (the entry's header is already written).
struct FileData<'a> {
    file: File,
    left: u64,
    cancel: &'a dyn Fn() -> bool,
    failed: Option<Failed>,
}

impl Read for FileData<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        if (self.cancel)() {
            self.failed = Some(Failed::Cancelled);
            // Not ErrorKind::Interrupted: io::copy would retry it.
            return Err(io::Error::other("packing was cancelled"));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        match self.file.read(&mut buf[..want]) {
            Ok(0) => {
                self.failed = Some(Failed::Read(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was packed",
                )));
                Err(io::Error::other("short file"))
            }
            Ok(n) => {
                self.left -= n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.failed = Some(Failed::Read(e));
                Err(io::Error::other("read failed"))
            }
        }
    }
}
