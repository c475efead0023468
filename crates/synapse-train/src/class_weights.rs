//! Cross-entropy class weights (`--class-weights`, `class_weights=`):
//! PyTorch's `CrossEntropyLoss(weight=)`, given one per class or `auto`.
//!
//! `auto` weighs class `c` by `n / (k * n_c)`: `n` the counted training
//! targets (rows, or positions for sequences; -100 does not count), `k` the
//! classes, `n_c` the targets of class `c` (scikit-learn's "balanced"). A
//! class with no training target has no such weight: an error says so.
//! Given weights follow [`synapse_nn::check_class_weights`]. Errors are
//! [`Error::Config`] named `class-weights`.
//!
//! ```
//! use synapse_train::ClassWeights;
//! assert_eq!("auto".parse::<ClassWeights>()?, ClassWeights::Auto);
//! assert_eq!("1,2.5".parse::<ClassWeights>()?, ClassWeights::Given(vec![1.0, 2.5]));
//! assert!("1,x".parse::<ClassWeights>().unwrap_err().to_string().contains("`x` is not a number"));
//! # Ok::<(), synapse_train::Error>(())
//! ```

use std::str::FromStr;

use candle_core::DType;
use synapse_nn::Loss;

use crate::{Dataset, Error, Result};

/// Class weights as asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassWeights {
    /// `n / (k * n_c)` from the training targets.
    Auto,
    /// One weight per class.
    Given(Vec<f64>),
}

impl FromStr for ClassWeights {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        if text == "auto" {
            return Ok(ClassWeights::Auto);
        }
        text.split(',')
            .map(|w| {
                w.trim().parse::<f64>().map_err(|_| {
                    Error::config("class-weights", format!("`{text}`: `{w}` is not a number"))
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(ClassWeights::Given)
    }
}

/// Class weights apply to cross-entropy only.
pub(crate) fn check_loss(loss: Loss) -> Result<()> {
    if loss == Loss::CrossEntropy {
        Ok(())
    } else {
        Err(Error::config(
            "class-weights",
            format!("apply to cross-entropy only, not {loss}"),
        ))
    }
}

impl ClassWeights {
    /// The weight of each of `classes` classes, for training on `train`
    /// with `loss` (cross-entropy only).
    pub fn resolve(&self, loss: Loss, train: &Dataset, classes: usize) -> Result<Vec<f64>> {
        check_loss(loss)?;
        match self {
            ClassWeights::Given(w) => {
                synapse_nn::check_class_weights(w, classes).map_err(|e| {
                    let text: Vec<String> = w.iter().map(f64::to_string).collect();
                    let reason = match e {
                        synapse_nn::Error::Config { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    Error::config("class-weights", format!("`{}`: {reason}", text.join(",")))
                })?;
                Ok(w.clone())
            }
            ClassWeights::Auto => {
                let mut counts = vec![0usize; classes];
                let y = train.y().to_dtype(DType::F64)?.flatten_all()?;
                for v in y.to_vec1::<f64>()? {
                    if v >= 0.0 && (v as usize) < classes {
                        counts[v as usize] += 1;
                    }
                }
                if let Some(c) = counts.iter().position(|&n| n == 0) {
                    return Err(Error::config(
                        "class-weights",
                        format!("auto: class {c} has no training rows, so it has no weight; give the weights by hand"),
                    ));
                }
                let (n, k) = (counts.iter().sum::<usize>() as f64, classes as f64);
                Ok(counts.iter().map(|&c| n / (k * c as f64)).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};
    use synapse_nn::{Loss, IGNORE_INDEX};

    use super::ClassWeights;
    use crate::Dataset;

    fn data(y: &[f64]) -> Dataset {
        let x = Tensor::zeros((y.len(), 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        Dataset::new(x, Tensor::new(y, &Device::Cpu).unwrap()).unwrap()
    }

    /// `auto` is scikit-learn's `compute_class_weight("balanced")`,
    /// `n / (k * n_c)`: for classes [0, 0, 0, 1] it gives [4/6, 4/2]
    /// (sklearn: `array([0.66666667, 2.])`); ignored rows do not count.
    #[test]
    fn auto_weights_are_balanced_over_the_counted_rows() {
        let y = [0.0, 0.0, IGNORE_INDEX as f64, 0.0, 1.0];
        let w = ClassWeights::Auto
            .resolve(Loss::CrossEntropy, &data(&y), 2)
            .unwrap();
        assert_eq!(w, [4.0 / 6.0, 2.0]);
        // A class without rows has no weight; the error names it.
        let e = ClassWeights::Auto
            .resolve(Loss::CrossEntropy, &data(&y), 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("class 2 has no training rows"), "{e}");
        // Given weights are checked (one per class) and kept as given.
        let given = ClassWeights::Given(vec![1.0, 0.5]);
        assert_eq!(
            given.resolve(Loss::CrossEntropy, &data(&y), 2).unwrap(),
            [1.0, 0.5]
        );
        let e = given
            .resolve(Loss::CrossEntropy, &data(&y), 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`1,0.5`") && e.contains("expected 3"), "{e}");
        assert!(given.resolve(Loss::Mse, &data(&y), 2).is_err());
    }

    /// A target at or past the class count (refused where targets are
    /// checked, as a row and a position) is not counted by `auto`, the
    /// class count itself included: no class of that number exists.
    #[test]
    fn auto_counts_no_target_outside_the_classes() {
        let y = [0.0, 0.0, 2.0, 0.0, 1.0, 5.0];
        let w = ClassWeights::Auto
            .resolve(Loss::CrossEntropy, &data(&y), 2)
            .unwrap();
        assert_eq!(w, [4.0 / 6.0, 2.0]);
    }
}
