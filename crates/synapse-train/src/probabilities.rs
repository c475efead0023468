//! Class probabilities from a classifier's outputs, by the loss it was
//! trained with: `softmax` over the last axis for `cross-entropy` (logits),
//! `sigmoid` for `bce-logits`, the outputs themselves for `bce` (already
//! probabilities). A regression loss has none. `predict --proba` and
//! Python's `predict(proba=True)` both ask here.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use synapse_nn::Loss;
//! use synapse_train::{probabilities, NotAClassifier};
//! let out = Tensor::new(&[[0.0f64, 0.0]], &Device::Cpu)?;
//! let p = probabilities(Some(Loss::CrossEntropy), &out)?.unwrap();
//! assert_eq!(p.to_vec2::<f64>()?, vec![vec![0.5, 0.5]]);
//! assert_eq!(probabilities(Some(Loss::Mse), &out)?.unwrap_err(), NotAClassifier::Trained(Loss::Mse));
//! # Ok::<(), synapse_train::Error>(())
//! ```

use candle_core::Tensor;
use synapse_nn::{Activation, Loss};

/// Why a model has no class probabilities or classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAClassifier {
    /// It was trained with a regression loss.
    Trained(Loss),
    /// Its loss is not known.
    NoLoss,
}

/// The class probabilities of `out` for a model trained with `loss`, or
/// why it has none.
pub fn probabilities(
    loss: Option<Loss>,
    out: &Tensor,
) -> crate::Result<std::result::Result<Tensor, NotAClassifier>> {
    Ok(Ok(match loss {
        Some(Loss::CrossEntropy) => Activation::Softmax.forward(out)?,
        Some(Loss::BceLogits) => Activation::Sigmoid.forward(out)?,
        Some(Loss::Bce) => out.clone(),
        Some(other) => return Ok(Err(NotAClassifier::Trained(other))),
        None => return Ok(Err(NotAClassifier::NoLoss)),
    }))
}

/// Whether classes can be read off a model trained with `loss`: any loss
/// but a regression one (an unknown loss reads the largest output).
pub fn check_labels(loss: Option<Loss>) -> std::result::Result<(), NotAClassifier> {
    match loss {
        Some(l @ (Loss::Sse | Loss::Mse)) => Err(NotAClassifier::Trained(l)),
        _ => Ok(()),
    }
}

/// The class of each position of each row of per-position outputs
/// `[batch, T, C]` (the largest output), row by row.
pub fn classes_per_position(out: &Tensor) -> crate::Result<Vec<Vec<usize>>> {
    let rows = out
        .argmax(candle_core::D::Minus1)?
        .flatten_from(1)?
        .to_dtype(candle_core::DType::F64)?
        .to_vec2::<f64>()?;
    Ok(rows
        .into_iter()
        .map(|r| r.into_iter().map(|c| c as usize).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    /// The largest output of each position, row by row: outputs [2, 3, 2].
    #[test]
    fn each_position_takes_its_largest_output() {
        let out = Tensor::new(
            &[
                [[0.1f32, 0.9], [0.8, 0.2], [0.3, 0.7]],
                [[0.6, 0.4], [0.0, 1.0], [0.5, 0.1]],
            ],
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(
            super::classes_per_position(&out).unwrap(),
            [[1, 0, 1], [0, 1, 0]]
        );
    }
}
