//! Losses, each with its gradient beside it (PyTorch's definitions, mean reduction).
//!
//! `out` and `t` have the same shape, `M` elements in all; for cross-entropy
//! `out` is logits `[..., C]` (`[N, C]`, or `[batch, T, C]` for one class per
//! position) and `t` holds one class index per row of `C` (`[N]` or `[N, 1]`;
//! `[batch, T]`), exactly `CrossEntropyLoss()(out.reshape(-1, C), t.reshape(-1))`.
//! A target of `-100` (PyTorch's default `ignore_index`) does not count: the mean
//! is over the `n` counted rows, and ignored rows get a zero gradient.
//! When every target is `-100` the loss is 0 with a zero gradient, as synapse's
//! SPEC says (PyTorch's mean there is `0/0`, NaN).
//!
//! | loss | forward | backward `dL/dout` |
//! | --- | --- | --- |
//! | sse | `L = 0.5 sum (out - t)^2` | `out - t` |
//! | mse | `L = mean (out - t)^2` | `2 (out - t) / M` |
//! | bce | `L = mean -(t max(ln o, -100) + (1 - t) max(ln(1 - o), -100))` | `(o - t) / max(o (1 - o), 1e-12) / M` (PyTorch's backward) |
//! | bce-logits | `L = mean (1 - t) z - min(z, 0) + ln(1 + e^-abs(z))` | `(sigmoid(z) - t) / M` |
//! | cross-entropy | `L = (1/n) sum_{counted r} (ln sum_c e^z_rc - z_r,t_r)` | `(softmax(z_r) - onehot(t_r)) / n` for counted rows, `0` for ignored ones |
//!
//! ```
//! use synapse_reference::{Array, RefLoss};
//! let z = Array::new(vec![1, 2, 2], vec![0.0, 0.0, 5.0, -5.0]);
//! // position 1 is ignored: the loss is position 0's, ln 2
//! let t = Array::new(vec![1, 2], vec![1.0, -100.0]);
//! assert_eq!(RefLoss::CrossEntropy.forward(&z, &t), 2f64.ln());
//! assert_eq!(RefLoss::CrossEntropy.backward(&z, &t).data, vec![0.5, -0.5, 0.0, 0.0]);
//! ```

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
    /// Cross-entropy on logits `[..., C]` with one class index per row, `-100`
    /// ignored (`CrossEntropyLoss()` on the rows).
    CrossEntropy,
}

impl RefLoss {
    /// The loss value.
    pub fn forward(self, out: &Array, target: &Array) -> f64 {
        if self == RefLoss::CrossEntropy {
            let (c, classes) = class_rows(out, target);
            let n = counted(&classes);
            let total: f64 = out
                .data
                .chunks(c)
                .zip(&classes)
                .filter_map(|(z, k)| k.map(|k| (z, k)))
                .map(|(z, k)| {
                    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let lse = z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    -(z[k] - m - lse)
                })
                .sum();
            return if n == 0 { 0.0 } else { total / n as f64 };
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
            let (c, classes) = class_rows(out, target);
            let n = counted(&classes) as f64;
            let mut g = crate::RefActivation::Softmax.forward(out);
            for (row, k) in g.data.chunks_mut(c).zip(classes) {
                match k {
                    Some(k) => {
                        row[k] -= 1.0;
                        row.iter_mut().for_each(|v| *v /= n);
                    }
                    None => row.fill(0.0),
                }
            }
            return g;
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

/// PyTorch's default `ignore_index`: a row with this target does not count.
const IGNORE: f64 = -100.0;

/// `(C, class of each row)` for cross-entropy, `None` for an ignored row;
/// asserts on bad indices.
fn class_rows(out: &Array, target: &Array) -> (usize, Vec<Option<usize>>) {
    assert!(out.rank() >= 2, "cross-entropy logits are [..., C]");
    let c = out.shape[out.rank() - 1];
    assert_eq!(target.numel() * c, out.numel(), "one class index per row");
    let classes = target
        .data
        .iter()
        .map(|&t| {
            if t == IGNORE {
                return None;
            }
            assert!(
                t >= 0.0 && t.fract() == 0.0 && (t as usize) < c,
                "class {t}"
            );
            Some(t as usize)
        })
        .collect();
    (c, classes)
}

/// The number of rows that count.
fn counted(classes: &[Option<usize>]) -> usize {
    classes.iter().flatten().count()
}
