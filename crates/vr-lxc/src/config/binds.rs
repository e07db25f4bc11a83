//! Reading a rendered config back: the volumes it binds, for a runner to check again.

use std::path::PathBuf;

/// The writable bind mounts of a rendered config (its volumes): the host source of every
/// `lxc.mount.entry` of type `bind` without `ro`, unescaped. A runner checks them again before
/// each start: the config may be older than the folders it names.
pub fn writable_binds(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            if key.trim() != "lxc.mount.entry" {
                return None;
            }
            let f: Vec<&str> = value.split_whitespace().collect();
            let (source, options) = (f.first()?, f.get(3)?);
            let opts: Vec<&str> = options.split(',').collect();
            let bind = opts.iter().any(|o| *o == "bind" || *o == "rbind");
            (bind && !opts.contains(&"ro")).then(|| PathBuf::from(unescape_fstab(source)))
        })
        .collect()
}

/// Undoes [`fstab_path`]'s escapes (`\040` and the like, octal).
fn unescape_fstab(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
