//! The one rule for class indices, used by every loss path and by the data
//! loaders: a class index is a whole number `c` with `0 <= c < classes`,
//! where `classes` is the number of output columns.
//!
//! ```
//! use synapse_nn::class_index;
//! assert_eq!(class_index(2.0, 3)?, 2);
//! assert!(class_index(3.0, 3).is_err());
//! assert!(class_index(-1.0, 3).is_err());
//! assert!(class_index(0.5, 3).is_err());
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// The class target that does not count (PyTorch's default `ignore_index`):
/// a row or position whose target is -100 adds nothing to cross-entropy.
pub const IGNORE_INDEX: i64 = -100;

/// The class of each row of a `[N]` or `[N, 1]` target, `None` where it is
/// [`IGNORE_INDEX`]; every other value by [`class_index`].
pub(crate) fn class_targets(target: &Tensor, classes: usize) -> Result<Vec<Option<usize>>> {
    target
        .flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?
        .into_iter()
        .map(|v| {
            if v == IGNORE_INDEX as f64 {
                Ok(None)
            } else {
                class_index(v, classes).map(Some)
            }
        })
        .collect()
}

/// `value` as a class index for a model with `classes` output columns, or
/// [`Error::ClassIndex`] when it is not a whole number in `0..classes`.
pub fn class_index(value: f64, classes: usize) -> Result<usize> {
    if value >= 0.0 && value.fract() == 0.0 && value < classes as f64 {
        Ok(value as usize)
    } else {
        Err(Error::ClassIndex { value, classes })
    }
}

/// The class indices of a `[N]` or `[N, 1]` target tensor (any dtype), each checked by [`class_index`].
pub fn class_indices(target: &Tensor, classes: usize) -> Result<Vec<usize>> {
    target
        .flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?
        .into_iter()
        .map(|v| class_index(v, classes))
        .collect()
}

/// Class weights for `classes` outputs (`CrossEntropyLoss(weight=)`): one per
/// class, each finite and at least 0, not all 0 (their sum divides the loss).
pub fn check_class_weights(weights: &[f64], classes: usize) -> Result<()> {
    let fine = weights.len() == classes
        && weights.iter().all(|v| v.is_finite() && *v >= 0.0)
        && weights.iter().any(|v| *v > 0.0);
    if fine {
        return Ok(());
    }
    Err(Error::config(
        "class weights",
        format!(
            "expected {classes} finite weights of at least 0 (one per output column, not all 0), got {} ({})",
            weights.len(),
            weights.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::check_class_weights;

    /// One weight per class, each finite and at least 0, at least one above 0.
    #[test]
    fn class_weights_need_one_finite_nonnegative_weight_per_class() {
        for ok in [&[1.0, 2.0, 3.0][..], &[0.0, 1.0, 0.0], &[0.0, 0.0, 1e-300]] {
            assert!(check_class_weights(ok, 3).is_ok(), "{ok:?}");
        }
        for bad in [
            &[1.0, 2.0][..],
            &[1.0, 2.0, 3.0, 4.0],
            &[1.0, f64::NAN, 1.0],
            &[1.0, f64::INFINITY, 1.0],
            &[1.0, -0.5, 1.0],
            &[0.0, 0.0, 0.0],
        ] {
            let e = check_class_weights(bad, 3).unwrap_err().to_string();
            assert!(e.contains("expected 3 finite weights"), "{bad:?}: {e}");
        }
    }
}
