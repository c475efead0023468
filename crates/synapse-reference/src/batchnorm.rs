//! Batch normalisation, PyTorch's `nn.BatchNorm1d(C)` on `[N, C]` and
//! `nn.BatchNorm2d(C)` on `[N, C, H, W]` (affine, tracking running statistics),
//! with its hand-written backward in both modes.
//!
//! Statistics are per channel `c` over the `M = N*H*W` elements `x_c` (`M = N` for `[N, C]`).
//!
//! | mode | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | training | `mu = mean x_c`, `var = mean (x_c - mu)^2` (biased), `xh = (x - mu) / sqrt(var + eps)`, `y = xh w + b` | `g = dy w`; `dx = (M g - sum g - xh sum(g xh)) / (M sqrt(var + eps))`; `dw = sum dy xh`; `db = sum dy` |
//! | evaluation | `xh = (x - rm) / sqrt(rv + eps)`, `y = xh w + b` | `dx = dy w / sqrt(rv + eps)`; `dw = sum dy xh`; `db = sum dy` |
//!
//! A training forward also updates, as PyTorch does ([`RefBatchNorm::update_running`]):
//! `rm = (1 - m) rm + m mu`, `rv = (1 - m) rv + m sum (x_c - mu)^2 / (M - 1)` (the
//! unbiased variance), `num_batches_tracked += 1`. A training batch with `M = 1` is
//! refused (assert; PyTorch raises "Expected more than 1 value per channel").

use crate::element::{weight_bias, RefOps};
use crate::{Array, RefMode};

/// `nn.BatchNorm1d(C)` / `nn.BatchNorm2d(C)`, chosen by the rank of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct RefBatchNorm {
    /// The learned scale, `[C]` (starts at 1).
    pub weight: Array,
    /// The learned shift, `[C]` (starts at 0).
    pub bias: Array,
    /// The buffer `running_mean`, `[C]` (starts at 0).
    pub running_mean: Array,
    /// The buffer `running_var`, `[C]` (starts at 1).
    pub running_var: Array,
    /// The buffer `num_batches_tracked` (an I64 in PyTorch).
    pub num_batches_tracked: u64,
    /// Added to the variance (default `1e-5`).
    pub eps: f64,
    /// The running statistics' momentum (default `0.1`).
    pub momentum: f64,
}

/// Per-channel batch statistics: mean, `sum (x - mu)^2`, biased variance, `M`.
struct Stats {
    mean: Vec<f64>,
    var_sum: Vec<f64>,
    var: Vec<f64>,
    m: usize,
}

impl RefBatchNorm {
    /// A fresh layer of `c` channels with PyTorch's defaults (eps 1e-5, momentum 0.1).
    pub fn new(c: usize) -> Self {
        Self {
            weight: Array::new(vec![c], vec![1.0; c]),
            bias: Array::zeros(vec![c]),
            running_mean: Array::zeros(vec![c]),
            running_var: Array::new(vec![c], vec![1.0; c]),
            num_batches_tracked: 0,
            eps: 1e-5,
            momentum: 0.1,
        }
    }

    fn channels(&self) -> usize {
        self.weight.numel()
    }

    /// The flat offsets of channel `c`'s elements in `x`, in order.
    fn offsets(&self, x: &Array, c: usize) -> Vec<usize> {
        assert!(x.rank() >= 2, "batchnorm input is [N, C, ...]");
        assert_eq!(x.shape[1], self.channels(), "batchnorm channels");
        let (n, ch) = (x.shape[0], x.shape[1]);
        let s: usize = x.shape[2..].iter().product();
        (0..n)
            .flat_map(|i| (0..s).map(move |j| (i * ch + c) * s + j))
            .collect()
    }

    fn stats(&self, x: &Array) -> Stats {
        let (mut mean, mut var_sum, mut var) = (Vec::new(), Vec::new(), Vec::new());
        let mut m = 0;
        for c in 0..self.channels() {
            let idx = self.offsets(x, c);
            m = idx.len();
            assert!(
                m > 1,
                "Expected more than 1 value per channel when training"
            );
            let mu = idx.iter().map(|&o| x.data[o]).sum::<f64>() / m as f64;
            let ss = idx.iter().map(|&o| (x.data[o] - mu).powi(2)).sum::<f64>();
            mean.push(mu);
            var_sum.push(ss);
            var.push(ss / m as f64);
        }
        Stats {
            mean,
            var_sum,
            var,
            m,
        }
    }

