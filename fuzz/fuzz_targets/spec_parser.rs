//! The spec parser never panics, and what it accepts prints to a canonical
//! form that parses back to the same spec.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| checks::spec_parser(data));
