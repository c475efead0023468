//! Layer normalisation over the last dimension, PyTorch's `nn.LayerNorm(D)`
//! (elementwise affine), with its hand-written backward.
//!
//! Shapes: `x` `[..., D]`, `weight` and `bias` `[D]`, `y` like `x`; each row
//! `r` of `D` values is normalised on its own (biased variance).
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | layernorm | `mu = mean r`, `var = mean (r - mu)^2`, `xh = (r - mu) / sqrt(var + eps)`, `y = xh w + b` | `g = dy w`; `dx = (D g - sum g - xh sum(g xh)) / (D sqrt(var + eps))` per row; `dw = sum_rows dy xh`; `db = sum_rows dy` |

use crate::element::{weight_bias, weight_bias_mut, RefOps};
use crate::Array;
use crate::RefMode;

/// `nn.LayerNorm(D, eps)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLayerNorm {
    /// The learned scale, `[D]` (starts at 1).
    pub weight: Array,
    /// The learned shift, `[D]` (starts at 0).
    pub bias: Array,
    /// Added to the variance (default `1e-5`).
    pub eps: f64,
}

impl RefLayerNorm {
    /// A fresh layer over `d` features with PyTorch's defaults (eps 1e-5).
    pub fn new(d: usize) -> Self {
        Self {
            weight: Array::new(vec![d], vec![1.0; d]),
            bias: Array::zeros(vec![d]),
            eps: 1e-5,
        }
    }

    /// Each row's `(xh, sqrt(var + eps))`.
    fn normalise(&self, x: &Array) -> Vec<(Vec<f64>, f64)> {
        let d = self.weight.numel();
        assert_eq!(x.shape.last(), Some(&d), "layernorm features");
        x.data
            .chunks(d)
            .map(|r| {
                let mu = r.iter().sum::<f64>() / d as f64;
                let var = r.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / d as f64;
                let sd = (var + self.eps).sqrt();
                (r.iter().map(|v| (v - mu) / sd).collect(), sd)
            })
            .collect()
    }

    /// `y = (x - mean) / sqrt(var + eps) * weight + bias` per row, same shape.
    pub fn forward(&self, x: &Array) -> Array {
        let (w, b) = (&self.weight.data, &self.bias.data);
        let data = self
            .normalise(x)
            .into_iter()
            .flat_map(|(xh, _)| {
                xh.into_iter()
                    .enumerate()
                    .map(|(j, h)| h * w[j] + b[j])
                    .collect::<Vec<_>>()
            })
            .collect();
        Array::new(x.shape.clone(), data)
    }

    /// `(dx, [dweight, dbias])` given `dy = dL/dy`.
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let d = self.weight.numel();
        let w = &self.weight.data;
        let mut dx = Vec::with_capacity(x.numel());
        let mut dw = Array::zeros(vec![d]);
        let mut db = Array::zeros(vec![d]);
        for ((xh, sd), dyr) in self.normalise(x).into_iter().zip(dy.data.chunks(d)) {
            let g: Vec<f64> = dyr.iter().zip(w).map(|(a, b)| a * b).collect();
            let sum_g: f64 = g.iter().sum();
            let sum_gxh: f64 = g.iter().zip(&xh).map(|(a, b)| a * b).sum();
            for j in 0..d {
                dx.push((d as f64 * g[j] - sum_g - xh[j] * sum_gxh) / (d as f64 * sd));
                dw.data[j] += dyr[j] * xh[j];
                db.data[j] += dyr[j];
            }
        }
        (Array::new(x.shape.clone(), dx), vec![dw, db])
    }
}

impl RefOps for RefLayerNorm {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefLayerNorm::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        RefLayerNorm::backward(self, x, dy)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        weight_bias(&self.weight, Some(&self.bias))
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        weight_bias_mut(&mut self.weight, Some(&mut self.bias))
    }
}
