//! Access to candle's CPU storage as typed slices, for the fused kernels.

use candle_core::{CpuStorage, DType, Layout, Result, Tensor};

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
    fn storage(v: Vec<Self>) -> CpuStorage;
    fn from_f64(v: f64) -> Self;
    fn as_f64(self) -> f64;
}

impl Real for f32 {
    fn slice(s: &CpuStorage) -> Result<&[Self]> {
        s.as_slice::<f32>()
    }
    fn storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(v)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    fn slice(s: &CpuStorage) -> Result<&[Self]> {
        s.as_slice::<f64>()
    }
    fn storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(v)
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn as_f64(self) -> f64 {
        self
    }
}

/// A 2-D strided view: element `(r, c)` at `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T: Real> View<'a, T> {
    /// The view of a 2-D (or 1-D, as one row) tensor's storage.
    pub fn new(s: &'a CpuStorage, l: &Layout) -> Result<Self> {
        let data = &T::slice(s)?[l.start_offset()..];
        let (rows, cols, rs, cs) = match (l.dims(), l.stride()) {
            (&[r, c], &[rs, cs]) => (r, c, rs, cs),
            (&[c], &[cs]) => (1, c, 0, cs),
            (&[], _) => (1, 1, 0, 0),
            (d, _) => candle_core::bail!("fused op: expected a 1-D or 2-D tensor, got {d:?}"),
        };
        Ok(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    #[inline]
    pub fn at(&self, r: usize, c: usize) -> T {
        self.data[r * self.rs + c * self.cs]
    }

    /// The elements in row-major order as one contiguous slice, when they are.
    pub fn contiguous(&self) -> Option<&'a [T]> {
        let n = self.rows * self.cols;
        let dense = (self.cs == 1 && (self.rs == self.cols || self.rows == 1)) || n <= 1;
        dense.then(|| &self.data[..n])
    }
}

thread_local! {
    static ENABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Runs `f` with the fused CPU kernels turned on or off on this thread (they
/// are on by default). For tests and benchmarks that compare both paths.
pub fn with_fused_ops<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    let before = ENABLED.with(|e| e.replace(enabled));
    let out = f();
    ENABLED.with(|e| e.set(before));
    out
}

/// Whether the fused kernels apply: turned on, every tensor on the CPU, in f32 or f64.
pub(crate) fn is_fusable(tensors: &[&Tensor]) -> bool {
    ENABLED.with(|e| e.get())
        && tensors
            .iter()
            .all(|t| t.device().is_cpu() && matches!(t.dtype(), DType::F32 | DType::F64))
        && tensors.windows(2).all(|w| w[0].dtype() == w[1].dtype())
}
