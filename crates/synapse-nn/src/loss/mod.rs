//! Losses (SPEC sections 4 and 10). `out` is the stack's output `[N, K]`, or
//! `[batch, T, K]` for a sequence (every position a row).
//!
//! | loss | value | PyTorch |
//! | --- | --- | --- |
//! | `sse` | `0.5 * sum (out - y)^2` | `0.5 * MSELoss(reduction="sum")` |
//! | `mse` | `mean (out - y)^2` | `MSELoss()` |
//! | `bce` | `-mean [y max(ln p, -100) + (1 - y) max(ln(1 - p), -100)]`, `p = out` | `BCELoss()` |
//! | `bce-logits` | `mean [max(x, 0) - x y + ln(1 + e^-|x|)]`, `x = out` | `BCEWithLogitsLoss()` |
//! | `cross-entropy` | `-mean_n log_softmax(out)_{n, y_n}`, `y` `[N]` or `[N, 1]` class indices (`[batch, T]` for `[batch, T, C]`) | `CrossEntropyLoss()` |
//!
//! A cross-entropy target of -100 ([`IGNORE_INDEX`], PyTorch's default
//! `ignore_index`) marks a row or position that does not count: the mean is
//! over the others, and a batch with none has loss 0 and no gradient. The
//! other losses take targets of the output's shape, any rank.
//!
//! `sse`'s gradient is `out - y`, so SGD with lr 1 on it is the article's rule.
//! `bce` clamps the probability into `[e^-100, 1]` before the log (the same
//! value as PyTorch's clamped log); where `p` is exactly 0 or 1 its gradient is
//! 0 rather than PyTorch's `1/eps`, so prefer `bce-logits`.
//!
//! Every loss is defined below in plain candle ops; all but `bce` also have a
//! CPU kernel (`kernel.rs`), chosen by [`crate::kernel::use_kernel`]. Class
//! indices are checked once, by [`class_index`], before either path runs.

use std::fmt;
use std::str::FromStr;

use candle_core::{Tensor, D};

mod class;
mod kernel;

pub use class::{check_class_weights, class_index, class_indices, IGNORE_INDEX};

use crate::{Error, Result};

/// A training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Half the sum of squared errors (the article's).
    Sse,
    /// Mean squared error.
    Mse,
    /// Binary cross-entropy on probabilities.
    Bce,
    /// Binary cross-entropy on logits, numerically stable.
    BceLogits,
    /// Softmax cross-entropy on logits against class indices.
    CrossEntropy,
}

impl Loss {
    /// All losses, in the order of SPEC section 4.
    pub const ALL: [Loss; 5] = [
        Loss::Sse,
        Loss::Mse,
        Loss::Bce,
        Loss::BceLogits,
        Loss::CrossEntropy,
    ];

    /// Whether the targets are class indices (one column) rather than values.
    pub fn is_classification(&self) -> bool {
        matches!(self, Loss::CrossEntropy)
    }

    /// The loss of `out` against `target`, a scalar tensor.
    pub fn forward(&self, out: &Tensor, target: &Tensor) -> Result<Tensor> {
        self.forward_weighted(out, target, None)
    }

