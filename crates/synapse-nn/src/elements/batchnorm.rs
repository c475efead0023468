//! Batch normalisation, as PyTorch's `nn.BatchNorm1d` (`[batch, N]`) and
//! `nn.BatchNorm2d` (`[batch, C, H, W]`, statistics per channel over batch,
//! height and width).
//!
//! Training, over the `n` values of each feature/channel:
//! ```text
//! mean = sum x / n        var = sum (x - mean)^2 / n       (biased: normalises)
//! y = (x - mean) / sqrt(var + eps) * weight + bias
//! running_mean = momentum * mean + (1 - momentum) * running_mean
//! running_var  = momentum * sum (x - mean)^2 / (n - 1) + (1 - momentum) * running_var
//! num_batches_tracked += 1
//! ```
//! Evaluation: `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`.
//! Backward: autodiff through the plain ops above (the batch statistics
//! included in training). Buffers are not parameters: optimizers never see
//! them. No kernel. Reference: `synapse_reference` batchnorm (train and eval).
//!
//! Spec: `batchnorm(N[,eps=E][,momentum=M])`, `batchnorm2d(C[,...])`
//! (defaults 1e-5 and 0.1, left out of the canonical form). Shapes: `[N]`
//! rows, or `[C, H, W]` images. State: `weight [N]`, `bias [N]`, then the
//! buffers `running_mean [N]`, `running_var [N]`, `num_batches_tracked`
//! (I64, `[]`); init: weight 1, bias 0, nothing drawn. ONNX:
//! `BatchNormalization` (inference form; `epsilon`; the count is not exported).

use std::fmt;

use candle_core::{DType, Tensor, Var};

use super::def::{ElementDef, ElementOps, Emit, StateEntry, StateKind, Take};
use crate::export::{Attribute, Export, Scope};
use crate::init::{constant, Draws};
use crate::spec::{image, last_dim, number, whole, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Init, Layer, Mode, Result};

/// The `eps` of the norm layers when not written (PyTorch's).
pub const DEFAULT_NORM_EPS: f64 = 1e-5;
/// The `momentum` of the batchnorms when not written (PyTorch's).
pub const DEFAULT_BN_MOMENTUM: f64 = 0.1;

/// The spec of a batchnorm: `batchnorm(N)` on rows, `batchnorm2d(C)` on images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormSpec {
    /// Features N (channels C for images).
    pub features: usize,
    /// Added to the variance.
    pub eps: f64,
    /// Weight of the new batch in the running statistics.
    pub momentum: f64,
    /// `batchnorm2d`: statistics per channel of `[batch, C, H, W]`.
    pub spatial: bool,
}

impl fmt::Display for BatchNormSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.spatial {
            "batchnorm2d"
        } else {
            "batchnorm"
        };
        write!(f, "{name}({}", self.features)?;
        if self.eps != DEFAULT_NORM_EPS {
            write!(f, ",eps={}", self.eps)?;
        }
        if self.momentum != DEFAULT_BN_MOMENTUM {
            write!(f, ",momentum={}", self.momentum)?;
        }
        write!(f, ")")
    }
}

/// `eps=E` (default 1e-5, greater than 0), shared by the norm layers.
pub(crate) fn eps_option(text: Option<&str>) -> std::result::Result<f64, String> {
    match text {
        None => Ok(DEFAULT_NORM_EPS),
        Some(t) => number(t, "eps", |v| v > 0.0, "a number greater than 0"),
    }
}

impl ElementDef for BatchNormSpec {
    fn batch_statistics(&self, input: &RowShape) -> Option<usize> {
        Some(match (self.spatial, input.concrete()) {
            (true, Some(d)) => d.iter().skip(1).product::<usize>(),
            _ => 1,
        })
    }

