//! The uptester: `vuptest`.

use super::{sh_quote, Check, Inputs, Probe};

/// How much of a candidate vuptest is read to see whether it is static.
const ELF_HEAD: u64 = 64 << 10;

/// `vuptest`: the statically linked vuptest `vrun uptest` would bind into the container (found
/// as [`crate::uptester::find`] finds it: beside vrun, on PATH, `$VR_UPTESTER`), executable.
pub fn vuptest(probe: &dyn Probe, inputs: &Inputs) -> Check {
    const NAME: &str = "vuptest";
    let list = crate::uptester::candidates(
        inputs.exe.as_deref(),
        inputs.path.as_deref(),
        inputs.uptester_env.as_deref(),
    );
    match crate::uptester::choose(&list, |p| probe.read_head(p, ELF_HEAD)) {
        Ok(path) => match probe.stat(&path, true) {
            Ok(m) if m.mode & 0o111 != 0 => Check::pass(
                NAME,
                format!(
                    "{}: statically linked, runs in any image",
                    path.display()
                ),
            ),
            _ => Check::fail(
                NAME,
                format!("{} is statically linked but not executable", path.display()),
                format!("chmod 0755 {}", sh_quote(&path)),
            ),
        },
        Err(err) => Check::fail(
            NAME,
            err.to_string(),
            "install a statically linked vuptest (the vuptest package; cargo xtask dist builds it) next to vrun or on PATH, or export VR_UPTESTER=/path/to/static/vuptest",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe::fake::{elf64, healthy};
    use super::super::Kind;
    use super::*;

    fn triple(c: Check) -> (bool, String, Option<String>) {
        (c.passed, c.detail, c.fix)
    }

    #[test]
    fn the_vuptest_uptest_would_use() {
        let (p, mut inputs) = healthy();
        assert_eq!(
            triple(vuptest(&p, &inputs)),
            (
                true,
                "/usr/local/bin/vuptest: statically linked, runs in any image".into(),
                None
            )
        );
        // A dynamic one beside vrun, a static one in VR_UPTESTER.
        p.set_bytes("/usr/local/bin/vuptest", elf64(&[6, 3, 1]));
        inputs.uptester_env = Some("/opt/vuptest".into());
        p.set_bytes("/opt/vuptest", elf64(&[1]));
        assert!(vuptest(&p, &inputs).detail.starts_with("/opt/vuptest: "));
        p.set_stat("/opt/vuptest", Kind::File, 0o644, 0, 0);
        let c = vuptest(&p, &inputs);
        assert_eq!(c.fix.as_deref(), Some("chmod 0755 /opt/vuptest"));
        inputs.uptester_env = None;
        let c = vuptest(&p, &inputs);
        assert!(!c.passed);
        assert!(
            c.detail.starts_with("no statically linked vuptest found")
                && c.detail
                    .contains("/usr/local/bin/vuptest: dynamically linked"),
            "{c:?}"
        );
        assert!(c
            .fix
            .unwrap()
            .ends_with("export VR_UPTESTER=/path/to/static/vuptest"));
    }
}