    /// The loss with class weights `w` (cross-entropy only), PyTorch's
    /// `CrossEntropyLoss(weight=w)`: `-sum_n w[y_n] log_softmax(out)_{n,y_n} / sum_n w[y_n]`,
    /// the weighted mean over the rows that count. Weights must be finite,
    /// at least 0, one per output column. Weighted losses take the plain
    /// tensor path.
    pub fn forward_weighted(
        &self,
        out: &Tensor,
        target: &Tensor,
        class_weights: Option<&[f64]>,
    ) -> Result<Tensor> {
        let (out, target) = self.rows(out, target)?;
        let (n, k) = out.dims2()?;
        let target = target.to_dtype(out.dtype())?;
        let classes = match self {
            Loss::CrossEntropy => Some(class::class_targets(&target, k)?),
            _ => None,
        };
        if let Some(w) = class_weights {
            if *self != Loss::CrossEntropy {
                return Err(Error::config(
                    "class weights",
                    format!("apply to cross-entropy only, not {self}"),
                ));
            }
            check_class_weights(w, k)?;
        }
        if let Some(c) = &classes {
            if c.iter().all(Option::is_none) {
                // Nothing counts: loss 0, no gradient (PyTorch gives NaN).
                return Ok(Tensor::zeros((), out.dtype(), out.device())?);
            }
        }
        let has_kernel = kernel::supports(*self) && class_weights.is_none();
        if crate::kernel::use_kernel(has_kernel, &[&out, &target]) {
            return kernel::loss(*self, &out, &target).map_err(Error::from);
        }
        let loss = match self {
            Loss::Sse => ((&out - &target)?.sqr()?.sum_all()? * 0.5)?,
            Loss::Mse => (&out - &target)?.sqr()?.mean_all()?,
            Loss::Bce => {
                let floor = (-100f64).exp();
                let log_p = out.clamp(floor, 1.0)?.log()?;
                let log_q = out.affine(-1.0, 1.0)?.clamp(floor, 1.0)?.log()?;
                let pos = (&target * &log_p)?;
                let neg = (target.affine(-1.0, 1.0)? * &log_q)?;
                (pos + neg)?.mean_all()?.neg()?
            }
            Loss::BceLogits => {
                // max(x,0) - x y + ln(1 + e^-|x|): every exp argument is <= 0.
                let soft = (out.abs()?.neg()?.exp()? + 1.0)?.log()?;
                ((out.relu()? - (&out * &target)?)? + soft)?.mean_all()?
            }
            Loss::CrossEntropy => {
                let classes = classes.unwrap_or_default();
                let index: Vec<u32> = classes.iter().map(|c| c.unwrap_or(0) as u32).collect();
                let index = Tensor::from_vec(index, (n, 1), out.device())?;
                let log_p = candle_nn::ops::log_softmax(&out, D::Minus1)?;
                let picked = log_p.gather(&index, 1)?;
                let all_count = classes.iter().all(Option::is_some);
                match class_weights {
                    // mutants: equivalent because the arm below gives every
                    // row weight 1 and divides by n here, the same mean (up
                    // to the last bit); this arm only skips the weights.
                    None if all_count => picked.mean_all()?.neg()?,
                    _ => {
                        // Each row's weight: its class's (1 without weights), 0 when ignored.
                        let per_row: Vec<f64> = classes
                            .iter()
                            .map(|c| c.map_or(0.0, |c| class_weights.map_or(1.0, |w| w[c])))
                            .collect();
                        let total: f64 = per_row.iter().sum();
                        let per_row = Tensor::from_vec(per_row, (n, 1), out.device())?
                            .to_dtype(out.dtype())?;
                        ((picked * per_row)?.sum_all()? / total)?.neg()?
                    }
                }
            }
        };
        Ok(loss)
    }

    /// `out` and `target` as rows: cross-entropy's `[..., C]` logits to
    /// `[rows, C]` with one class per row; the others' `[..., K]` to `[rows, K]`.
    fn rows(&self, out: &Tensor, target: &Tensor) -> Result<(Tensor, Tensor)> {
        let dims = out.dims();
        if dims.len() < 2 {
            return Err(Error::shape(
                format!("{self} output"),
                "[N, K] or [batch, T, K]",
                dims,
            ));
        }
        let k = dims[dims.len() - 1];
        let rows: usize = dims[..dims.len() - 1].iter().product();
        let lead = &dims[..dims.len() - 1];
        if self.is_classification() {
            let t = target.dims();
            let fits = t == lead || (dims.len() == 2 && t == [rows, 1]);
            if !fits {
                return Err(Error::shape(
                    "cross-entropy target",
                    format!("{lead:?} class indices (one per row or position)"),
                    t,
                ));
            }
            if dims.len() == 2 {
                return Ok((out.clone(), target.clone()));
            }
            return Ok((out.reshape((rows, k))?, target.reshape(rows)?));
        }
        if target.dims() != dims {
            return Err(Error::shape(
                format!("{self} target"),
                format!("{dims:?}"),
                target.dims(),
            ));
        }
        if dims.len() == 2 {
            return Ok((out.clone(), target.clone()));
        }
        Ok((out.reshape((rows, k))?, target.reshape((rows, k))?))
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::Sse => "sse",
            Loss::Mse => "mse",
            Loss::Bce => "bce",
            Loss::BceLogits => "bce-logits",
            Loss::CrossEntropy => "cross-entropy",
        })
    }
}

impl FromStr for Loss {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Loss::ALL
            .into_iter()
            .find(|l| l.to_string() == s)
            .ok_or_else(|| {
                Error::config(
                    "loss",
                    format!("`{s}`: expected sse, mse, bce, bce-logits or cross-entropy"),
                )
            })
    }
}
