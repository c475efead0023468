//! The `--text` reader and the vocabulary a model file keeps of it never
//! panic: what it accepts is the text's own characters, windows that decode
//! back to it, and a vocabulary that reads back and `generate` draws from.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| checks::text_reader(data));
