//! What Python's arrays go through (`dataset_from_arrays`) never panics:
//! any dtype, shape, strides and values give an error naming the culprit,
//! exactly when an array is wrong, or a dataset with the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| checks::array_checks(data));
