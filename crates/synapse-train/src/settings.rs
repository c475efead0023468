//! Run settings as plain `key=value` pairs, joined by `"; "`, compared on resume.
//!
//! A checkpoint stores the settings of the run that made it; a resumed run
//! must have the same ones, and [`first_difference`] names the one that differs.
//!
//! ```
//! use synapse_train::settings::{first_difference, join};
//! let a = join(&[("lr", "0.1".into()), ("seed", "1".into())]);
//! let b = join(&[("lr", "0.5".into()), ("seed", "1".into())]);
//! assert_eq!(a, "lr=0.1; seed=1");
//! assert_eq!(first_difference(&a, &b), Some(("lr".into(), "0.1".into(), "0.5".into())));
//! ```

/// `key=value` pairs joined by `"; "`.
pub fn join(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn split(text: &str) -> Vec<(&str, &str)> {
    text.split("; ")
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// The first setting whose value differs: `(key, value in a, value in b)`;
/// a key missing on one side shows as `(none)`.
pub fn first_difference(a: &str, b: &str) -> Option<(String, String, String)> {
    if a == b {
        return None;
    }
    let (pa, pb) = (split(a), split(b));
    let value = |pairs: &[(&str, &str)], key: &str| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("(none)".to_string(), |(_, v)| v.to_string())
    };
    let keys = pa.iter().chain(&pb).map(|(k, _)| *k);
    for key in keys {
        let (va, vb) = (value(&pa, key), value(&pb, key));
        if va != vb {
            return Some((key.to_string(), va, vb));
        }
    }
    // Same pairs, another order or spelling: report the whole text.
    Some(("settings".into(), a.to_string(), b.to_string()))
}
