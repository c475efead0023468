//! Optimizers with PyTorch's update rules (SPEC section 5), behind one trait.
//!
//! An optimizer owns the named parameters of a stack (in the stable order of
//! [`crate::Sequential::parameters`]) and its per-parameter state, which it can
//! hand out and take back as an [`OptimizerState`] for checkpoints.

mod adam;
mod kernel;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use sgd::{Sgd, SgdConfig};

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::{Error, Result};

/// One optimization algorithm.
pub trait Optimizer {
    /// Applies one update from the gradients of a `backward()` call.
    /// Parameters without a gradient are left alone.
    fn step(&mut self, grads: &GradStore) -> Result<()>;

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: f64);

    /// A copy of the state: step count and the named state tensors.
    fn state(&self) -> Result<OptimizerState>;

    /// Restores a state produced by [`Optimizer::state`] of the same kind.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()>;
}

/// The state of an optimizer: what a checkpoint must keep to resume exactly.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    /// `"sgd"`, `"adam"` or `"adamw"`.
    pub kind: String,
    /// Number of steps taken.
    pub step: u64,
    /// Named state tensors, e.g. `"0.weight.momentum_buffer"`, `"0.weight.exp_avg"`.
    pub tensors: Vec<(String, Tensor)>,
}

impl OptimizerState {
    /// The tensor named `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    fn expect_kind(&self, kind: &str) -> Result<()> {
        if self.kind != kind {
            return Err(Error::config(
                "optimizer state",
                format!("is for `{}`, not `{kind}`", self.kind),
            ));
        }
        Ok(())
    }
}

/// [`Error::Setting`] unless `value` is finite and `ok`.
fn check_setting(name: &'static str, value: f64, ok: bool, expected: &'static str) -> Result<()> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(Error::Setting {
            name,
            value,
            expected,
        })
    }
}

/// A state tensor of the same shape as `param`, taken from `state` by name.
fn state_tensor(state: &OptimizerState, name: &str, param: &Var) -> Result<Tensor> {
    let t = state.get(name).ok_or_else(|| Error::Parameter {
        name: name.to_string(),
        reason: "is missing from the optimizer state".into(),
    })?;
    if t.dims() != param.dims() {
        return Err(Error::Parameter {
            name: name.to_string(),
            reason: format!("has shape {:?}, expected {:?}", t.dims(), param.dims()),
        });
    }
    Ok(t.to_device(param.device())?
        .to_dtype(param.dtype())?
        .copy()?)
}
