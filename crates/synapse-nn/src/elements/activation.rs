//! Element-wise activations, the stack elements without parameters.
//!
//! | name | forward | derivative | ONNX |
//! | --- | --- | --- | --- |
//! | `sigmoid` | `s = 1 / (1 + e^-x)` | `s (1 - s)` | `Sigmoid` |
//! | `tanh` | `t = tanh x` | `1 - t^2` | `Tanh` |
//! | `relu` | `max(x, 0)` | `1` if `x > 0` else `0` | `Relu` |
//! | `leaky_relu(a)` | `x` if `x > 0` else `a x` | `1` or `a` | `LeakyRelu` (`alpha`) |
//! | `softmax` | `e^(x_i - m) / sum_j e^(x_j - m)`, `m = max x`, over the last dim | Jacobian `s_i (d_ij - s_j)` | `Softmax` (`axis=-1`) |
//! | `identity` | `x` | `1` | `Identity` |
//! | `gelu` | `x Φ(x) = x (1 + erf(x / sqrt 2)) / 2` (PyTorch's exact `nn.GELU()`) | `Φ(x) + x φ(x)` | `Erf` form: `Div`, `Erf`, `Add`, `Mul`, `Mul` |
//! | `gelu(tanh)` | `x (1 + tanh u) / 2`, `u = sqrt(2/pi) (x + 0.044715 x^3)` (`nn.GELU(approximate="tanh")`) | `(1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 x^2) / 2` | `Mul`, `Add`, `Tanh` (every opset) |
//!
//! Shapes: any; `softmax` normalises over the last dimension. `gelu` is
//! written in candle ops (`erf`, whose derivative candle has exactly;
//! candle's own `gelu_erf` differentiates with a 6-digit constant). The
//! linear and conv2d kernels apply sigmoid, tanh, relu and identity in their
//! own pass, and the linear kernel gelu too (`kernel/act.rs`, paired by
//! `kernel/plan.rs`; f32 through the vectorised erf of `kernel/math.rs`).
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use synapse_nn::Activation;
//! let x = Tensor::new(&[-2.0f64, 0.0, 3.0], &Device::Cpu)?;
//! let y = Activation::LeakyRelu(0.1).forward(&x)?;
//! assert_eq!(y.to_vec1::<f64>()?, [-0.2, 0.0, 3.0]);
//! assert_eq!(Activation::LeakyRelu(0.1).to_string(), "leaky_relu(0.1)");
//! // torch.nn.GELU()(torch.tensor([1.0], dtype=torch.float64)) = 0.8413447460685429
//! let g = Activation::Gelu.forward(&Tensor::new(&[1.0f64], &Device::Cpu)?)?;
//! assert!((g.to_vec1::<f64>()?[0] - 0.8413447460685429).abs() < 1e-15);
//! // torch.nn.GELU(approximate="tanh") at 1.0 (gpt2/elements.json, `gelu_tanh`)
//! let t = Activation::GeluTanh.forward(&Tensor::new(&[1.0f64], &Device::Cpu)?)?;
//! assert!((t.to_vec1::<f64>()?[0] - 0.8411919906082768).abs() < 1e-15);
//! assert_eq!(Activation::GeluTanh.to_string(), "gelu(tanh)");
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::fmt;

use candle_core::{Tensor, D};

use super::def::{ElementDef, ElementOps, Take};
use crate::export::{Attribute, Export, Scope};
use crate::kernel::act::DenseAct;
use crate::spec::{number, Args, RowShape};
use crate::{ElementKind, ElementSpec, Layer, Mode, Result};

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
    /// `x Φ(x)`, the exact (erf) GELU.
    Gelu,
    /// `x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2`, `gelu(tanh)`.
    GeluTanh,
}

/// `sqrt(2 / pi)`, the scale inside the tanh GELU.
pub const GELU_TANH_SCALE: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh GELU.
pub const GELU_TANH_CUBIC: f64 = 0.044715;

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
            Activation::Gelu => {
                let phi = ((x / std::f64::consts::SQRT_2)?.erf()? + 1.0)?;
                ((x * phi)? * 0.5)?
            }
            Activation::GeluTanh => {
                let cube = (x.sqr()? * x)?;
                let u = ((x + (cube * GELU_TANH_CUBIC)?)? * GELU_TANH_SCALE)?;
                ((x * (u.tanh()? + 1.0)?)? * 0.5)?
            }
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
            Activation::Gelu => write!(f, "gelu"),
            Activation::GeluTanh => write!(f, "gelu(tanh)"),
        }
    }
}

impl ElementDef for Activation {
    fn checks_own_input(&self) -> bool {
        true
    }

    fn kernel_act(&self) -> Option<DenseAct> {
        DenseAct::of(self)
    }

