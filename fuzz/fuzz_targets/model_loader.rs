//! The model-file loader (safetensors + metadata) never panics, with or without a spec.
#![no_main]

use std::path::Path;

use candle_core::Device;
use libfuzzer_sys::fuzz_target;
use synapse_nn::ArchSpec;
use synapse_train::Model;

fuzz_target!(|data: &[u8]| {
    let spec: ArchSpec = "linear(2,2), relu, linear(2,1)".parse().expect("a valid spec");
    for arch in [None, Some(&spec)] {
        if let Ok(m) = Model::from_bytes(Path::new("fuzz.safetensors"), data, arch, &Device::Cpu) {
            let _ = m.to_bytes();
        }
    }
});
