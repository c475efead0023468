//! Model-file metadata around a small valid stack never panics: arbitrary
//! `key=value` entries give an error or a model whose every entry fits its
//! stack, and which saves to a file that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| checks::model_metadata(data));
