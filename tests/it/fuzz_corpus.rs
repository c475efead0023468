//! Replays every committed fuzz corpus file (`fuzz/corpus/TARGET/*`) through
//! its target's checks (`fuzz/checks.rs`, the code the fuzz targets run), so
//! that an input that once crashed, or found new coverage, is tried by
//! `cargo test` on every change, without cargo-fuzz or libFuzzer.

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() > 100,
        "{target}: only {} corpus files",
        files.len()
    );
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} fails its check", f.display());
    }
}

#[test]
fn spec_parser_corpus() {
    replay("spec_parser", checks::spec_parser);
}

#[test]
fn csv_loader_corpus() {
    replay("csv_loader", checks::csv_loader);
}

#[test]
fn npz_loader_corpus() {
    replay("npz_loader", checks::npz_loader);
}

#[test]
fn model_loader_corpus() {
    replay("model_loader", checks::model_loader);
}

#[test]
fn text_reader_corpus() {
    replay("text_reader", checks::text_reader);
}

#[test]
fn model_metadata_corpus() {
    replay("model_metadata", checks::model_metadata);
}

#[test]
fn array_checks_corpus() {
    replay("array_checks", checks::array_checks);
}
