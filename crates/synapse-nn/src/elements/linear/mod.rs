//! A dense layer: `y = x W^T + b`.
//!
//! Shapes: `x` `[batch, in]`, `W` `[out, in]` (PyTorch's layout), `b` `[out]`,
//! `y` `[batch, out]`. Gradients: `dW = dy^T x`, `db = sum_batch dy`, `dx = dy W`.
//!
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops below (matmul, broadcast add), which autodiff differentiates on
//! any device, and the CPU kernel in `kernel.rs`, which also applies a
//! following sigmoid, tanh, relu or identity in the same pass and carries its
//! own backward. Reference: `synapse_reference::RefLayer::Dense`.
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use synapse_nn::Linear;
//! let dev = Device::Cpu;
//! let w = Var::from_tensor(&Tensor::new(&[[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]], &dev)?)?;
//! let b = Var::from_tensor(&Tensor::new(&[0.5f64, -0.5, 0.0], &dev)?)?;
//! let layer = Linear::new(w, Some(b))?;
//! let y = layer.forward(&Tensor::new(&[[1.0f64, 1.0]], &dev)?)?;
//! assert_eq!(y.to_vec2::<f64>()?, [[3.5, 6.5, 11.0]]);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

mod kernel;

use candle_core::{Tensor, Var};

use crate::kernel::act::then_act;
use crate::{Activation, Error, Result};

/// A dense layer built from given parameters (see [`crate::init`] for random ones).
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Var,
    bias: Option<Var>,
}

impl Linear {
    /// Builds the layer from a weight `[out, in]` and an optional bias `[out]`.
    pub fn new(weight: Var, bias: Option<Var>) -> Result<Self> {
        let (out, _) = match weight.dims() {
            &[o, i] => (o, i),
            d => return Err(Error::shape("linear weight", "[out, in]", d)),
        };
        if let Some(b) = &bias {
            if b.dims() != [out] {
                return Err(Error::shape("linear bias", format!("[{out}]"), b.dims()));
            }
            if b.dtype() != weight.dtype() {
                return Err(Error::DType {
                    context: "linear bias".into(),
                    expected: weight.dtype(),
                    got: b.dtype(),
                });
            }
        }
        Ok(Self { weight, bias })
    }

    /// The weight, `[out, in]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// The bias, `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// Number of inputs.
    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Number of outputs.
    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Checks that `x` is `[batch, in]`.
    pub fn check_input(&self, x: &Tensor) -> Result<()> {
        match x.dims() {
            &[_, i] if i == self.in_features() => Ok(()),
            d => Err(Error::shape(
                "linear input",
                format!("[batch, {}]", self.in_features()),
                d,
            )),
        }
    }

    /// `x W^T + b` for `x` of shape `[batch, in]`; `[batch, out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_then(x, None)
    }

    /// `act(x W^T + b)`: the layer and the activation after it in the stack.
    ///
    /// # Shapes
    /// `x` `[batch, in]` to `[batch, out]`.
    pub fn forward_then(&self, x: &Tensor, act: Option<&Activation>) -> Result<Tensor> {
        self.check_input(x)?;
        let bias = self.bias.as_ref().map(|b| b.as_tensor());
        let mut tensors = vec![x, self.weight.as_tensor()];
        tensors.extend(bias);
        if crate::kernel::use_kernel(true, &tensors) {
            return then_act(act, |fused| kernel::dense(x, &self.weight, bias, fused));
        }
        let y = x.matmul(&self.weight.t()?)?;
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        match act {
            Some(a) => a.forward(&y),
            None => Ok(y),
        }
    }
}
