//! The installed LXC version, and which config dialect it speaks.

use crate::sys::Sys;
use crate::{Error, Result};
use std::fmt;
use std::path::{Path, PathBuf};

/// An LXC version such as 5.0.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LxcVersion {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
    /// Patch number (0 when not printed).
    pub patch: u32,
}

impl fmt::Display for LxcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl LxcVersion {
    /// A version from its numbers.
    pub const fn new(major: u32, minor: u32, patch: u32) -> LxcVersion {
        LxcVersion {
            major,
            minor,
            patch,
        }
    }

    /// Parses what `lxc-start --version` (`5.0.2`, `4.0.12~rc1`, `3.0.3-devel`) or the old
    /// `lxc-version` (`lxc version: 0.9.0`) prints. `program` only names the source in errors.
    pub fn parse(program: &str, output: &str) -> Result<LxcVersion> {
        let bad = || Error::BadVersion {
            program: program.to_string(),
            output: output.to_string(),
        };
        let text = output.trim();
        let text = text.rsplit(':').next().unwrap_or(text).trim();
        let token = text.split_whitespace().next().ok_or_else(bad)?;
        let mut nums = token
            .split(|c: char| !c.is_ascii_digit())
            .take_while(|s| !s.is_empty())
            .map(|s| s.parse::<u32>());
        let major = nums.next().ok_or_else(bad)?.map_err(|_| bad())?;
        let minor = nums.next().ok_or_else(bad)?.map_err(|_| bad())?;
        let patch = match nums.next() {
            Some(p) => p.map_err(|_| bad())?,
            None => 0,
        };
        Ok(LxcVersion::new(major, minor, patch))
    }

    /// True from LXC 2.1 on: `lxc.rootfs.path`, `lxc.net.0.type`, `lxc.apparmor.profile`,
    /// `lxc.uts.name`, `lxc.pty.max`, `lxc.init.uid`.
    pub fn modern_keys(&self) -> bool {
        *self >= LxcVersion::new(2, 1, 0)
    }

    /// The overlay rootfs type prefix: `overlayfs` before LXC 2.0, `overlay` after.
    pub fn overlay_type(&self) -> &'static str {
        if *self >= LxcVersion::new(2, 0, 0) {
            "overlay"
        } else {
            "overlayfs"
        }
    }
}

/// Asks the installed LXC for its version: `lxc-start --version`, else the old `lxc-version`.
pub fn detect_version(sys: &dyn Sys) -> Result<LxcVersion> {
    let candidates: [(&str, &[&str]); 2] = [("lxc-start", &["--version"]), ("lxc-version", &[])];
    for (program, args) in candidates {
        if let Ok(out) = sys.output(program, args) {
            if out.success {
                let text = if out.stdout.trim().is_empty() {
                    &out.stderr
                } else {
                    &out.stdout
                };
                return LxcVersion::parse(program, text);
            }
        }
    }
    // Installed where a login shell would find it, but not on this PATH (a supervisor's or
    // cron's minimal PATH): told apart from not installed.
    for dir in LXC_DIRS {
        let path = Path::new(dir).join("lxc-execute");
        if sys.exists(&path) {
            return Err(Error::NotOnPath {
                dir: PathBuf::from(dir),
            });
        }
    }
    Err(Error::NotInstalled)
}

/// Where LXC's programs are installed by packages or from source.
const LXC_DIRS: [&str; 4] = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    #[test]
    fn parses_version_texts() {
        let cases = [
            ("5.0.2\n", LxcVersion::new(5, 0, 2)),
            ("1.0.8", LxcVersion::new(1, 0, 8)),
            ("2.0.1", LxcVersion::new(2, 0, 1)),
            ("lxc version: 0.9.0\n", LxcVersion::new(0, 9, 0)),
            ("4.0.12~rc1", LxcVersion::new(4, 0, 12)),
            ("3.0.3-devel", LxcVersion::new(3, 0, 3)),
            ("6.0", LxcVersion::new(6, 0, 0)),
        ];
        for (text, want) in cases {
            assert_eq!(
                LxcVersion::parse("lxc-start", text).unwrap(),
                want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "lxc", "five", "5"] {
            let err = LxcVersion::parse("lxc-start", text).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("cannot read the LXC version from `lxc-start` output {text:?}")
            );
        }
    }

    #[test]
    fn dialects() {
        let cases = [
            (LxcVersion::new(0, 9, 0), false, "overlayfs"),
            (LxcVersion::new(1, 0, 8), false, "overlayfs"),
            (LxcVersion::new(2, 0, 1), false, "overlay"),
            (LxcVersion::new(2, 1, 0), true, "overlay"),
            (LxcVersion::new(5, 0, 2), true, "overlay"),
        ];
        for (v, modern, ovl) in cases {
            assert_eq!(v.modern_keys(), modern, "{v}");
            assert_eq!(v.overlay_type(), ovl, "{v}");
        }
    }

    #[test]
    fn detect_falls_back_to_lxc_version() {
        let sys = FakeSys::default();
        sys.set_output("lxc-version", true, "lxc version: 0.9.0\n");
        assert_eq!(detect_version(&sys).unwrap(), LxcVersion::new(0, 9, 0));
        sys.set_output("lxc-start", true, "5.0.2\n");
        assert_eq!(detect_version(&sys).unwrap(), LxcVersion::new(5, 0, 2));
    }

    #[test]
    fn detect_without_lxc() {
        let err = detect_version(&FakeSys::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "LXC is not installed (neither `lxc-start --version` nor `lxc-version` runs; apt-get install lxc)"
        );
        let sys = FakeSys::default();
        sys.set_exists("/usr/bin/lxc-execute");
        assert_eq!(
            detect_version(&sys).unwrap_err().to_string(),
            "LXC is installed in /usr/bin but that folder is not on PATH: add it (PATH=/usr/bin:$PATH)"
        );
    }
}
