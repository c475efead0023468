//! Root-mean-square normalisation over the last dimension, PyTorch's
//! `nn.RMSNorm(D)` (elementwise affine), with its hand-written backward.
//!
//! Shapes: `x` `[..., D]`, `weight` `[D]`, `y` like `x`; each row `r` of `D`
//! values is normalised on its own, without centring and without a bias.
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | rmsnorm | `ms = mean r^2`, `s = sqrt(ms + eps)`, `y = r / s w` | `g = dy w`; `dx = g / s - r sum(g r) / (D s^3)` per row; `dw = sum_rows dy r / s` |

use crate::element::{named, RefOps};
use crate::Array;
use crate::RefMode;

/// `nn.RMSNorm(D, eps)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefRmsNorm {
    /// The learned scale, `[D]` (starts at 1).
    pub weight: Array,
    /// Added to the mean square (PyTorch's default `eps=None`: `f64::EPSILON`
    /// for this f64 reference).
    pub eps: f64,
}

impl RefRmsNorm {
    /// A fresh layer over `d` features with PyTorch's defaults.
    pub fn new(d: usize) -> Self {
        Self {
            weight: Array::new(vec![d], vec![1.0; d]),
            eps: f64::EPSILON,
        }
    }

    /// Each row's `sqrt(mean r^2 + eps)`.
    fn scales(&self, x: &Array) -> Vec<f64> {
        let d = self.weight.numel();
        assert_eq!(x.shape.last(), Some(&d), "rmsnorm features");
        x.data
            .chunks(d)
            .map(|r| (r.iter().map(|v| v * v).sum::<f64>() / d as f64 + self.eps).sqrt())
            .collect()
    }

    /// `y = x / sqrt(mean(x^2) + eps) * weight` per row, same shape.
    pub fn forward(&self, x: &Array) -> Array {
        let (d, w) = (self.weight.numel(), &self.weight.data);
        let data = x
            .data
            .chunks(d)
            .zip(self.scales(x))
            .flat_map(|(r, s)| r.iter().zip(w).map(move |(v, wj)| v / s * wj))
            .collect();
        Array::new(x.shape.clone(), data)
    }

    /// `(dx, [dweight])` given `dy = dL/dy`.
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let d = self.weight.numel();
        let w = &self.weight.data;
        let mut dx = Vec::with_capacity(x.numel());
        let mut dw = Array::zeros(vec![d]);
        let rows = x.data.chunks(d).zip(dy.data.chunks(d));
        for ((r, dyr), s) in rows.zip(self.scales(x)) {
            let g: Vec<f64> = dyr.iter().zip(w).map(|(a, b)| a * b).collect();
            let sum_gr: f64 = g.iter().zip(r).map(|(a, b)| a * b).sum();
            for j in 0..d {
                dx.push(g[j] / s - r[j] * sum_gr / (d as f64 * s * s * s));
                dw.data[j] += dyr[j] * r[j] / s;
            }
        }
        (Array::new(x.shape.clone(), dx), vec![dw])
    }
}

impl RefOps for RefRmsNorm {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefRmsNorm::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        RefRmsNorm::backward(self, x, dy)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        named(vec![("weight", &self.weight)])
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        vec![&mut self.weight]
    }
}
