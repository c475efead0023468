//! The CSV loader never panics: every input is a dataset or an error, under
//! each way of reading targets. The first byte picks the options.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| checks::csv_loader(data));
