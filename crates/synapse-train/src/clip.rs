//! Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_`.
//!
//! `total = sqrt(sum_p ||g_p||^2)`; if `total > max_norm`, every gradient is
//! multiplied by `max_norm / (total + 1e-6)`.

use candle_core::backprop::GradStore;
use candle_core::Var;

use crate::metrics::scalar;
use crate::Result;

/// Scales the gradients of `params` in `grads`; returns the norm before clipping.
pub fn clip_grad_norm(
    grads: &mut GradStore,
    params: &[(String, Var)],
    max_norm: f64,
) -> Result<f64> {
    let mut total = 0.0;
    for (_, p) in params {
        if let Some(g) = grads.get(p) {
            total += scalar(&g.sqr()?.sum_all()?)?;
        }
    }
    let total = total.sqrt();
    let coef = max_norm / (total + 1e-6);
    // mutants: equivalent because at `coef == 1.0` scaling multiplies every
    // gradient by exactly 1 (the same bits); `<` only skips that pass.
    if coef < 1.0 {
        for (_, p) in params {
            if let Some(g) = grads.get(p) {
                let scaled = (g * coef)?;
                grads.insert(p, scaled);
            }
        }
    }
    Ok(total)
}