    fn kind(&self) -> ElementKind {
        if self.spatial {
            ElementKind::BatchNorm2d
        } else {
            ElementKind::BatchNorm
        }
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&["eps", "momentum"])?;
        a.count(
            1..=1,
            name,
            &format!("one size: {name}(N[,eps=E][,momentum=M])"),
        )?;
        let features = whole(a.sizes[0], "features", 1)?;
        let eps = eps_option(a.option("eps"))?;
        let momentum = match a.option("momentum") {
            None => DEFAULT_BN_MOMENTUM,
            Some(t) => number(
                t,
                "momentum",
                |v| (0.0..=1.0).contains(&v),
                "a number in [0, 1]",
            )?,
        };
        Ok(ElementSpec::BatchNorm(BatchNormSpec {
            features,
            eps,
            momentum,
            spatial: name == "batchnorm2d",
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(if self.spatial {
            RowShape::new(vec![Some(self.features), None, None])
        } else {
            RowShape::known(&[self.features])
        })
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        if self.spatial {
            image(input, Some(self.features))?;
        } else if input.dims().is_some_and(|d| d.len() != 1) {
            return Err(format!(
                "batchnorm takes flat rows [batch, {}] but gets {input}; add flatten before it",
                self.features
            ));
        } else {
            last_dim(input, self.features, "its input size")?;
        }
        Ok(input.clone())
    }

    fn state(&self) -> Vec<StateEntry> {
        let n = self.features;
        vec![
            StateEntry::parameter("weight", vec![n]),
            StateEntry::parameter("bias", vec![n]),
            StateEntry::buffer("running_mean", vec![n]),
            StateEntry::buffer("running_var", vec![n]),
            StateEntry {
                name: "num_batches_tracked".into(),
                shape: vec![],
                kind: StateKind::Count,
            },
        ]
    }

    fn draw(&self, _init: Init, _draws: &mut Draws, emit: &mut Emit<'_>) {
        constant(emit, "weight", vec![self.features], 1.0);
        constant(emit, "bias", vec![self.features], 0.0);
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let n = self.features;
        let state = BatchNormState {
            weight: take("weight", &[n])?,
            bias: take("bias", &[n])?,
            running_mean: take("running_mean", &[n])?,
            running_var: take("running_var", &[n])?,
            num_batches_tracked: take("num_batches_tracked", &[])?,
        };
        Ok(Layer::BatchNorm(BatchNorm::new(
            state,
            self.eps,
            self.momentum,
            self.spatial,
        )?))
    }
}

/// A batchnorm layer built from given tensors; `spatial` for `batchnorm2d`.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    weight: Var,
    bias: Var,
    running_mean: Var,
    running_var: Var,
    num_batches_tracked: Var,
    eps: f64,
    momentum: f64,
    spatial: bool,
}

/// The learned and running tensors of a batchnorm, as [`BatchNorm::new`] takes them.
#[derive(Debug, Clone)]
pub struct BatchNormState {
    /// `[N]`, learned.
    pub weight: Var,
    /// `[N]`, learned.
    pub bias: Var,
    /// `[N]`, in the dtype of the weight.
    pub running_mean: Var,
    /// `[N]`, in the dtype of the weight.
    pub running_var: Var,
    /// I64, shape `[]`.
    pub num_batches_tracked: Var,
}

impl BatchNorm {
    /// Builds the layer; every tensor `[N]` of one float dtype, the count an I64 scalar.
    pub fn new(state: BatchNormState, eps: f64, momentum: f64, spatial: bool) -> Result<Self> {
        let n = match state.weight.dims() {
            &[n] => n,
            d => return Err(Error::shape("batchnorm weight", "[N]", d)),
        };
        for (name, t) in [
            ("bias", &state.bias),
            ("running_mean", &state.running_mean),
            ("running_var", &state.running_var),
        ] {
            if t.dims() != [n] {
                return Err(Error::shape(
                    format!("batchnorm {name}"),
                    format!("[{n}]"),
                    t.dims(),
                ));
            }
            if t.dtype() != state.weight.dtype() {
                return Err(Error::DType {
                    context: format!("batchnorm {name}"),
                    expected: state.weight.dtype(),
                    got: t.dtype(),
                });
            }
        }
        if !state.num_batches_tracked.dims().is_empty()
            || state.num_batches_tracked.dtype() != DType::I64
        {
            return Err(Error::shape(
                "batchnorm num_batches_tracked",
                "an I64 scalar []",
                state.num_batches_tracked.dims(),
            ));
        }
        Ok(Self {
            weight: state.weight,
            bias: state.bias,
            running_mean: state.running_mean,
            running_var: state.running_var,
            num_batches_tracked: state.num_batches_tracked,
            eps,
            momentum,
            spatial,
        })
    }

