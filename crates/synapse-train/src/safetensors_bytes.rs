//! safetensors files that are the same for the same content, written
//! straight from the tensors.
//!
//! Layout (safetensors): 8 bytes little-endian header length `n`, `n` bytes of
//! JSON header padded with spaces to a multiple of 8, then the tensor data,
//! whose offsets in the header are relative to the data's start. The data is
//! laid out as the `safetensors` crate lays it out (by descending dtype, then
//! by name, so every tensor stays aligned), and the header's keys are sorted
//! at every level (the crate takes the metadata as a `HashMap`, whose order
//! changes from one map to the next): a model or checkpoint saved twice is
//! the same file, byte for byte.
//!
//! [`write`] streams the data to a writer a slice at a time, so saving a
//! model needs no second copy of it in memory.

use std::collections::BTreeMap;
use std::io::Write;

use candle_core::{CpuStorage, DType, Device, Storage, Tensor};
use safetensors::View;
use serde_json::{json, Value};

use crate::{Error, Result};

/// Writes the safetensors file of `tensors` and `metadata` to `w`.
pub fn write(
    w: &mut dyn Write,
    tensors: &[(String, Tensor)],
    metadata: BTreeMap<String, String>,
) -> Result<()> {
    let fail = |e: String| Error::config("safetensors", format!("cannot encode: {e}"));
    let mut order: Vec<&(String, Tensor)> = tensors.iter().collect();
    // safetensors' order: descending dtype (so alignment holds), then name.
    order.sort_by(|(ln, lt), (rn, rt)| View::dtype(rt).cmp(&View::dtype(lt)).then(ln.cmp(rn)));
    let mut header: BTreeMap<&str, Value> = BTreeMap::new();
    let mut offset = 0usize;
    for (name, t) in &order {
        if name == "__metadata__" || header.contains_key(name.as_str()) {
            return Err(fail(format!("the name `{name}` twice or reserved")));
        }
        let n = t.data_len();
        let dtype = serde_json::to_value(View::dtype(t)).map_err(|e| fail(e.to_string()))?;
        // Keys in sorted order: data_offsets, dtype, shape.
        header.insert(
            name,
            json!({ "data_offsets": [offset, offset + n], "dtype": dtype, "shape": t.dims() }),
        );
        offset += n;
    }
    if !metadata.is_empty() {
        header.insert("__metadata__", json!(metadata));
    }
    let mut json = serde_json::to_vec(&header).map_err(|e| fail(e.to_string()))?;
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let io = |e: std::io::Error| fail(e.to_string());
    w.write_all(&(json.len() as u64).to_le_bytes())
        .map_err(io)?;
    w.write_all(&json).map_err(io)?;
    for (_, t) in order {
        write_data(w, t).map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}

/// The tensor's bytes, little-endian: f32 and f64 CPU tensors a slice at a
/// time from their own storage, anything else through candle's conversion.
fn write_data(w: &mut dyn Write, t: &Tensor) -> std::result::Result<(), String> {
    const CHUNK: usize = 1 << 15;
    fn chunked<T: Copy, const N: usize>(
        w: &mut dyn Write,
        values: &[T],
        bytes: fn(T) -> [u8; N],
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(CHUNK * N);
        for part in values.chunks(CHUNK) {
            buf.clear();
            part.iter().for_each(|&v| buf.extend_from_slice(&bytes(v)));
            w.write_all(&buf)?;
        }
        Ok(())
    }
    if t.device().is_cpu() && matches!(t.dtype(), DType::F32 | DType::F64) {
        let t = t.contiguous().map_err(|e| crate::candle_message(&e))?;
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(cpu), Some((a, b))) = (&*storage, layout.contiguous_offsets()) {
            let written = match cpu {
                CpuStorage::F32(v) => chunked(w, &v[a..b], f32::to_le_bytes),
                CpuStorage::F64(v) => chunked(w, &v[a..b], f64::to_le_bytes),
                _ => unreachable!("the dtype was checked"),
            };
            return written.map_err(|e| e.to_string());
        }
    }
    let t = t
        .to_device(&Device::Cpu)
        .map_err(|e| crate::candle_message(&e))?;
    w.write_all(&View::data(&&t)).map_err(|e| e.to_string())
}
