//! `maxpool2d(K[,stride=S])` and `avgpool2d(K[,stride=S])`, as PyTorch's
//! `nn.MaxPool2d(K, S)` and `nn.AvgPool2d(K, S)` (no padding, floor mode).
//!
//! ```text
//! max: y[b, c, i, j] = max_{u, v < K} x[b, c, S i + u, S j + v]
//! avg: y[b, c, i, j] = sum_{u, v < K} x[b, c, S i + u, S j + v] / K^2
//! ```
//! Shapes: `x` `[batch, C, H, W]` with `H, W >= K`; `y`
//! `[batch, C, (H-K)/S+1, (W-K)/S+1]`.
//!
//! Written in plain candle ops that autodiff differentiates for any stride
//! (candle's own pools have a backward only for `S = K`): each window offset
//! `(u, v)` is a strided selection of `x` (`index_select` on rows, then on
//! columns); the average sums them; the maximum keeps, offset by offset in
//! row-major order, a later value only when it is strictly greater, so the
//! gradient goes to the first maximum of each window, as in PyTorch.
//! The CPU kernel in `kernel.rs` does the same in one pass per plane, with its
//! own backward; [`crate::kernel::use_kernel`] decides which runs.
//! Reference: `synapse_reference` pools.

pub(crate) mod kernel;

use candle_core::{Device, Tensor};

use crate::{Error, Result};

/// Which pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The maximum of each window.
    Max,
    /// The mean of each window.
    Avg,
}

/// A pooling layer: a `K x K` window moved by `stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    kind: PoolKind,
    kernel: usize,
    stride: usize,
}

impl Pool2d {
    /// The pool; kernel and stride at least 1.
    pub fn new(kind: PoolKind, kernel: usize, stride: usize) -> Result<Self> {
        if kernel == 0 || stride == 0 {
            return Err(Error::config(
                "pool",
                "kernel and stride must be at least 1",
            ));
        }
        Ok(Self {
            kind,
            kernel,
            stride,
        })
    }

    /// Max or average.
    pub fn kind(&self) -> PoolKind {
        self.kind
    }

    /// Window size K.
    pub fn kernel(&self) -> usize {
        self.kernel
    }

    /// Step between windows.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Pools each channel.
    ///
    /// # Shapes
    /// `x` `[batch, C, H, W]` with `H, W >= K`; `y` `[batch, C, (H-K)/S+1, (W-K)/S+1]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (k, s) = (self.kernel, self.stride);
        let (h, w) = match x.dims() {
            &[_, _, h, w] if h >= k && w >= k => (h, w),
            d => {
                let name = match self.kind {
                    PoolKind::Max => "maxpool2d",
                    PoolKind::Avg => "avgpool2d",
                };
                return Err(Error::shape(
                    format!("{name}({k})"),
                    format!("[batch, C, H, W] with H, W >= {k}"),
                    d,
                ));
            }
        };
        if crate::kernel::use_kernel(true, &[x]) {
            return Ok(kernel::pool2d(x, self.kind, k, s)?);
        }
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        let mut out: Option<Tensor> = None;
        for u in 0..k {
            let rows = x.index_select(&offsets(u, s, oh, x.device())?, 2)?;
            for v in 0..k {
                let patch = rows.index_select(&offsets(v, s, ow, x.device())?, 3)?;
                out = Some(match (out, self.kind) {
                    (None, _) => patch,
                    (Some(acc), PoolKind::Avg) => (acc + patch)?,
                    // Strictly greater: ties keep the earlier (PyTorch's first maximum).
                    (Some(acc), PoolKind::Max) => patch.gt(&acc)?.where_cond(&patch, &acc)?,
                });
            }
        }
        let out = out.ok_or_else(|| Error::config("pool", "the kernel must be at least 1"))?;
        match self.kind {
            PoolKind::Max => Ok(out),
            PoolKind::Avg => Ok((out / (k * k) as f64)?),
        }
    }
}

/// `[start, start + s, ..., start + (n - 1) s]` as a U32 index tensor.
fn offsets(start: usize, s: usize, n: usize, device: &Device) -> Result<Tensor> {
    let idx: Vec<u32> = (0..n).map(|i| (start + s * i) as u32).collect();
    Ok(Tensor::from_vec(idx, n, device)?)
}
