//! File capabilities (`security.capability`) parsed, moved between id shifts and encoded.

/// A file capability (`struct vfs_cap_data` / `vfs_ns_cap_data`), any version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cap {
    pub(super) effective: bool,
    pub(super) permitted: [u32; 2],
    pub(super) inheritable: [u32; 2],
    pub(super) rootid: u32,
    pub(super) v3: bool,
}

const CAP_REVISION_MASK: u32 = 0xFF00_0000;
pub(super) const CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;
const CAP_V1: u32 = 0x0100_0000;
pub(super) const CAP_V2: u32 = 0x0200_0000;
pub(super) const CAP_V3: u32 = 0x0300_0000;

impl Cap {
    pub(super) fn parse(v: &[u8]) -> Result<Cap, String> {
        let word = |i: usize| -> u32 {
            let b = &v[i * 4..i * 4 + 4];
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        };
        if v.len() < 4 {
            return Err(format!("{} bytes is too short", v.len()));
        }
        let magic = word(0);
        if magic & !(CAP_REVISION_MASK | CAP_FLAGS_EFFECTIVE) != 0 {
            return Err(format!("unknown flags in {magic:#010x}"));
        }
        let effective = magic & CAP_FLAGS_EFFECTIVE != 0;
        let (want, v3) = match magic & CAP_REVISION_MASK {
            CAP_V1 => (12, false),
            CAP_V2 => (20, false),
            CAP_V3 => (24, true),
            other => return Err(format!("unknown revision {other:#010x}")),
        };
        if v.len() != want {
            return Err(format!("{} bytes for a {want}-byte revision", v.len()));
        }
        let high = |i| if want >= 20 { word(i) } else { 0 };
        Ok(Cap {
            effective,
            permitted: [word(1), high(3)],
            inheritable: [word(2), high(4)],
            rootid: if v3 { word(5) } else { 0 },
            v3,
        })
    }

    /// The same capability for the root `rootid`: version 2 for 0, else version 3.
    pub(super) fn with_rootid(self, rootid: u32) -> Cap {
        Cap {
            rootid,
            v3: rootid != 0,
            ..self
        }
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let magic = if self.v3 { CAP_V3 } else { CAP_V2 }
            | if self.effective {
                CAP_FLAGS_EFFECTIVE
            } else {
                0
            };
        let mut words = vec![
            magic,
            self.permitted[0],
            self.inheritable[0],
            self.permitted[1],
            self.inheritable[1],
        ];
        if self.v3 {
            words.push(self.rootid);
        }
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}
