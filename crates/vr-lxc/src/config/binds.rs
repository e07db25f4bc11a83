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
            (bind && !opts.contains(&"ro"))
                .then(|| PathBuf::from(crate::cgroup::unescape_octal(source)))
        })
        .collect()
}
