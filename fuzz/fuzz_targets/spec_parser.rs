//! The spec parser never panics, and what it accepts prints to a canonical
//! form that parses back to the same spec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synapse_nn::ArchSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(spec) = text.parse::<ArchSpec>() {
        let canonical = spec.to_string();
        let again: ArchSpec = canonical.parse().expect("the canonical form parses");
        assert_eq!(again, spec, "{canonical}");
        assert_eq!(again.to_string(), canonical);
        let _ = spec.parameter_count();
        let _ = spec.parameter_shapes();
    }
});
