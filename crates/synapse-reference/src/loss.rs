//! Losses, each with its gradient beside it (PyTorch's definitions, mean reduction).
//!
//! `out` and `t` have the same shape, `M` elements in all; for cross-entropy
//! `out` is logits `[N, C]` and `t` holds `N` class indices (`[N]` or `[N, 1]`).
//!
//! | loss | forward | backward `dL/dout` |
//! | --- | --- | --- |
//! | sse | `L = 0.5 sum (out - t)^2` | `out - t` |
//! | mse | `L = mean (out - t)^2` | `2 (out - t) / M` |
//! | bce | `L = mean -(t max(ln o, -100) + (1 - t) max(ln(1 - o), -100))` | `(o - t) / max(o (1 - o), 1e-12) / M` (PyTorch's backward) |
//! | bce-logits | `L = mean (1 - t) z - min(z, 0) + ln(1 + e^-abs(z))` | `(sigmoid(z) - t) / M` |
//! | cross-entropy | `L = mean_n (ln sum_c e^z_nc - z_n,t_n)` | `(softmax(z_n) - onehot(t_n)) / N` |

use crate::article::sigmoid;
use crate::{Array, Matrix};

/// A loss the reference knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefLoss {
    /// `0.5 * sum (out - t)^2`.
    Sse,
    /// `mean (out - t)^2`.
    Mse,
    /// Binary cross-entropy on probabilities (`BCELoss()`).
    Bce,
    /// Binary cross-entropy on logits (`BCEWithLogitsLoss()`).
    BceLogits,
    /// Cross-entropy on logits `[N, C]` with class indices (`CrossEntropyLoss()`).
    CrossEntropy,
}

impl RefLoss {
    /// The loss value.
    pub fn forward(self, out: &Array, target: &Array) -> f64 {
        if self == RefLoss::CrossEntropy {
            let (n, c, classes) = class_rows(out, target);
            let total: f64 = (0..n)
                .map(|r| {
                    let z = &out.data[r * c..(r + 1) * c];
                    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let lse = z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    -(z[classes[r]] - m - lse)
                })
                .sum();
            return total / n as f64;
        }
        let m = out.numel() as f64;
        let terms = out.zip(target, |o, t| match self {
            RefLoss::Sse | RefLoss::Mse => (o - t) * (o - t),
            RefLoss::Bce => (t - 1.0) * (-o).ln_1p().max(-100.0) - t * o.ln().max(-100.0),
            RefLoss::BceLogits => (1.0 - t) * o - o.min(0.0) + (-o.abs()).exp().ln_1p(),
            RefLoss::CrossEntropy => unreachable!(),
        });
        match self {
            RefLoss::Sse => 0.5 * terms.sum(),
            _ => terms.sum() / m,
        }
    }

    /// `dL/dout`, the shape of `out`.
    pub fn backward(self, out: &Array, target: &Array) -> Array {
        if self == RefLoss::CrossEntropy {
            let (n, c, classes) = class_rows(out, target);
            let mut g = crate::RefActivation::Softmax.forward(out);
            for (r, &k) in classes.iter().enumerate() {
                g.data[r * c + k] -= 1.0;
            }
            return g.map(|v| v / n as f64);
        }
        let m = out.numel() as f64;
        out.zip(target, |o, t| match self {
            RefLoss::Sse => o - t,
            RefLoss::Mse => 2.0 * (o - t) / m,
            RefLoss::Bce => (o - t) / ((1.0 - o) * o).max(1e-12) / m,
            RefLoss::BceLogits => (sigmoid(o) - t) / m,
            RefLoss::CrossEntropy => unreachable!(),
        })
    }

    /// The loss value, for matrices.
    pub fn value(self, out: &Matrix, target: &Matrix) -> f64 {
        self.forward(&out.into(), &target.into())
    }

    /// `dL/dout`, for matrices.
    pub fn gradient(self, out: &Matrix, target: &Matrix) -> Matrix {
        self.backward(&out.into(), &target.into()).to_matrix()
    }
}

/// `(N, C, class of each row)` for cross-entropy; asserts on bad indices.
fn class_rows(out: &Array, target: &Array) -> (usize, usize, Vec<usize>) {
    assert_eq!(out.rank(), 2, "cross-entropy logits are [N, C]");
    let (n, c) = (out.shape[0], out.shape[1]);
    assert_eq!(target.numel(), n, "one class index per row");
    let classes = target
        .data
        .iter()
        .map(|&t| {
            assert!(
                t >= 0.0 && t.fract() == 0.0 && (t as usize) < c,
                "class {t}"
            );
            t as usize
        })
        .collect();
    (n, c, classes)
}
