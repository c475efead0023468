//! The element kinds of a stack: one file (or folder, with its `kernel.rs`)
//! per kind, holding its definition in plain candle ops and, where it has
//! one, its CPU kernel with its hand-written backward.
//!
//! | spec | type | file | kernel |
//! | --- | --- | --- | --- |
//! | `linear` | [`Linear`] | `linear/mod.rs` | `linear/kernel.rs` (with the activation after it) |
//! | `sigmoid`, `tanh`, `relu`, `leaky_relu`, `softmax`, `identity` | [`Activation`] | `activation.rs` | `kernel/act.rs`, applied by the linear and conv2d kernels after them |
//! | `dropout` | [`Dropout`] | `dropout.rs` | none |
//! | `batchnorm`, `batchnorm2d` | [`BatchNorm`] | `batchnorm.rs` | none |
//! | `layernorm` | [`LayerNorm`] | `layernorm.rs` | none |
//! | `reshape`, `flatten` | [`Reshape`], [`flatten`] | `reshape.rs` | none |
//! | `conv2d` | [`Conv2d`] | `conv2d/mod.rs` | `conv2d/kernel.rs` (with the activation and the pool after it) |
//! | `maxpool2d`, `avgpool2d` | [`Pool2d`] | `pool/mod.rs` | `pool/kernel.rs` |
//!
//! The hand-coded reference of each is in `crates/synapse-reference`.

mod activation;
mod batchnorm;
mod conv2d;
mod dropout;
mod layernorm;
mod linear;
pub(crate) mod pool;
mod reshape;

pub use activation::{Activation, DEFAULT_LEAKY_SLOPE};
pub use batchnorm::{BatchNorm, BatchNormState};
pub use conv2d::Conv2d;
pub use dropout::Dropout;
pub use layernorm::LayerNorm;
pub use linear::Linear;
pub use pool::{Pool2d, PoolKind};
pub use reshape::{flatten, Reshape};

use candle_core::{Tensor, Var};

use crate::{ElementSpec, Mode, Result};

/// One element of a stack.
#[derive(Debug, Clone)]
pub enum Layer {
    /// A dense layer.
    Linear(Linear),
    /// An activation.
    Activation(Activation),
    /// Dropout.
    Dropout(Dropout),
    /// `batchnorm` or `batchnorm2d`.
    BatchNorm(BatchNorm),
    /// `layernorm`.
    LayerNorm(LayerNorm),
    /// `reshape(D1,...,Dk)`.
    Reshape(Reshape),
    /// `flatten`.
    Flatten,
    /// `conv2d`.
    Conv2d(Conv2d),
    /// `maxpool2d` or `avgpool2d`.
    Pool2d(Pool2d),
}

impl Layer {
    /// Applies the element in the given mode (only dropout and the batchnorms differ).
    pub fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        match self {
            Layer::Linear(l) => l.forward(x),
            Layer::Activation(a) => a.forward(x),
            Layer::Dropout(d) => d.forward(x, mode),
            Layer::BatchNorm(b) => b.forward(x, mode),
            Layer::LayerNorm(l) => l.forward(x),
            Layer::Reshape(r) => r.forward(x),
            Layer::Flatten => flatten(x),
            Layer::Conv2d(c) => c.forward(x),
            Layer::Pool2d(p) => p.forward(x),
        }
    }

    /// The learned tensors, `(suffix, var)`, in PyTorch's order.
    pub fn parameters(&self) -> Vec<(&'static str, &Var)> {
        match self {
            Layer::Linear(l) => {
                let mut p = vec![("weight", l.weight())];
                p.extend(l.bias().map(|b| ("bias", b)));
                p
            }
            Layer::Conv2d(c) => {
                let mut p = vec![("weight", c.weight())];
                p.extend(c.bias().map(|b| ("bias", b)));
                p
            }
            Layer::BatchNorm(b) => b.parameters().to_vec(),
            Layer::LayerNorm(l) => l.parameters().to_vec(),
            _ => Vec::new(),
        }
    }

    /// The buffers (not learned), `(suffix, var)`, in PyTorch's order.
    pub fn buffers(&self) -> Vec<(&'static str, &Var)> {
        match self {
            Layer::BatchNorm(b) => b.buffers().to_vec(),
            _ => Vec::new(),
        }
    }

    /// The element as written in a spec.
    pub fn spec(&self) -> ElementSpec {
        match self {
            Layer::Linear(l) => ElementSpec::Linear {
                input: l.in_features(),
                output: l.out_features(),
                bias: l.bias().is_some(),
            },
            Layer::Activation(a) => ElementSpec::Activation(*a),
            Layer::Dropout(d) => ElementSpec::Dropout(d.p()),
            Layer::BatchNorm(b) if b.spatial() => ElementSpec::BatchNorm2d {
                channels: b.features(),
                eps: b.eps(),
                momentum: b.momentum(),
            },
            Layer::BatchNorm(b) => ElementSpec::BatchNorm {
                features: b.features(),
                eps: b.eps(),
                momentum: b.momentum(),
            },
            Layer::LayerNorm(l) => ElementSpec::LayerNorm {
                features: l.features(),
                eps: l.eps(),
            },
            Layer::Reshape(r) => ElementSpec::Reshape(r.dims().to_vec()),
            Layer::Flatten => ElementSpec::Flatten,
            Layer::Conv2d(c) => {
                let (input, output, kernel) = c.sizes();
                ElementSpec::Conv2d {
                    input,
                    output,
                    kernel,
                    stride: c.stride(),
                    padding: c.padding(),
                    bias: c.bias().is_some(),
                }
            }
            Layer::Pool2d(p) => match p.kind() {
                PoolKind::Max => ElementSpec::MaxPool2d {
                    kernel: p.kernel(),
                    stride: p.stride(),
                },
                PoolKind::Avg => ElementSpec::AvgPool2d {
                    kernel: p.kernel(),
                    stride: p.stride(),
                },
            },
        }
    }
}
