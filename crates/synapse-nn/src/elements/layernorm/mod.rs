//! Layer normalisation over the last dimension, as PyTorch's `nn.LayerNorm(N)`.
//!
//! For each row of `N` values (the last dimension):
//! ```text
//! mean = sum x / N      var = sum (x - mean)^2 / N      (biased)
//! y = (x - mean) / sqrt(var + eps) * weight + bias
//! ```
//! The same in training and evaluation. Shapes: `[..., N]` (any rank of at
//! least 2), `y` like `x`; state `weight [N]`, `bias [N]` (init 1 and 0,
//! nothing drawn). Spec: `layernorm(N[,eps=E])`. ONNX: `LayerNormalization`
//! (`axis=-1`, `epsilon`). Reference: `synapse_reference` layernorm.
//!
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops below, which autodiff differentiates on any device, and the
//! CPU kernel of `kernel.rs` (one pass per row each way, its own backward).
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

mod kernel;

use std::fmt;

use candle_core::{Tensor, Var, D};

use super::batchnorm::{eps_option, DEFAULT_NORM_EPS};
use super::def::{ElementDef, ElementOps, Emit, StateEntry, Take};
use crate::export::{Attribute, Export, Scope};
use crate::init::{constant, Draws};
use crate::spec::{whole, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Init, Layer, Mode, Result};

/// The spec of a layer norm: `layernorm(N[,eps=E])`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerNormSpec {
    /// Size N of the normalised (last) dimension.
    pub features: usize,
    /// Added to the variance.
    pub eps: f64,
}

impl fmt::Display for LayerNormSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "layernorm({}", self.features)?;
        if self.eps != DEFAULT_NORM_EPS {
            write!(f, ",eps={}", self.eps)?;
        }
        write!(f, ")")
    }
}

impl ElementDef for LayerNormSpec {
    fn last_dim(&self) -> Option<usize> {
        Some(self.features)
    }

    fn kind(&self) -> ElementKind {
        ElementKind::LayerNorm
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&["eps"])?;
        a.count(1..=1, name, "one size: layernorm(N[,eps=E])")?;
        Ok(ElementSpec::LayerNorm(LayerNormSpec {
            features: whole(a.sizes[0], "features", 1)?,
            eps: eps_option(a.option("eps"))?,
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::known(&[self.features]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        let n = self.features;
        match input.dims().and_then(|d| d.last().copied()) {
            Some(Some(last)) if last != n => Err(format!(
                "it normalises {n} values but its input {input} ends in {last}"
            )),
            Some(_) => Ok(input.clone()),
            None => Err(format!("it normalises {n} values but gets {input}")),
        }
    }

    fn state(&self) -> Vec<StateEntry> {
        vec![
            StateEntry::parameter("weight", vec![self.features]),
            StateEntry::parameter("bias", vec![self.features]),
        ]
    }

    fn draw(&self, _init: Init, _draws: &mut Draws, emit: &mut Emit<'_>) {
        constant(emit, "weight", vec![self.features], 1.0);
        constant(emit, "bias", vec![self.features], 0.0);
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let n = self.features;
        Ok(Layer::LayerNorm(LayerNorm::new(
            take("weight", &[n])?,
            take("bias", &[n])?,
            self.eps,
        )?))
    }
}

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
        let (w, b) = (self.weight.as_tensor(), self.bias.as_tensor());
        if crate::kernel::use_kernel(true, &[x, w, b]) {
            return Ok(kernel::layer_norm(x, w, b, self.eps)?);
        }
        let mean = (x.sum_keepdim(D::Minus1)? / n as f64)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = (centered.sqr()?.sum_keepdim(D::Minus1)? / n as f64)?;
        let y = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        Ok(y.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)?)
    }
}

impl ElementOps for LayerNorm {
    fn maps_positions(&self) -> bool {
        true
    }

    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        LayerNorm::forward(self, x)
    }

    fn state(&self) -> Vec<(String, &Var)> {
        self.parameters()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect()
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::LayerNorm(LayerNormSpec {
            features: self.features(),
            eps: self.eps,
        })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let (w, b) = (scope.named("weight"), scope.named("bias"));
        e.float(w.clone(), self.weight.as_tensor().clone());
        e.float(b.clone(), self.bias.as_tensor().clone());
        let attrs = vec![
            Attribute::int("axis", -1),
            Attribute::float("epsilon", self.eps),
        ];
        let inputs = vec![scope.input.clone(), w, b];
        e.node(
            "LayerNormalization",
            scope,
            inputs,
            vec![scope.output.clone()],
            attrs,
        );
        Ok(e)
    }
}
