//! Adam and AdamW, as `torch.optim.Adam` / `torch.optim.AdamW` (amsgrad off).
//!
//! For each parameter `p` with gradient `g`, at step `t` (from 1):
//! ```text
//! Adam:  g = g + wd * p                AdamW:  p = p * (1 - lr * wd)
//! m = m + (1 - beta1) * (g - m)        (PyTorch's lerp; m starts at 0)
//! v = beta2 * v + (1 - beta2) * g * g
//! denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//! p = p - (lr / (1 - beta1^t)) * (m / denom)
//! ```

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::kernel::{step, written_zeros, Step};
use super::{check_setting, state_tensor, Optimizer, OptimizerState};
use crate::Result;

/// Hyperparameters of [`Adam`]; the defaults are PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay: L2 added to the gradient (Adam) or decoupled (AdamW).
    pub weight_decay: f64,
    /// `true` for AdamW's decoupled weight decay.
    pub decoupled: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

impl AdamConfig {
    /// PyTorch's `AdamW` defaults (weight decay 0.01).
    pub fn adamw() -> Self {
        Self {
            weight_decay: 0.01,
            decoupled: true,
            ..Self::default()
        }
    }
}

impl AdamConfig {
    /// Checks every setting: `lr` finite and > 0, `beta1` and `beta2` in
    /// `[0, 1)`, `eps` and `weight_decay` finite and >= 0. The error,
    /// [`crate::Error::Setting`], names the field.
    pub fn check(&self) -> Result<()> {
        check_setting(
            "lr",
            self.lr,
            self.lr > 0.0,
            "a finite number greater than 0",
        )?;
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            check_setting(name, beta, (0.0..1.0).contains(&beta), "a number in [0, 1)")?;
        }
        check_setting(
            "eps",
            self.eps,
            self.eps >= 0.0,
            "a finite number at least 0",
        )?;
        check_setting(
            "weight_decay",
            self.weight_decay,
            self.weight_decay >= 0.0,
            "a finite number at least 0",
        )
    }
}

/// Adam, or AdamW when `decoupled`.
#[derive(Debug)]
pub struct Adam {
    params: Vec<(String, Var)>,
    moments: Vec<(Tensor, Tensor)>,
    config: AdamConfig,
    step: u64,
}

impl Adam {
    /// An optimizer over the named parameters; checks the hyperparameters
    /// ([`AdamConfig::check`]).
    pub fn new(params: Vec<(String, Var)>, config: AdamConfig) -> Result<Self> {
        config.check()?;
        let moments = params
            .iter()
            .map(|(_, p)| Ok((written_zeros(p)?, written_zeros(p)?)))
            .collect::<Result<_>>()?;
        Ok(Self {
            params,
            moments,
            config,
            step: 0,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    fn kind(&self) -> &'static str {
        if self.config.decoupled {
            "adamw"
        } else {
            "adam"
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let c = self.config;
        self.step += 1;
        let t = self.step as i32;
        let step_size = c.lr / (1.0 - c.beta1.powi(t));
        let bc2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
        for ((_, p), (m, v)) in self.params.iter().zip(self.moments.iter_mut()) {
            let Some(g) = grads.get(p) else { continue };
            if crate::kernel::use_kernel(true, &[p, g, m]) {
                // L2 decay enters the moments through g' = g + wd p; AdamW decays p.
                let rule = Step::Adam {
                    beta1: c.beta1,
                    beta2: c.beta2,
                    l2: if c.decoupled { 0.0 } else { c.weight_decay },
                    step_size,
                    bc2_sqrt,
                    eps: c.eps,
                    decay: (c.decoupled && c.weight_decay != 0.0)
                        .then_some(1.0 - c.lr * c.weight_decay),
                };
                step(p, g, &[m, v], rule)?;
                continue;
            }
            let mut g = g.clone();
            if c.weight_decay != 0.0 {
                if c.decoupled {
                    p.set(&(p.as_tensor() * (1.0 - c.lr * c.weight_decay))?)?;
                } else {
                    g = (g + (p.as_tensor() * c.weight_decay)?)?;
                }
            }
            *m = (&*m + ((&g - &*m)? * (1.0 - c.beta1))?)?;
            *v = ((&*v * c.beta2)? + ((&g * (1.0 - c.beta2))? * &g)?)?;
            let denom = (v
                .sqrt()?
                .broadcast_div(&Tensor::new(bc2_sqrt, v.device())?.to_dtype(v.dtype())?)?
                + c.eps)?;
            let update = ((&*m / denom)? * step_size)?;
            p.set(&(p.as_tensor() - update)?)?;
        }
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
        for ((name, _), (m, v)) in self.params.iter().zip(&self.moments) {
            tensors.push((format!("{name}.exp_avg"), m.copy()?));
            tensors.push((format!("{name}.exp_avg_sq"), v.copy()?));
        }
        Ok(OptimizerState {
            kind: self.kind().into(),
            step: self.step,
            tensors,
        })
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.expect_kind(self.kind())?;
        self.moments = self
            .params
            .iter()
            .map(|(name, p)| {
                Ok((
                    state_tensor(state, &format!("{name}.exp_avg"), p)?,
                    state_tensor(state, &format!("{name}.exp_avg_sq"), p)?,
                ))
            })
            .collect::<Result<_>>()?;
        self.step = state.step;
        Ok(())
    }
}
