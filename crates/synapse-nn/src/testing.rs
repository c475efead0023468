//! Helpers for this crate's unit tests (compiled for tests only).

use candle_core::{DType, Device, Tensor, Var};

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

/// A tensor of `dims` with varied values in [-1, 1], `sin(seed + 0.37 i)`,
/// as `dtype`.
pub(crate) fn values(dims: &[usize], seed: f64, dtype: DType) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n).map(|i| (seed + 0.37 * i as f64).sin()).collect();
    Tensor::from_vec(v, dims, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// A variable of [`values`].
pub(crate) fn var(dims: &[usize], seed: f64, dtype: DType) -> Var {
    Var::from_tensor(&values(dims, seed, dtype)).unwrap()
}

/// `y`, then the gradients of `sum(y * c)` (`c` fixed [`values`]) for each
/// of `wrt`, by candle's `loss.backward()` or by [`crate::backward`] (the
/// hand-over).
pub(crate) fn grads_of(y: &Tensor, wrt: &[&Tensor], synapse_backward: bool) -> Vec<Vec<f64>> {
    let c = values(y.dims(), 0.3, y.dtype());
    let loss = (y * c).unwrap().sum_all().unwrap();
    let grads = if synapse_backward {
        crate::backward(&loss).unwrap()
    } else {
        loss.backward().unwrap()
    };
    let mut out = vec![flat(y)];
    out.extend(wrt.iter().map(|t| flat(grads.get(t).expect("a gradient"))));
    out
}
