//! safetensors bytes that are the same for the same content.
//!
//! The `safetensors` crate takes the metadata as a `HashMap`, whose order
//! changes from one map to the next, so the same model would be written as
//! different bytes. [`encode`] writes the header again with its keys sorted:
//! a model or checkpoint saved twice is the same file, byte for byte.
//!
//! Layout (safetensors): 8 bytes little-endian header length `n`, `n` bytes of
//! JSON header padded with spaces to a multiple of 8, then the tensor data,
//! whose offsets in the header are relative to the data's start.

use std::collections::{BTreeMap, HashMap};

use candle_core::Tensor;

use crate::{Error, Result};

/// Encodes `tensors` (in their given order) with `metadata`, header keys sorted.
pub fn encode(tensors: &[(String, Tensor)], metadata: BTreeMap<String, String>) -> Result<Vec<u8>> {
    let fail = |e: String| Error::config("safetensors", format!("cannot encode: {e}"));
    let meta: HashMap<String, String> = metadata.into_iter().collect();
    let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
        .map_err(|e| fail(e.to_string()))?;
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).map_err(|e| fail(e.to_string()))?;
    let sorted: BTreeMap<&String, serde_json::Value> = header
        .iter()
        .map(|(k, v)| {
            let v = match v.as_object() {
                Some(o) => serde_json::to_value(o.iter().collect::<BTreeMap<_, _>>())
                    .expect("a JSON object"),
                None => v.clone(),
            };
            (k, v)
        })
        .collect();
    let mut json = serde_json::to_vec(&sorted).map_err(|e| fail(e.to_string()))?;
    json.resize(json.len().div_ceil(8) * 8, b' ');
    if json.len() == n {
        // The same header, keys sorted: written over the old one, so the
        // data (the whole model) is not copied again.
        let mut bytes = bytes;
        bytes[8..8 + n].copy_from_slice(&json);
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}
