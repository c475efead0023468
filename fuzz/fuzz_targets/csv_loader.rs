//! The CSV loader never panics: every input is a dataset or an error, under
//! each way of reading targets. The first byte picks the options.
#![no_main]

use std::path::Path;

use candle_core::DType;
use libfuzzer_sys::fuzz_target;
use synapse_train::csv_data::read_csv;
use synapse_train::{Classes, LoadOptions, Targets};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else { return };
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
    let dtype = if mode & 0x80 == 0 { DType::F32 } else { DType::F64 };
    let options = LoadOptions { targets, classes, dtype };
    if let Ok(d) = read_csv(text, Path::new("fuzz.csv"), &options) {
        assert_eq!(d.x().dims()[0], d.y().dims()[0]);
        assert_eq!(d.input_names.len(), d.inputs());
    }
});
