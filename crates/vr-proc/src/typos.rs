//! Unknown keys that look like a typo of a known one (`mem_limt` for `mem_limit`): said, not
//! refused. Other unknown keys stay silent: Velociraptor sends keys that runners ignore.

use crate::yaml::KeySpec;

/// The edit distance (insertions, deletions, substitutions, and swaps of two neighbours)
/// between `a` and `b`.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The known key `unknown` is most likely a typo of: the closest one within 1 edit for keys of
/// up to 5 characters and 2 for longer ones, or one that differs only in case or in `-` for
/// `_`; None when nothing is that close.
pub(crate) fn suggestion(unknown: &str, keys: &[KeySpec]) -> Option<&'static str> {
    let folded = unknown.to_ascii_lowercase().replace('-', "_");
    let limit = if unknown.chars().count() <= 5 { 1 } else { 2 };
    keys.iter()
        .map(|(written, _, _)| *written)
        .filter_map(|known| {
            let d = if folded == known {
                0
            } else {
                distance(&folded, known)
            };
            (d <= limit).then_some((d, known))
        })
        .min()
        .map(|(_, known)| known)
}

/// The warnings for the unknown keys of a file: `unknown key mem_limt, did you mean
/// mem_limit?`, one per key that looks like a typo.
pub(crate) fn warnings(unknown: &[String], keys: &[KeySpec]) -> Vec<String> {
    unknown
        .iter()
        .filter_map(|key| {
            suggestion(key, keys).map(|known| format!("unknown key {key}, did you mean {known}?"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Kind;

    const KEYS: &[KeySpec] = &[
        ("mem_limit", "mem_limit", Kind::MemSize),
        ("memsw_limit", "memsw_limit", Kind::MemSize),
        ("port", "port", Kind::Port),
        ("user", "user", Kind::Text),
        ("build_url", "build_url", Kind::Text),
        ("build_md5", "build_md5", Kind::Text),
    ];

    #[test]
    fn typos_get_a_suggestion_and_other_keys_none() {
        let cases = [
            ("mem_limt", Some("mem_limit")),
            ("mem-limit", Some("mem_limit")),
            ("MEM_LIMIT", Some("mem_limit")),
            ("memlimit", Some("mem_limit")),
            ("mme_limit", Some("mem_limit")),
            ("prot", Some("port")),
            ("users", Some("user")),
            ("build_md", Some("build_md5")),
            ("build_urls", Some("build_url")),
            // Velociraptor's other keys, and anything far off: silent.
            ("app_repo_url", None),
            ("buildpack_url", None),
            ("pool", None),
            ("proc_name", None),
            ("x", None),
            ("usr_", None),
        ];
        for (key, want) in cases {
            assert_eq!(suggestion(key, KEYS), want, "{key}");
        }
        assert_eq!(
            warnings(&["mem_limt".into(), "extra".into()], KEYS),
            ["unknown key mem_limt, did you mean mem_limit?"]
        );
    }
}
