//! Access to candle's CPU storage as typed slices, for the CPU kernels: the
//! float types they handle ([`Real`]: f32, f64) and one dispatch on them.

use candle_core::{CpuStorage, Device, Layout, Result, Shape, Tensor};

/// Runs `$body` with `$T` the storage's float type (f32 or f64), else an
/// error naming `$op`: one generic kernel instead of a match per op.
macro_rules! with_float {
    ($storage:expr, $op:expr, $T:ident => $body:expr) => {
        match $storage {
            candle_core::CpuStorage::F32(_) => {
                type $T = f32;
                $body
            }
            candle_core::CpuStorage::F64(_) => {
                type $T = f64;
                $body
            }
            _ => candle_core::bail!("{}: f32 or f64 only", $op),
        }
    };
}
pub(crate) use with_float;

/// The float types the fused kernels handle.
pub(crate) trait Real:
    num_traits::Float + Send + Sync + 'static + std::ops::AddAssign
{
    fn slice(s: &CpuStorage) -> Result<&[Self]>;
    /// The elements of `s`, to write (an error for another type).
    fn slice_mut(s: &mut CpuStorage) -> Result<&mut [Self]>;
    fn storage(v: Vec<Self>) -> CpuStorage;
    /// The elements of owned storage, moved out (an error for another type).
    fn into_vec(s: CpuStorage) -> Result<Vec<Self>>;
    /// A CPU tensor (outside any graph) holding `v`.
    fn cpu_tensor(v: Vec<Self>, shape: Shape) -> Result<Tensor>;
    fn from_f64(v: f64) -> Self;
    fn as_f64(self) -> f64;
    /// GELU of each `z` in place and its slope `gelu'(z)` into `slope`
    /// (f32: the vectorised approximations of `math.rs`; f64: libm's erf
    /// and exp, rounding the value as the plain ops do).
    fn gelu_slope(z: &mut [Self], slope: &mut [Self]);
    /// The same for the tanh GELU (f32: `math.rs`'s vectorised pass; f64:
    /// libm's tanh).
    fn gelu_tanh_slope(z: &mut [Self], slope: &mut [Self]);
    /// `v = exp(v - shift)` for each element, returning their sum (f32:
    /// the vectorised exp of `math.rs`, summed in lanes; f64: libm's, in
    /// order).
    fn exp_shifted(v: &mut [Self], shift: Self) -> Self;
}

impl Real for f32 {
    fn slice(s: &CpuStorage) -> Result<&[Self]> {
        s.as_slice::<f32>()
    }
    fn slice_mut(s: &mut CpuStorage) -> Result<&mut [Self]> {
        match s {
            CpuStorage::F32(v) => Ok(v),
            _ => candle_core::bail!("expected f32 storage"),
        }
    }
    fn storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(v)
    }
    fn into_vec(s: CpuStorage) -> Result<Vec<Self>> {
        match s {
            CpuStorage::F32(v) => Ok(v),
            _ => candle_core::bail!("expected f32 storage"),
        }
    }
    fn cpu_tensor(v: Vec<Self>, shape: Shape) -> Result<Tensor> {
        Tensor::from_vec(v, shape, &Device::Cpu)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    fn gelu_slope(z: &mut [Self], slope: &mut [Self]) {
        super::math::gelu_f32(z, slope)
    }
    fn gelu_tanh_slope(z: &mut [Self], slope: &mut [Self]) {
        super::math::gelu_tanh_f32(z, slope)
    }
    fn exp_shifted(v: &mut [Self], shift: Self) -> Self {
        super::math::exp_shifted_f32(v, shift)
    }
}

impl Real for f64 {
    fn slice(s: &CpuStorage) -> Result<&[Self]> {
        s.as_slice::<f64>()
    }
    fn slice_mut(s: &mut CpuStorage) -> Result<&mut [Self]> {
        match s {
            CpuStorage::F64(v) => Ok(v),
            _ => candle_core::bail!("expected f64 storage"),
        }
    }
    fn storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(v)
    }
    fn into_vec(s: CpuStorage) -> Result<Vec<Self>> {
        match s {
            CpuStorage::F64(v) => Ok(v),
            _ => candle_core::bail!("expected f64 storage"),
        }
    }
    fn cpu_tensor(v: Vec<Self>, shape: Shape) -> Result<Tensor> {
        Tensor::from_vec(v, shape, &Device::Cpu)
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn gelu_slope(z: &mut [Self], slope: &mut [Self]) {
        use std::f64::consts::{PI, SQRT_2};
        let (inv_sqrt2, inv_sqrt_2pi) = (1.0 / SQRT_2, 1.0 / (2.0 * PI).sqrt());
        for (v, s) in z.iter_mut().zip(slope.iter_mut()) {
            let x = *v;
            // libm's erf, as candle's own `erf` op.
            let e = candle_core::cpu::erf::erf_f64(x * inv_sqrt2);
            // (z (erf(z / sqrt 2) + 1)) / 2, in the plain ops' order.
            *v = x * (e + 1.0) * 0.5;
            *s = (e + 1.0) * 0.5 + x * (-(x * x) * 0.5).exp() * inv_sqrt_2pi;
        }
    }
    fn gelu_tanh_slope(z: &mut [Self], slope: &mut [Self]) {
        super::act::gelu_tanh_libm(z, slope)
    }
    fn exp_shifted(v: &mut [Self], shift: Self) -> Self {
        let mut sum = 0.0;
        for x in v.iter_mut() {
            *x = (*x - shift).exp();
            sum += *x;
        }
        sum
    }
}

/// The elements of a contiguous tensor, from its storage and layout, or an
/// error naming `what` (the kernels that take N-d tensors make their inputs
/// contiguous first, so this is an internal check).
pub(crate) fn contiguous<'a, T: Real>(
    s: &'a CpuStorage,
    l: &Layout,
    what: &str,
) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&T::slice(s)?[a..b]),
        None => candle_core::bail!("{what} must be contiguous"),
    }
}

/// The number of rows of `x` `[..., n]` for a kernel acting on each row of
/// its last dimension (the norms), or an error naming `op` when `x` does
/// not end in `n` (or `n` is 0).
pub(crate) fn rows_ending_in(x: &Layout, n: usize, op: &str) -> candle_core::Result<usize> {
    match x.dims() {
        [lead @ .., last] if *last == n && n > 0 => Ok(lead.iter().product()),
        d => candle_core::bail!("{op}: x {d:?} does not end in {n}"),
    }
}
