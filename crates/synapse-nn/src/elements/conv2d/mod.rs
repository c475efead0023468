//! A 2-D convolution, as PyTorch's `nn.Conv2d(IN, OUT, K, stride=S, padding=P)`
//! (cross-correlation, square kernel, zero padding, no dilation or groups).
//!
//! ```text
//! y[b, o, i, j] = bias[o] + sum_{c, u, v} w[o, c, u, v] * xp[b, c, S i + u, S j + v]
//! ```
//! with `xp` the input padded with `P` zeros on each side. Shapes: `x`
//! `[batch, IN, H, W]`, `w` `[OUT, IN, K, K]`, `bias` `[OUT]`, `y`
//! `[batch, OUT, (H+2P-K)/S+1, (W+2P-K)/S+1]`.
//!
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops below, which autodiff differentiates on any device (candle's
//! backward is a transposed convolution for `dx` and a convolution of `x` by
//! `dy` for `dw`), and the CPU kernel in `kernel.rs` (im2col and gemm, image
//! by image over the threads, with a following sigmoid, tanh, relu or
//! identity in the same pass, and its own backward).
//!
//! The plain path's padding is applied by hand (`pad_with_zeros`) and the padded input cut
//! to the rows and columns the windows reach before candle's `conv2d` runs
//! with no padding: candle 0.11's backward derives one output padding from
//! the height and uses it for the width too, which gives a wrong shape when
//! `(H+2P-K) % S != (W+2P-K) % S`; with the input cut to size that padding
//! is 0 in both directions.
//! Reference: `synapse_reference` conv2d.

mod kernel;

use candle_core::{Tensor, Var};

use crate::kernel::act::{then_act, KernelAct};
use crate::{Activation, Error, Pool2d, Result};

/// A convolution built from given parameters.
#[derive(Debug, Clone)]
pub struct Conv2d {
    weight: Var,
    bias: Option<Var>,
    stride: usize,
    padding: usize,
}

impl Conv2d {
    /// Builds the layer from a weight `[OUT, IN, K, K]` and an optional bias `[OUT]`.
    pub fn new(weight: Var, bias: Option<Var>, stride: usize, padding: usize) -> Result<Self> {
        let out = match weight.dims() {
            &[o, _, k, k2] if k == k2 && k > 0 => o,
            d => return Err(Error::shape("conv2d weight", "[OUT, IN, K, K]", d)),
        };
        if stride == 0 {
            return Err(Error::config("conv2d", "the stride must be at least 1"));
        }
        if let Some(b) = &bias {
            if b.dims() != [out] {
                return Err(Error::shape("conv2d bias", format!("[{out}]"), b.dims()));
            }
            if b.dtype() != weight.dtype() {
                return Err(Error::DType {
                    context: "conv2d bias".into(),
                    expected: weight.dtype(),
                    got: b.dtype(),
                });
            }
        }
        Ok(Self {
            weight,
            bias,
            stride,
            padding,
        })
    }

    /// The weight, `[OUT, IN, K, K]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// The bias, `[OUT]`, if any.
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// `(IN, OUT, K)`.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let d = self.weight.dims();
        (d[1], d[0], d[2])
    }

    /// Step between windows.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Zeros on each side.
    pub fn padding(&self) -> usize {
        self.padding
    }

    /// The convolution of `x`.
    ///
    /// # Shapes
    /// `x` `[batch, IN, H, W]` with `H + 2P >= K` and `W + 2P >= K`;
    /// `y` `[batch, OUT, (H+2P-K)/S+1, (W+2P-K)/S+1]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_then(x, None)
    }

    /// `act(conv(x))`: the convolution and the activation after it in the stack.
    ///
    /// # Shapes
    /// As [`Conv2d::forward`].
    pub fn forward_then(&self, x: &Tensor, act: Option<&Activation>) -> Result<Tensor> {
        self.forward_then_pool(x, act, None)
    }

    /// `pool(act(conv(x)))`: the convolution, the activation and the pool
    /// after it in the stack (each optional but the convolution). On the CPU
    /// one kernel does all three.
    ///
    /// # Shapes
    /// As [`Conv2d::forward`], then as [`Pool2d::forward`].
    pub fn forward_then_pool(
        &self,
        x: &Tensor,
        act: Option<&Activation>,
        pool: Option<&Pool2d>,
    ) -> Result<Tensor> {
        self.check_input(x)?;
        let bias = self.bias.as_ref().map(|b| b.as_tensor());
        let mut tensors = vec![x, self.weight.as_tensor()];
        tensors.extend(bias);
        if crate::kernel::use_kernel(true, &tensors) {
            let geometry = (self.stride, self.padding);
            // The kernel pools only what follows an activation it applies itself.
            let fused = act.is_none_or(|a| KernelAct::of(a).is_some());
            let pool_in_kernel = pool
                .filter(|_| fused)
                .map(|p| (p.kind(), p.kernel(), p.stride()));
            let y = then_act(act, |a| {
                kernel::conv2d(x, &self.weight, bias, geometry, a, pool_in_kernel)
            })?;
            return match (pool, pool_in_kernel) {
                (Some(p), None) => p.forward(&y),
                _ => Ok(y),
            };
        }
        let y = self.plain(x)?;
        let y = match act {
            Some(a) => a.forward(&y)?,
            None => y,
        };
        match pool {
            Some(p) => p.forward(&y),
            None => Ok(y),
        }
    }

    /// Checks that `x` is `[batch, IN, H, W]` with windows that fit.
    fn check_input(&self, x: &Tensor) -> Result<()> {
        let (c_in, c_out, k) = self.sizes();
        let name = || format!("conv2d({c_in},{c_out},{k})");
        match x.dims() {
            &[_, c, h, w]
                if c == c_in && h + 2 * self.padding >= k && w + 2 * self.padding >= k => {}
            d => {
                return Err(Error::shape(
                    name(),
                    format!(
                        "[batch, {c_in}, H, W] with H and W at least {}",
                        k.saturating_sub(2 * self.padding)
                    ),
                    d,
                ))
            }
        }
        Ok(())
    }

    /// The plain candle ops (any device, autodiff's backward).
    fn plain(&self, x: &Tensor) -> Result<Tensor> {
        let (_, c_out, k) = self.sizes();
        let (p, s) = (self.padding, self.stride);
        let x = x.pad_with_zeros(2, p, p)?.pad_with_zeros(3, p, p)?;
        let (h, w) = (x.dim(2)?, x.dim(3)?);
        let x = x
            .narrow(2, 0, (h - k) / s * s + k)?
            .narrow(3, 0, (w - k) / s * s + k)?;
        let y = x.conv2d(&self.weight, 0, s, 1, 1)?;
        match &self.bias {
            Some(b) => Ok(y.broadcast_add(&b.reshape((1, c_out, 1, 1))?)?),
            None => Ok(y),
        }
    }
}
