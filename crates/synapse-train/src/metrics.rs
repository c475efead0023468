//! Metrics of a stack's outputs against targets.
//!
//! | loss | figures |
//! | --- | --- |
//! | `cross-entropy` | `accuracy`: share of rows whose arg-max is the class |
//! | `bce` | `accuracy`: share of elements where `out >= 0.5` matches `y >= 0.5` |
//! | `bce-logits` | `accuracy`: the same with `out >= 0` |
//! | `sse`, `mse` | `mse = mean (out - y)^2`, `mae = mean abs(out - y)` |

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use synapse_nn::Loss;

use crate::Result;

/// The figures of one evaluation; `loss` always, the others when they apply.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// The loss, as the training loss defines it.
    pub loss: f64,
    /// Classification accuracy in `[0, 1]`.
    pub accuracy: Option<f64>,
    /// Mean squared error.
    pub mse: Option<f64>,
    /// Mean absolute error.
    pub mae: Option<f64>,
}

impl Metrics {
    /// Computes the loss and the figures that fit it.
    pub fn compute(loss: Loss, out: &Tensor, target: &Tensor) -> Result<Self> {
        let value = scalar(&loss.forward(out, target)?)?;
        let mut m = Metrics {
            loss: value,
            ..Default::default()
        };
        let y = target.to_dtype(out.dtype())?;
        match loss {
            Loss::CrossEntropy => {
                let pred = out.argmax(1)?.to_dtype(DType::F64)?;
                let y = y.flatten_all()?.to_dtype(DType::F64)?;
                m.accuracy = Some(scalar(&pred.eq(&y)?.to_dtype(DType::F64)?.mean_all()?)?);
            }
            Loss::Bce | Loss::BceLogits => {
                let threshold = if loss == Loss::Bce { 0.5 } else { 0.0 };
                let pred = out.ge(threshold)?;
                let truth = y.ge(0.5)?;
                m.accuracy = Some(scalar(&pred.eq(&truth)?.to_dtype(DType::F64)?.mean_all()?)?);
            }
            Loss::Sse | Loss::Mse => {
                let diff = (out - &y)?;
                m.mse = Some(scalar(&diff.sqr()?.mean_all()?)?);
                m.mae = Some(scalar(&diff.abs()?.mean_all()?)?);
            }
        }
        Ok(m)
    }

    /// `name: value` pairs in print order: loss, then accuracy or mse and mae.
    pub fn figures(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![("loss", self.loss)];
        out.extend(self.accuracy.map(|v| ("accuracy", v)));
        out.extend(self.mse.map(|v| ("mse", v)));
        out.extend(self.mae.map(|v| ("mae", v)));
        out
    }
}

/// A scalar tensor as `f64`.
pub fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}
