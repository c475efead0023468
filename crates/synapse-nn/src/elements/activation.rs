//! Element-wise activations, the stack elements without parameters.
//!
//! | name | forward | derivative |
//! | --- | --- | --- |
//! | `sigmoid` | `s = 1 / (1 + e^-x)` | `s (1 - s)` |
//! | `tanh` | `t = tanh x` | `1 - t^2` |
//! | `relu` | `max(x, 0)` | `1` if `x > 0` else `0` |
//! | `leaky_relu(a)` | `x` if `x > 0` else `a x` | `1` or `a` |
//! | `softmax` | `e^(x_i - m) / sum_j e^(x_j - m)`, `m = max x`, over the last dim | Jacobian `s_i (d_ij - s_j)` |
//! | `identity` | `x` | `1` |
//!
//! Shapes: any; `softmax` normalises over the last dimension (`[batch, classes]`).
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use synapse_nn::Activation;
//! let x = Tensor::new(&[-2.0f64, 0.0, 3.0], &Device::Cpu)?;
//! let y = Activation::LeakyRelu(0.1).forward(&x)?;
//! assert_eq!(y.to_vec1::<f64>()?, [-0.2, 0.0, 3.0]);
//! assert_eq!(Activation::LeakyRelu(0.1).to_string(), "leaky_relu(0.1)");
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::fmt;

use candle_core::{Tensor, D};

use crate::Result;

/// The slope of `leaky_relu` written without an argument (PyTorch's default).
pub const DEFAULT_LEAKY_SLOPE: f64 = 0.01;

/// An element-wise activation (or `softmax` over the last dimension).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `max(x, 0)`.
    Relu,
    /// `x` if `x > 0` else `slope * x`.
    LeakyRelu(f64),
    /// Softmax over the last dimension.
    Softmax,
    /// `x`, unchanged.
    Identity,
}

impl Activation {
    /// Applies the activation; the output has the input's shape.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match self {
            Activation::Sigmoid => candle_nn::ops::sigmoid(x)?,
            Activation::Tanh => x.tanh()?,
            Activation::Relu => x.relu()?,
            Activation::LeakyRelu(slope) => {
                // where_cond rather than max/min: the derivative at 0 is the
                // slope, as in PyTorch, and no zero tensor is allocated twice.
                x.gt(0.0)?.where_cond(x, &(x * *slope)?)?
            }
            Activation::Softmax => candle_nn::ops::softmax(x, D::Minus1)?,
            Activation::Identity => x.clone(),
        };
        Ok(y)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu(slope) => write!(f, "leaky_relu({slope})"),
            Activation::Softmax => write!(f, "softmax"),
            Activation::Identity => write!(f, "identity"),
        }
    }
}
