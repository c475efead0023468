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

use candle_core::{DType, Tensor, Var};

use crate::{Error, Mode, Result};

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
