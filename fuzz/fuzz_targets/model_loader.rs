//! The model-file loader (safetensors + metadata) never panics, with or without a spec.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| checks::model_loader(data));
