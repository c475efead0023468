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
//!
//! Spec: `conv2d(IN,OUT,K[,stride=S][,padding=P][,bias=false])`; rows
//! `[IN, H, W]` to `[OUT, (H+2P-K)/S+1, (W+2P-K)/S+1]`. State: `weight
//! [OUT, IN, K, K]`, `bias [OUT]`; fans `(IN*K*K, OUT*K*K)`, `numpy-uniform`
//! draws `(OUT, IN, K, K)` as stored. ONNX: `Conv` (`kernel_shape`,
//! `strides`, `pads`).

pub(crate) mod kernel;

use std::fmt;

use candle_core::{Tensor, Var};

use super::def::{ElementDef, ElementOps, Emit, StateEntry, Take};
use crate::export::{Attribute, Export, Scope};
use crate::init::{numpy_uniform, Draws};
use crate::kernel::act::KernelAct;
use crate::kernel::plan::{self, Stage};
use crate::spec::{flag, image, whole, window, Args, RowShape};
use crate::{Activation, ElementKind, ElementSpec, Error, Init, Layer, Mode, Pool2d, Result};

/// The spec of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dSpec {
    /// Input channels.
    pub input: usize,
    /// Output channels.
    pub output: usize,
    /// Kernel size K (square).
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros added on each side.
    pub padding: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
}

impl fmt::Display for Conv2dSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conv2d({},{},{}", self.input, self.output, self.kernel)?;
        if self.stride != 1 {
            write!(f, ",stride={}", self.stride)?;
        }
        if self.padding != 0 {
            write!(f, ",padding={}", self.padding)?;
        }
        write!(f, "{})", if self.bias { "" } else { ",bias=false" })
    }
}

impl ElementDef for Conv2dSpec {
    /// The conv2d kernel takes the activation after it (if it applies it),
    /// then a pool.
    fn stage(&self, elements: &[ElementSpec], i: usize) -> Stage {
        let act = plan::kernel_act(elements, i + 1);
        let next = act.map_or(i + 1, |a| a + 1);
        let pool = matches!(elements.get(next), Some(ElementSpec::Pool2d(_))).then_some(next);
        Stage::Conv { conv: i, act, pool }
    }

    fn kept_values(&self, input: &[usize], output: &[usize]) -> Option<usize> {
        let (&[ch, ..], &[_, oh, ow]) = (input, output) else {
            return Some(0);
        };
        ch.checked_mul(self.kernel)?
            .checked_mul(self.kernel)?
            .checked_mul(oh)?
            .checked_mul(ow)
    }

