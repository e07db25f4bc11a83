//! Just enough ELF reading to tell a static executable from a dynamic one.

use std::path::Path;

/// ELF program header type of the interpreter path (the dynamic loader).
pub const PT_INTERP: u32 = 3;

/// The program header types of a 64-bit little-endian ELF file.
pub fn program_header_types(elf: &[u8]) -> Result<Vec<u32>, String> {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if elf[4] != 2 || elf[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let phentsize = u16_at(0x36);
    let phnum = u16_at(0x38);
    (0..phnum)
        .map(|i| {
            let at = phoff + i * phentsize;
            elf.get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .ok_or_else(|| format!("program header {i} lies past the end of the file"))
        })
        .collect()
}

/// True when the executable at `path` has a PT_INTERP program header (it is dynamically
/// linked). Fails when the file cannot be read or is not a 64-bit little-endian ELF file.
#[track_caller]
pub fn has_interp(path: &Path) -> bool {
    let elf = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let types = program_header_types(&elf).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    types.contains(&PT_INTERP)
}