    /// Features (or channels) N.
    pub fn features(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Added to the variance.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// Weight of a new batch in the running statistics.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// Whether this is `batchnorm2d` (`[batch, C, H, W]`).
    pub fn spatial(&self) -> bool {
        self.spatial
    }

    /// `(weight, bias)`, learned.
    pub fn parameters(&self) -> [(&'static str, &Var); 2] {
        [("weight", &self.weight), ("bias", &self.bias)]
    }

    /// `(running_mean, running_var, num_batches_tracked)` in PyTorch's order.
    pub fn buffers(&self) -> [(&'static str, &Var); 3] {
        [
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
            ("num_batches_tracked", &self.num_batches_tracked),
        ]
    }

    fn name(&self) -> String {
        let kind = if self.spatial {
            "batchnorm2d"
        } else {
            "batchnorm"
        };
        format!("{kind}({})", self.features())
    }

    /// Normalises `x`; in training also updates the running statistics.
    ///
    /// # Shapes
    /// `[batch, N]` (`batchnorm`) or `[batch, N, H, W]` (`batchnorm2d`); `y` like `x`.
    pub fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        let n = self.features();
        let ok = match (self.spatial, x.dims()) {
            (false, &[_, c]) | (true, &[_, c, _, _]) => c == n,
            _ => false,
        };
        if !ok {
            let expected = if self.spatial {
                format!("[batch, {n}, H, W]")
            } else {
                format!("[batch, {n}]")
            };
            return Err(Error::shape(self.name(), expected, x.dims()));
        }
        // The statistics' shape, broadcastable against x.
        let stat_shape: Vec<usize> = if self.spatial {
            vec![1, n, 1, 1]
        } else {
            vec![1, n]
        };
        let reduce: &[usize] = if self.spatial { &[0, 2, 3] } else { &[0] };
        let w = self.weight.reshape(stat_shape.as_slice())?;
        let b = self.bias.reshape(stat_shape.as_slice())?;
        if !mode.is_train() {
            let mean = self
                .running_mean
                .as_tensor()
                .detach()
                .reshape(stat_shape.as_slice())?;
            let var = self
                .running_var
                .as_tensor()
                .detach()
                .reshape(stat_shape.as_slice())?;
            let y = x
                .broadcast_sub(&mean)?
                .broadcast_div(&(var + self.eps)?.sqrt()?)?;
            return Ok(y.broadcast_mul(&w)?.broadcast_add(&b)?);
        }
        let count = x.elem_count() / n;
        if count < 2 {
            return Err(Error::Shape {
                context: format!("{} in training", self.name()),
                expected: "more than one value per channel (a batch of at least 2 rows)".into(),
                got: x.dims().to_vec(),
            });
        }
        let mean = (x.sum_keepdim(reduce)? / count as f64)?;
        let centered = x.broadcast_sub(&mean)?;
        let squares = centered.sqr()?.sum_keepdim(reduce)?;
        let var = (&squares / count as f64)?;
        let y = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        let y = y.broadcast_mul(&w)?.broadcast_add(&b)?;
        // Running statistics, outside the graph, in PyTorch's order of operations.
        let m = self.momentum;
        let mean = mean.detach().flatten_all()?;
        let unbiased = (squares.detach().flatten_all()? / (count - 1) as f64)?;
        let rm = ((mean * m)? + (self.running_mean.as_tensor() * (1.0 - m))?)?;
        let rv = ((unbiased * m)? + (self.running_var.as_tensor() * (1.0 - m))?)?;
        self.running_mean.set(&rm)?;
        self.running_var.set(&rv)?;
        let tracked = self.num_batches_tracked.to_scalar::<i64>()?;
        self.num_batches_tracked
            .set(&Tensor::new(tracked.saturating_add(1), x.device())?)?;
        Ok(y)
    }
}

impl ElementOps for BatchNorm {
    fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        BatchNorm::forward(self, x, mode)
    }

    fn state(&self) -> Vec<(String, &Var)> {
        self.parameters()
            .into_iter()
            .chain(self.buffers())
            .map(|(n, v)| (n.to_string(), v))
            .collect()
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::BatchNorm(BatchNormSpec {
            features: self.features(),
            eps: self.eps,
            momentum: self.momentum,
            spatial: self.spatial,
        })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let mut inputs = vec![scope.input.clone()];
        for (name, v) in self
            .parameters()
            .into_iter()
            .chain(self.buffers().into_iter().take(2))
        {
            let full = scope.named(name);
            e.float(full.clone(), v.as_tensor().clone());
            inputs.push(full);
        }
        let eps = vec![Attribute::float("epsilon", self.eps)];
        e.node(
            "BatchNormalization",
            scope,
            inputs,
            vec![scope.output.clone()],
            eps,
        );
        Ok(e)
    }
}