    fn kind(&self) -> ElementKind {
        ElementKind::Conv2d
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&["stride", "padding", "bias"])?;
        a.count(
            3..=3,
            name,
            "three sizes: conv2d(IN,OUT,K[,stride=S][,padding=P][,bias=false])",
        )?;
        Ok(ElementSpec::Conv2d(Conv2dSpec {
            input: whole(a.sizes[0], "input channels", 1)?,
            output: whole(a.sizes[1], "output channels", 1)?,
            kernel: whole(a.sizes[2], "kernel size", 1)?,
            stride: a
                .option("stride")
                .map_or(Ok(1), |s| whole(s, "stride", 1))?,
            padding: a
                .option("padding")
                .map_or(Ok(0), |s| whole(s, "padding", 0))?,
            bias: flag(a.option("bias"), "bias", true)?,
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::new(vec![Some(self.input), None, None]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        let [_, h, w] = image(input, Some(self.input))?;
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        Ok(RowShape::new(vec![
            Some(self.output),
            window(h, k, s, p)?,
            window(w, k, s, p)?,
        ]))
    }

    fn state(&self) -> Vec<StateEntry> {
        let (i, o, k) = (self.input, self.output, self.kernel);
        let mut s = vec![StateEntry::parameter("weight", vec![o, i, k, k])];
        if self.bias {
            s.push(StateEntry::parameter("bias", vec![o]));
        }
        s
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        let (i, o, k) = (self.input, self.output, self.kernel);
        let shape = vec![o, i, k, k];
        if init == Init::NumpyUniform {
            numpy_uniform(draws, emit, "weight", shape);
        } else {
            init.weight(draws, emit, "weight", shape, (i * k * k, o * k * k));
        }
        if self.bias {
            init.bias(draws, emit, "bias", o, i * k * k);
        }
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let (i, o, k) = (self.input, self.output, self.kernel);
        let w = take("weight", &[o, i, k, k])?;
        let b = self.bias.then(|| take("bias", &[o])).transpose()?;
        Ok(Layer::Conv2d(Conv2d::new(w, b, self.stride, self.padding)?))
    }
}

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

    /// `act(conv(x))`: the convolution and an activation after it (in one
    /// kernel on the CPU when it is one the kernel applies).
    ///
    /// # Shapes
    /// As [`Conv2d::forward`].
    pub fn forward_then(&self, x: &Tensor, act: Option<&Activation>) -> Result<Tensor> {
        match act.map(|a| (a, KernelAct::of(a))) {
            None => self.forward_fused(x, None, None),
            Some((_, Some(k))) => self.forward_fused(x, Some(k), None),
            Some((a, None)) => a.forward(&self.forward_fused(x, None, None)?),
        }
    }

    /// `pool(act(conv(x)))` as the stack's plan paired them (`kernel/plan.rs`:
    /// an activation the kernel applies, then a pool); on the CPU one kernel
    /// does all three, elsewhere plain ops run one after the other.
    ///
    /// # Shapes
    /// As [`Conv2d::forward`], then as [`Pool2d::forward`].
    pub(crate) fn forward_fused(
        &self,
        x: &Tensor,
        act: Option<KernelAct>,
        pool: Option<&Pool2d>,
    ) -> Result<Tensor> {
        self.check_input(x)?;
        let bias = self.bias.as_ref().map(|b| b.as_tensor());
        let mut tensors = vec![x, self.weight.as_tensor()];
        tensors.extend(bias);
        if crate::kernel::use_kernel(true, &tensors) {
            let geometry = (self.stride, self.padding);
            let pool = pool.map(|p| (p.kind(), p.kernel(), p.stride()));
            let act = act.unwrap_or(KernelAct::Identity);
            return Ok(kernel::conv2d(x, &self.weight, bias, geometry, act, pool)?);
        }
        let y = self.plain(x)?;
        let y = match act {
            Some(a) => a.activation().forward(&y)?,
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

impl ElementOps for Conv2d {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Conv2d::forward(self, x)
    }

    fn forward_stage(
        &self,
        stage: Stage,
        layers: &[Layer],
        x: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        let Stage::Conv { act, pool, .. } = stage else {
            return ElementOps::forward(self, x, mode);
        };
        let act = super::activation::stage_activation(layers, act).and_then(KernelAct::of);
        let pool = match pool.map(|i| &layers[i]) {
            Some(Layer::Pool2d(p)) => Some(p),
            _ => None,
        };
        self.forward_fused(x, act, pool)
    }

    fn state(&self) -> Vec<(String, &Var)> {
        super::def::weight_and_bias(&self.weight, self.bias.as_ref())
    }

    fn spec(&self) -> ElementSpec {
        let (input, output, kernel) = self.sizes();
        ElementSpec::Conv2d(Conv2dSpec {
            input,
            output,
            kernel,
            stride: self.stride,
            padding: self.padding,
            bias: self.bias.is_some(),
        })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let w = scope.named("weight");
        e.float(w.clone(), self.weight.as_tensor().clone());
        let mut inputs = vec![scope.input.clone(), w];
        if let Some(b) = &self.bias {
            let name = scope.named("bias");
            e.float(name.clone(), b.as_tensor().clone());
            inputs.push(name);
        }
        let (k, s, p) = (
            self.sizes().2 as i64,
            self.stride as i64,
            self.padding as i64,
        );
        let attrs = vec![
            Attribute::ints("kernel_shape", &[k, k]),
            Attribute::ints("strides", &[s, s]),
            Attribute::ints("pads", &[p, p, p, p]),
        ];
        e.node("Conv", scope, inputs, vec![scope.output.clone()], attrs);
        Ok(e)
    }
}
