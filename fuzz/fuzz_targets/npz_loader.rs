//! The npz loader never panics and never allocates what the file does not hold.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use synapse_train::npz_data::read_npz_dataset;
use synapse_train::{Classes, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else { return };
    let classes = if mode & 1 == 0 { Classes::No } else { Classes::Infer };
    let options = LoadOptions { classes, ..Default::default() };
    if let Ok(d) = read_npz_dataset(bytes, Path::new("fuzz.npz"), &options) {
        assert_eq!(d.x().dims()[0], d.y().dims()[0]);
    }
});