    fn kind(&self) -> ElementKind {
        match self {
            Activation::Sigmoid => ElementKind::Sigmoid,
            Activation::Tanh => ElementKind::Tanh,
            Activation::Relu => ElementKind::Relu,
            Activation::LeakyRelu(_) => ElementKind::LeakyRelu,
            Activation::Softmax => ElementKind::Softmax,
            Activation::Identity => ElementKind::Identity,
            Activation::Gelu | Activation::GeluTanh => ElementKind::Gelu,
        }
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = match name {
            "leaky_relu" => {
                let slope = match args.text() {
                    None => DEFAULT_LEAKY_SLOPE,
                    Some(t) => number(t, "the slope", |_| true, "a finite number")
                        .map_err(|_| format!("`{t}` is not a finite number (the slope)"))?,
                };
                Activation::LeakyRelu(slope)
            }
            "gelu" => match args.text() {
                None => Activation::Gelu,
                Some("tanh") => Activation::GeluTanh,
                Some(t) => {
                    return Err(format!("`{t}` is not a GELU form (`gelu` or `gelu(tanh)`)"))
                }
            },
            _ => {
                args.none(name)?;
                match name {
                    "sigmoid" => Activation::Sigmoid,
                    "tanh" => Activation::Tanh,
                    "relu" => Activation::Relu,
                    "softmax" => Activation::Softmax,
                    "identity" => Activation::Identity,
                    _ => Activation::Gelu,
                }
            }
        };
        Ok(ElementSpec::Activation(a))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        None
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        Ok(input.clone())
    }

    fn build(&self, _take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::Activation(*self))
    }
}

impl ElementOps for Activation {
    fn maps_positions(&self) -> bool {
        true
    }

    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Activation::forward(self, x)
    }

    /// Decoding keeps no gradient: GELU in one vectorised pass on the
    /// kernel path (the full forward's GELU is the dense kernel's, fused),
    /// else the plain ops of `forward`.
    fn step(&self, x: &Tensor, _state: &mut crate::StepState) -> Result<Option<Tensor>> {
        let tanh = match self {
            Activation::Gelu => false,
            Activation::GeluTanh => true,
            _ => return Ok(Some(Activation::forward(self, x)?)),
        };
        if crate::kernel::use_kernel(true, &[x]) {
            return Ok(Some(crate::kernel::act::gelu_no_grad(x, tanh)?));
        }
        Ok(Some(Activation::forward(self, x)?))
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Activation(*self)
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let io = |e: &mut Export, op, attrs| {
            e.node(
                op,
                scope,
                vec![scope.input.clone()],
                vec![scope.output.clone()],
                attrs,
            )
        };
        match self {
            Activation::Sigmoid => io(&mut e, "Sigmoid", vec![]),
            Activation::Tanh => io(&mut e, "Tanh", vec![]),
            Activation::Relu => io(&mut e, "Relu", vec![]),
            Activation::Identity => io(&mut e, "Identity", vec![]),
            Activation::LeakyRelu(a) => {
                io(&mut e, "LeakyRelu", vec![Attribute::float("alpha", *a)])
            }
            Activation::Softmax => io(&mut e, "Softmax", vec![Attribute::int("axis", -1)]),
            Activation::GeluTanh => {
                // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))),
                // valid in every opset (the tract runtime the tests use has
                // no opset-20 `Gelu`, so this form is written for all).
                let v = |what: &str| scope.named(what);
                e.float(v("cubic"), scope.scalar(GELU_TANH_CUBIC)?);
                e.float(v("scale"), scope.scalar(GELU_TANH_SCALE)?);
                e.float(v("one"), scope.scalar(1.0)?);
                e.float(v("half"), scope.scalar(0.5)?);
                let x = scope.input.clone();
                let mut op = |op: &'static str, a: String, b: String, out: &str| {
                    e.node(op, scope, vec![a, b], vec![v(out)], vec![])
                };
                op("Mul", x.clone(), x.clone(), "x2");
                op("Mul", v("x2"), x.clone(), "x3");
                op("Mul", v("x3"), v("cubic"), "cx3");
                op("Add", x.clone(), v("cx3"), "inner");
                op("Mul", v("inner"), v("scale"), "u");
                e.node("Tanh", scope, vec![v("u")], vec![v("t")], vec![]);
                let mut op = |op: &'static str, a: String, b: String, out: String| {
                    e.node(op, scope, vec![a, b], vec![out], vec![])
                };
                op("Add", v("t"), v("one"), v("t1"));
                op("Mul", x, v("t1"), v("xt1"));
                op("Mul", v("xt1"), v("half"), scope.output.clone());
            }
            Activation::Gelu => {
                // 0.5 * x * (1 + erf(x / sqrt 2)), valid from opset 17.
                let v = |what: &str| scope.named(what);
                e.float(v("sqrt2"), scope.scalar(std::f64::consts::SQRT_2)?);
                e.float(v("one"), scope.scalar(1.0)?);
                e.float(v("half"), scope.scalar(0.5)?);
                let x = scope.input.clone();
                e.node(
                    "Div",
                    scope,
                    vec![x.clone(), v("sqrt2")],
                    vec![v("scaled")],
                    vec![],
                );
                e.node("Erf", scope, vec![v("scaled")], vec![v("erf")], vec![]);
                e.node(
                    "Add",
                    scope,
                    vec![v("erf"), v("one")],
                    vec![v("phi2")],
                    vec![],
                );
                e.node("Mul", scope, vec![x, v("phi2")], vec![v("xphi2")], vec![]);
                e.node(
                    "Mul",
                    scope,
                    vec![v("xphi2"), v("half")],
                    vec![scope.output.clone()],
                    vec![],
                );
            }
        }
        Ok(e)
    }
}

/// The activation at `at` among a fused stage's `layers` (see
/// `kernel/plan.rs`), or `None` when there is none.
pub(crate) fn stage_activation(layers: &[super::Layer], at: Option<usize>) -> Option<&Activation> {
    match at.map(|i| &layers[i]) {
        Some(super::Layer::Activation(a)) => Some(a),
        _ => None,
    }
}
