//! Root-mean-square normalisation over the last dimension, as PyTorch's
//! `nn.RMSNorm(N)` (the Llama family's norm).
//!
//! For each row of `N` values (the last dimension):
//! ```text
//! r = 1 / sqrt(sum x^2 / N + eps)      y = x r weight
//! ```
//! No centring and no bias. `eps` defaults, as PyTorch's `eps=None`, to the
//! machine epsilon of the model's float type (`f32::EPSILON`, `f64::EPSILON`).
//! The same in training and evaluation. Shapes: `[..., N]` (any rank of at
//! least 2), `y` like `x`; state `weight [N]` (init 1, nothing drawn). Spec:
//! `rmsnorm(N[,eps=E])`. ONNX: `Mul`, `ReduceMean`, `Add`, `Sqrt`, `Div`,
//! `Mul` (opset 17; `RMSNormalization` arrives only in 23). Reference:
//! `synapse_reference` rmsnorm.
//!
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops below, which autodiff differentiates on any device, and the
//! CPU kernel of `kernel.rs` (one pass per row each way, its own backward).
//!
//! ```
//! use std::collections::HashMap;
//! use candle_core::{DType, Device, Tensor};
//! use synapse_nn::{ArchSpec, Mode, Sequential};
//! let dev = Device::Cpu;
//! let spec: ArchSpec = "rmsnorm(2,eps=1e-300)".parse()?;
//! let weight = HashMap::from([("0.weight".to_string(), Tensor::new(&[1.0f64, 2.0], &dev)?)]);
//! let net = Sequential::from_tensors(&spec, &weight, DType::F64, &dev)?;
//! // [3, 4] has mean square 12.5: y = [3, 4] / sqrt(12.5) * [1, 2].
//! let y = net.forward(&Tensor::new(&[[3.0f64, 4.0]], &dev)?, Mode::Eval)?.to_vec2::<f64>()?;
//! assert!((y[0][1] - 8.0 / 12.5f64.sqrt()).abs() < 1e-15);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod kernel;

use std::fmt;

use candle_core::{DType, Tensor, Var, D};

use super::def::{ElementDef, ElementOps, Emit, StateEntry, Take};
use crate::export::{Attribute, Export, Scope};
use crate::init::{constant, Draws};
use crate::spec::{last_dim, number, whole, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Init, Layer, Mode, Result};

/// The spec of an RMS norm: `rmsnorm(N[,eps=E])`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsNormSpec {
    /// Size N of the normalised (last) dimension.
    pub features: usize,
    /// Added to the mean square; `None`: the float type's machine epsilon.
    pub eps: Option<f64>,
}

impl fmt::Display for RmsNormSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rmsnorm({}", self.features)?;
        if let Some(eps) = self.eps {
            write!(f, ",eps={eps}")?;
        }
        write!(f, ")")
    }
}

impl ElementDef for RmsNormSpec {
    fn last_dim(&self) -> Option<usize> {
        Some(self.features)
    }

    fn kind(&self) -> ElementKind {
        ElementKind::RmsNorm
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&["eps"])?;
        a.count(1..=1, name, "one size: rmsnorm(N[,eps=E])")?;
        let eps = a.option("eps");
        Ok(ElementSpec::RmsNorm(RmsNormSpec {
            features: whole(a.sizes[0], "features", 1)?,
            eps: eps
                .map(|t| number(t, "eps", |v| v > 0.0, "a number greater than 0"))
                .transpose()?,
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::known(&[self.features]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        last_dim(input, self.features, "its size")?;
        Ok(input.clone())
    }

    fn state(&self) -> Vec<StateEntry> {
        vec![StateEntry::parameter("weight", vec![self.features])]
    }

    fn draw(&self, _init: Init, _draws: &mut Draws, emit: &mut Emit<'_>) {
        constant(emit, "weight", vec![self.features], 1.0);
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::RmsNorm(RmsNorm::new(
            take("weight", &[self.features])?,
            self.eps,
        )?))
    }
}

/// An RMS norm built from a given weight.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Var,
    eps: Option<f64>,
}

impl RmsNorm {
    /// Builds the layer from a weight `[N]`; `eps` `None` is the machine
    /// epsilon of the weight's float type.
    pub fn new(weight: Var, eps: Option<f64>) -> Result<Self> {
        if weight.dims().len() != 1 {
            return Err(Error::shape("rmsnorm weight", "[N]", weight.dims()));
        }
        Ok(Self { weight, eps })
    }

    /// Size N of the normalised dimension.
    pub fn features(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Added to the mean square: the given value, or the machine epsilon of
    /// the weight's float type.
    pub fn eps(&self) -> f64 {
        self.eps.unwrap_or(match self.weight.dtype() {
            DType::F64 => f64::EPSILON,
            DType::F16 => 9.765625e-4,
            DType::BF16 => 7.8125e-3,
            _ => f32::EPSILON as f64,
        })
    }

    /// `weight`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// Normalises each row of the last dimension.
    ///
    /// # Shapes
    /// `[..., N]`; `y` like `x`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = self.features();
        if x.dims().last() != Some(&n) {
            return Err(Error::shape(
                format!("rmsnorm({n})"),
                format!("[..., {n}]"),
                x.dims(),
            ));
        }
        let w = self.weight.as_tensor();
        if crate::kernel::use_kernel(true, &[x, w]) {
            return Ok(kernel::rms_norm(x, w, self.eps())?);
        }
        let mean_square = (x.sqr()?.sum_keepdim(D::Minus1)? / n as f64)?;
        let y = x.broadcast_div(&(mean_square + self.eps())?.sqrt()?)?;
        Ok(y.broadcast_mul(w)?)
    }
}

impl ElementOps for RmsNorm {
    fn maps_positions(&self) -> bool {
        true
    }

    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        RmsNorm::forward(self, x)
    }

    fn state(&self) -> Vec<(String, &Var)> {
        vec![("weight".to_string(), &self.weight)]
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::RmsNorm(RmsNormSpec {
            features: self.features(),
            eps: self.eps,
        })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        // x / sqrt(mean(x * x, -1) + eps) * weight.
        let mut e = Export::default();
        let v = |what: &str| scope.named(what);
        e.float(v("weight"), self.weight.as_tensor().clone());
        e.float(v("eps"), scope.scalar(self.eps())?);
        let x = scope.input.clone();
        e.node(
            "Mul",
            scope,
            vec![x.clone(), x.clone()],
            vec![v("square")],
            vec![],
        );
        let keep = Attribute::int("keepdims", 1);
        if scope.opset >= 18 {
            e.int(v("axes"), vec![1], vec![-1]);
            let inputs = vec![v("square"), v("axes")];
            e.node("ReduceMean", scope, inputs, vec![v("ms")], vec![keep]);
        } else {
            let attrs = vec![Attribute::ints("axes", &[-1]), keep];
            e.node("ReduceMean", scope, vec![v("square")], vec![v("ms")], attrs);
        }
        e.node(
            "Add",
            scope,
            vec![v("ms"), v("eps")],
            vec![v("mse")],
            vec![],
        );
        e.node("Sqrt", scope, vec![v("mse")], vec![v("rms")], vec![]);
        e.node("Div", scope, vec![x, v("rms")], vec![v("xh")], vec![]);
        let out = vec![scope.output.clone()];
        e.node("Mul", scope, vec![v("xh"), v("weight")], out, vec![]);
        Ok(e)
    }
}
