//! Helpers for this crate's unit tests (compiled for tests only).

use candle_core::{DType, Tensor};

/// Every value of `t`, row-major, as f64 (exact for f32, f16, bf16 and
/// integer values up to 2^53).
pub(crate) fn flat(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}