    /// `(mean, variance)` per channel used by `mode`: the batch's or the running ones.
    fn moments(&self, x: &Array, mode: RefMode) -> (Vec<f64>, Vec<f64>) {
        match mode {
            RefMode::Train => {
                let s = self.stats(x);
                (s.mean, s.var)
            }
            RefMode::Eval => (
                self.running_mean.data.clone(),
                self.running_var.data.clone(),
            ),
        }
    }

    /// `y = (x - mean) / sqrt(var + eps) * weight + bias`, same shape as `x`.
    pub fn forward(&self, x: &Array, mode: RefMode) -> Array {
        let (mean, var) = self.moments(x, mode);
        let mut y = x.clone();
        for c in 0..self.channels() {
            let sd = (var[c] + self.eps).sqrt();
            for o in self.offsets(x, c) {
                y.data[o] = (x.data[o] - mean[c]) / sd * self.weight.data[c] + self.bias.data[c];
            }
        }
        y
    }

    /// `(dx, [dweight, dbias])` given `dy = dL/dy`, in `mode`.
    pub fn backward(&self, x: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>) {
        let (mean, var) = self.moments(x, mode);
        let mut dx = Array::zeros(x.shape.clone());
        let mut dw = Array::zeros(vec![self.channels()]);
        let mut db = Array::zeros(vec![self.channels()]);
        for c in 0..self.channels() {
            let idx = self.offsets(x, c);
            let sd = (var[c] + self.eps).sqrt();
            let xh: Vec<f64> = idx.iter().map(|&o| (x.data[o] - mean[c]) / sd).collect();
            let w = self.weight.data[c];
            dw.data[c] = idx.iter().zip(&xh).map(|(&o, h)| dy.data[o] * h).sum();
            db.data[c] = idx.iter().map(|&o| dy.data[o]).sum();
            match mode {
                RefMode::Eval => {
                    for &o in &idx {
                        dx.data[o] = dy.data[o] * w / sd;
                    }
                }
                RefMode::Train => {
                    // g = dy w; dx = (M g - sum g - xh sum(g xh)) / (M sd)
                    let m = idx.len() as f64;
                    let sum_g = w * db.data[c];
                    let sum_gxh = w * dw.data[c];
                    for (&o, h) in idx.iter().zip(&xh) {
                        dx.data[o] = (m * dy.data[o] * w - sum_g - h * sum_gxh) / (m * sd);
                    }
                }
            }
        }
        (dx, vec![dw, db])
    }

    /// The buffer updates of one training forward on `x`.
    pub fn update_running(&mut self, x: &Array) {
        let s = self.stats(x);
        let m = self.momentum;
        for c in 0..self.channels() {
            let rm = &mut self.running_mean.data[c];
            *rm = (1.0 - m) * *rm + m * s.mean[c];
            let rv = &mut self.running_var.data[c];
            *rv = (1.0 - m) * *rv + m * s.var_sum[c] / (s.m - 1) as f64;
        }
        self.num_batches_tracked += 1;
    }
}

impl RefOps for RefBatchNorm {
    fn forward(&self, x: &Array, mode: RefMode) -> Array {
        RefBatchNorm::forward(self, x, mode)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>) {
        RefBatchNorm::backward(self, x, dy, mode)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        weight_bias(&self.weight, Some(&self.bias))
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        vec![&mut self.weight, &mut self.bias]
    }

    /// `running_mean`, `running_var`, and `num_batches_tracked` as a
    /// shape-`[]` array.
    fn buffers(&self) -> Vec<(String, Array)> {
        vec![
            ("running_mean".to_string(), self.running_mean.clone()),
            ("running_var".to_string(), self.running_var.clone()),
            (
                "num_batches_tracked".to_string(),
                Array::new(vec![], vec![self.num_batches_tracked as f64]),
            ),
        ]
    }

    fn update_buffers(&mut self, x: &Array) {
        self.update_running(x)
    }
}
