//! Layer normalisation over the last dimension, as PyTorch's `nn.LayerNorm(N)`.
//!
//! For each row of `N` values (the last dimension):
//! ```text
//! mean = sum x / N      var = sum (x - mean)^2 / N      (biased)
//! y = (x - mean) / sqrt(var + eps) * weight + bias
//! ```
//! The same in training and evaluation. Backward: autodiff through these
//! plain ops. Shapes: `[..., N]`, `y` like `x`; weight and bias `[N]`.
//! No kernel. Reference: `synapse_reference` layernorm.
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use synapse_nn::LayerNorm;
//! let dev = Device::Cpu;
//! let ln = LayerNorm::new(
//!     Var::from_tensor(&Tensor::new(&[1.0f64, 1.0], &dev)?)?,
//!     Var::from_tensor(&Tensor::new(&[0.0f64, 0.5], &dev)?)?,
//!     0.0,
//! )?;
//! // (x - mean) / std for [1, 3]: [-1, 1], plus the bias.
//! assert_eq!(ln.forward(&Tensor::new(&[[1.0f64, 3.0]], &dev)?)?.to_vec2::<f64>()?, [[-1.0, 1.5]]);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use candle_core::{Tensor, Var, D};

use crate::{Error, Result};

/// A layer norm built from given tensors.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Var,
    bias: Var,
    eps: f64,
}

impl LayerNorm {
    /// Builds the layer from a weight and a bias `[N]` of one dtype.
    pub fn new(weight: Var, bias: Var, eps: f64) -> Result<Self> {
        let n = match weight.dims() {
            &[n] => n,
            d => return Err(Error::shape("layernorm weight", "[N]", d)),
        };
        if bias.dims() != [n] {
            return Err(Error::shape(
                "layernorm bias",
                format!("[{n}]"),
                bias.dims(),
            ));
        }
        if bias.dtype() != weight.dtype() {
            return Err(Error::DType {
                context: "layernorm bias".into(),
                expected: weight.dtype(),
                got: bias.dtype(),
            });
        }
        Ok(Self { weight, bias, eps })
    }

    /// Size N of the normalised dimension.
    pub fn features(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Added to the variance.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// `(weight, bias)`.
    pub fn parameters(&self) -> [(&'static str, &Var); 2] {
        [("weight", &self.weight), ("bias", &self.bias)]
    }

    /// Normalises each row of the last dimension.
    ///
    /// # Shapes
    /// `[..., N]`; `y` like `x`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = self.features();
        if x.dims().last() != Some(&n) {
            return Err(Error::shape(
                format!("layernorm({n})"),
                format!("[..., {n}]"),
                x.dims(),
            ));
        }
        let mean = (x.sum_keepdim(D::Minus1)? / n as f64)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = (centered.sqr()?.sum_keepdim(D::Minus1)? / n as f64)?;
        let y = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        Ok(y.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)?)
    }
}
