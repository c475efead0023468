//! What each fuzz target asserts, shared by the fuzz targets (`fuzz_targets/`)
//! and by `cargo test` (`tests/fuzz_corpus.rs`), which replays every committed
//! corpus file through them so that a fuzz regression shows in CI.
//!
//! Each function takes one input and panics only when a property fails.

use std::path::Path;

use candle_core::{DType, Device};
use synapse_nn::ArchSpec;
use synapse_train::csv_data::read_csv;
use synapse_train::npz_data::read_npz_dataset;
use synapse_train::{Classes, LoadOptions, Model, Targets};

/// The spec parser never panics, and what it accepts prints to a canonical
/// form that parses back to the same spec.
pub fn spec_parser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = text.parse::<ArchSpec>() {
        let canonical = spec.to_string();
        let again: ArchSpec = canonical.parse().expect("the canonical form parses");
        assert_eq!(again, spec, "{canonical}");
        assert_eq!(again.to_string(), canonical);
        let _ = spec.parameter_count();
        let _ = spec.parameter_shapes();
    }
}

/// The CSV loader never panics: every input is a dataset or an error, under
/// each way of reading targets. The first byte picks the options.
pub fn csv_loader(data: &[u8]) {
    let Some((&mode, text)) = data.split_first() else {
        return;
    };
    let targets = match mode % 4 {
        0 => Targets::Last,
        1 => Targets::None,
        2 => Targets::Named(vec!["y".into(), "a".into()]),
        _ => Targets::Drop(vec!["b".into()]),
    };
    let classes = match (mode / 4) % 3 {
        0 => Classes::No,
        1 => Classes::Infer,
        _ => Classes::Known(vec!["cat".into(), "dog".into()]),
    };
    let dtype = if mode & 0x80 == 0 {
        DType::F32
    } else {
        DType::F64
    };
    let options = LoadOptions {
        targets,
        classes,
        dtype,
        ids: false,
    };
    if let Ok(d) = read_csv(text, Path::new("fuzz.csv"), &options) {
        assert_eq!(d.x().dims()[0], d.y().dims()[0]);
        assert_eq!(d.input_names.len(), d.inputs());
    }
}

/// The npz loader never panics and never allocates what the file does not hold.
pub fn npz_loader(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let classes = if mode & 1 == 0 {
        Classes::No
    } else {
        Classes::Infer
    };
    let options = LoadOptions {
        classes,
        ..Default::default()
    };
    if let Ok(d) = read_npz_dataset(bytes, Path::new("fuzz.npz"), &options) {
        assert_eq!(d.x().dims()[0], d.y().dims()[0]);
    }
}

/// The model-file loader (safetensors + metadata) never panics, with or without a spec.
pub fn model_loader(data: &[u8]) {
    let spec: ArchSpec = "linear(2,2), relu, linear(2,1)"
        .parse()
        .expect("a valid spec");
    for arch in [None, Some(&spec)] {
        if let Ok(m) = Model::from_bytes(Path::new("fuzz.safetensors"), data, arch, &Device::Cpu) {
            let _ = m.to_bytes();
        }
    }
}
