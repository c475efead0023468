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
//!
//! Spec: `maxpool2d(K[,stride=S])`, `avgpool2d(K[,stride=S])` (stride K by
//! default, left out of the canonical form); no state. ONNX: `MaxPool`,
//! `AveragePool` (`kernel_shape`, `strides`, no pads).

pub(crate) mod kernel;

use std::fmt;

use candle_core::{Device, Tensor};

use super::def::{ElementDef, ElementOps, Take};
use crate::export::{Attribute, Export, Scope};
use crate::spec::{image, whole, window, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Layer, Mode, Result};

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

impl fmt::Display for Pool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}", self.kind().name(), self.kernel)?;
        if self.stride != self.kernel {
            write!(f, ",stride={}", self.stride)?;
        }
        write!(f, ")")
    }
}

impl ElementDef for Pool2d {
    fn kind(&self) -> ElementKind {
        match self.kind {
            PoolKind::Max => ElementKind::MaxPool2d,
            PoolKind::Avg => ElementKind::AvgPool2d,
        }
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&["stride"])?;
        a.count(1..=1, name, &format!("one size: {name}(K[,stride=S])"))?;
        let kernel = whole(a.sizes[0], "kernel size", 1)?;
        let stride = a
            .option("stride")
            .map_or(Ok(kernel), |s| whole(s, "stride", 1))?;
        let kind = if name == "maxpool2d" {
            PoolKind::Max
        } else {
            PoolKind::Avg
        };
        Ok(ElementSpec::Pool2d(Pool2d {
            kind,
            kernel,
            stride,
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::new(vec![None, None, None]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        let [c, h, w] = image(input, None)?;
        let (k, s) = (self.kernel, self.stride);
        Ok(RowShape::new(vec![
            c,
            window(h, k, s, 0)?,
            window(w, k, s, 0)?,
        ]))
    }

    fn build(&self, _take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::Pool2d(Pool2d::new(
            self.kind,
            self.kernel,
            self.stride,
        )?))
    }
}

impl ElementOps for Pool2d {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Pool2d::forward(self, x)
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Pool2d(*self)
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let op = match self.kind {
            PoolKind::Max => "MaxPool",
            PoolKind::Avg => "AveragePool",
        };
        let (k, s) = (self.kernel as i64, self.stride as i64);
        let attrs = vec![
            Attribute::ints("kernel_shape", &[k, k]),
            Attribute::ints("strides", &[s, s]),
        ];
        e.node(
            op,
            scope,
            vec![scope.input.clone()],
            vec![scope.output.clone()],
            attrs,
        );
        Ok(e)
    }
}

impl PoolKind {
    /// The spec name of the pool.
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::Max => "maxpool2d",
            PoolKind::Avg => "avgpool2d",
        }
    }
}
