//! Input standardisation (SPEC section 6): `x' = (x - mean) / std` per column.
//!
//! `mean` and the population `std` come from the training rows (a zero
//! deviation counts as 1) and are stored in the model file as JSON
//! `{"mean": [...], "std": [...]}`, so prediction applies the same scaling.
//! Statistics are computed in f64 whatever the data's dtype.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Per-column mean and standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (population), zeros replaced by 1.
    pub std: Vec<f64>,
}

impl Normalizer {
    /// The statistics of `x` `[N, D]` (or `[N, C, H, W]`: one per value of a row).
    pub fn fit(x: &Tensor) -> Result<Self> {
        let x = x.to_dtype(DType::F64)?.flatten_from(1)?;
        // sum / n (not sum * (1/n)), as numpy computes mean and std.
        let n = x.dim(0)? as f64;
        let mean: Vec<f64> = x.sum(0)?.to_vec1::<f64>()?.iter().map(|s| s / n).collect();
        let centred = x.broadcast_sub(&Tensor::new(mean.as_slice(), x.device())?)?;
        let std = centred
            .sqr()?
            .sum(0)?
            .to_vec1::<f64>()?
            .into_iter()
            .map(|s| (s / n).sqrt())
            .map(|s| if s == 0.0 || !s.is_finite() { 1.0 } else { s })
            .collect();
        Ok(Self { mean, std })
    }

    /// `(x - mean) / std`, in `x`'s dtype and device; `x` keeps its shape.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() > 2 {
            let flat = self.apply(&x.flatten_from(1)?)?;
            return Ok(flat.reshape(x.dims())?);
        }
        let d = x.dims().last().copied().unwrap_or(0);
        if d != self.mean.len() {
            return Err(Error::config(
                "normalize",
                format!(
                    "the statistics are for {} columns, the data has {d}",
                    self.mean.len()
                ),
            ));
        }
        let mean = Tensor::new(self.mean.as_slice(), x.device())?.to_dtype(x.dtype())?;
        let std = Tensor::new(self.std.as_slice(), x.device())?.to_dtype(x.dtype())?;
        Ok(x.broadcast_sub(&mean)?.broadcast_div(&std)?)
    }

    /// The JSON stored in model files.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain numbers serialise")
    }

    /// Parses [`Normalizer::to_json`]'s output; lengths must agree and values be finite.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let n: Self =
            serde_json::from_str(text).map_err(|e| format!("bad normalize metadata: {e}"))?;
        if n.mean.len() != n.std.len() {
            return Err("bad normalize metadata: mean and std differ in length".into());
        }
        if n.mean.iter().chain(&n.std).any(|v| !v.is_finite()) || n.std.contains(&0.0) {
            return Err("bad normalize metadata: values must be finite, std non-zero".into());
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::Normalizer;

    /// A row of several axes (`[N, C, H, W]`, here `[2, 2, 2]`) is scaled
    /// as its flattened row: one statistic per value of a row.
    #[test]
    fn a_row_of_several_axes_is_scaled_as_its_flattened_row() {
        let n = Normalizer {
            mean: vec![1.0, 2.0, 3.0, 4.0],
            std: vec![1.0, 2.0, 4.0, 8.0],
        };
        let x = Tensor::new(
            &[[[1.0f64, 4.0], [7.0, 12.0]], [[0.0, 0.0], [3.0, 4.0]]],
            &Device::Cpu,
        )
        .unwrap();
        let y = n.apply(&x).unwrap();
        assert_eq!(y.dims(), [2, 2, 2]);
        assert_eq!(
            y.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            [0.0, 1.0, 1.0, 1.0, -1.0, -1.0, 0.0, 0.0]
        );
    }
}
