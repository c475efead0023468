//! Every element kind of the registry has rows in the reference crate's two
//! independent checks: PyTorch's values (`pytorch_values.rs`) and central
//! finite differences (`finite_differences.rs`). The reference crate knows
//! nothing of `ElementKind`, so each of its tests names the kinds it covers
//! on a line `// kinds: a b c` above its `#[test]`; this test reads those
//! lines and walks [`ElementKind::ALL`]: a new kind fails here until both
//! files have a test for it.

use std::collections::BTreeSet;

use synapse::nn::ElementKind;

/// The kinds named on `// kinds:` lines of a test file, each checked to sit
/// right above a `#[test]` (a marker cannot drift away from its test).
fn covered(file: &str, text: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut kinds = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(names) = line.trim().strip_prefix("// kinds:") {
            assert_eq!(
                lines.get(i + 1).map(|l| l.trim()),
                Some("#[test]"),
                "{file}:{}: a `// kinds:` line must sit right above `#[test]`",
                i + 1
            );
            for name in names.split_whitespace() {
                let known = ElementKind::ALL.iter().any(|k| k.name() == name);
                assert!(known, "{file}:{}: `{name}` is not a kind", i + 1);
                kinds.insert(name.to_string());
            }
        }
    }
    kinds
}

#[test]
fn every_kind_has_pytorch_values_and_finite_differences() {
    let root = env!("CARGO_MANIFEST_DIR");
    for file in ["pytorch_values.rs", "finite_differences.rs"] {
        let path = format!("{root}/crates/synapse-reference/tests/it/{file}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let kinds = covered(file, &text);
        let missing: Vec<&str> = ElementKind::ALL
            .iter()
            .map(|k| k.name())
            .filter(|n| !kinds.contains(*n))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} has no test marked `// kinds:` for {missing:?}"
        );
    }
}
