//! SGD with momentum, Nesterov and weight decay, as `torch.optim.SGD` (dampening 0).
//!
//! For each parameter `p` with gradient `g`:
//! ```text
//! g = g + wd * p                      (if wd != 0)
//! b = g on the first step, else b = momentum * b + g     (if momentum != 0)
//! g = g + momentum * b if nesterov, else g = b           (if momentum != 0)
//! p = p - lr * g
//! ```

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::kernel::{step, Step};
use super::{check_setting, state_tensor, Optimizer, OptimizerState};
use crate::{Error, Result};

/// Hyperparameters of [`Sgd`]. PyTorch has no default learning rate; ours is 0.01.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0 turns momentum off).
    pub momentum: f64,
    /// Nesterov momentum (needs momentum > 0).
    pub nesterov: bool,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    /// Checks every setting: `lr` finite and > 0, `momentum` and
    /// `weight_decay` finite and >= 0, `nesterov` only with a momentum > 0.
    /// The error, [`Error::Setting`], names the field.
    pub fn check(&self) -> Result<()> {
        check_setting(
            "lr",
            self.lr,
            self.lr > 0.0,
            "a finite number greater than 0",
        )?;
        check_setting(
            "momentum",
            self.momentum,
            self.momentum >= 0.0,
            "a finite number at least 0",
        )?;
        check_setting(
            "weight_decay",
            self.weight_decay,
            self.weight_decay >= 0.0,
            "a finite number at least 0",
        )?;
        if self.nesterov && self.momentum == 0.0 {
            return Err(Error::Setting {
                name: "nesterov",
                value: self.momentum,
                expected: "a momentum greater than 0",
            });
        }
        Ok(())
    }
}

/// Stochastic gradient descent.
#[derive(Debug)]
pub struct Sgd {
    params: Vec<(String, Var)>,
    buffers: Vec<Option<Tensor>>,
    config: SgdConfig,
    step: u64,
}

impl Sgd {
    /// An optimizer over the named parameters; checks the hyperparameters
    /// ([`SgdConfig::check`]).
    pub fn new(params: Vec<(String, Var)>, config: SgdConfig) -> Result<Self> {
        config.check()?;
        let buffers = vec![None; params.len()];
        Ok(Self {
            params,
            buffers,
            config,
            step: 0,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let c = self.config;
        for ((_, p), buf) in self.params.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = grads.get(p) else { continue };
            if crate::kernel::use_kernel(true, &[p, g]) {
                step_in_place(&c, p, g, buf)?;
            } else {
                step_tensors(&c, p, g, buf)?;
            }
        }
        self.step += 1;
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn state(&self) -> Result<OptimizerState> {
        let mut tensors = Vec::new();
        for ((name, _), buf) in self.params.iter().zip(&self.buffers) {
            if let Some(b) = buf {
                tensors.push((format!("{name}.momentum_buffer"), b.copy()?));
            }
        }
        Ok(OptimizerState {
            kind: "sgd".into(),
            step: self.step,
            tensors,
        })
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.expect_kind("sgd")?;
        let mut buffers = Vec::with_capacity(self.params.len());
        for (name, p) in &self.params {
            let key = format!("{name}.momentum_buffer");
            buffers.push(match state.get(&key) {
                Some(_) => Some(state_tensor(state, &key, p)?),
                None => None,
            });
        }
        self.buffers = buffers;
        self.step = state.step;
        Ok(())
    }
}

/// The update on the CPU kernel: one fused pass per parameter, no
/// allocation after the first step.
fn step_in_place(c: &SgdConfig, p: &Var, g: &Tensor, buf: &mut Option<Tensor>) -> Result<()> {
    let wd = c.weight_decay;
    if c.momentum == 0.0 {
        return Ok(step(p, g, &[], Step::Sgd { lr: c.lr, wd })?);
    }
    let first = buf.is_none();
    let b = match buf {
        Some(b) => b.clone(),
        None => buf.insert(p.zeros_like()?).clone(),
    };
    let rule = Step::Momentum {
        lr: c.lr,
        momentum: c.momentum,
        wd,
        nesterov: c.nesterov,
        first,
    };
    Ok(step(p, g, &[&b], rule)?)
}

/// The update in plain tensor operations, on any device.
fn step_tensors(c: &SgdConfig, p: &Var, g: &Tensor, buf: &mut Option<Tensor>) -> Result<()> {
    let mut g = if c.weight_decay != 0.0 {
        (g + (p.as_tensor() * c.weight_decay)?)?
    } else {
        g.clone()
    };
    if c.momentum != 0.0 {
        let b = match buf.take() {
            None => g.copy()?,
            Some(b) => ((b * c.momentum)? + &g)?,
        };
        g = if c.nesterov {
            (g + (&b * c.momentum)?)?
        } else {
            b.clone()
        };
        *buf = Some(b);
    }
    p.set(&(p.as_tensor() - (g * c.lr)?)?)?;
    Ok(())
}
