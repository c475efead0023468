//! Reductions over the time dimension of a sequence batch: the contract's
//! `Last()` (`x[:, -1]`) and `SeqMean()` (`x.mean(1)`).
//!
//! Shapes: `x` `[batch, T, D]`, `y` `[batch, D]`.
//!
//! | reduction | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | last | `y[b] = x[b, T-1]` | `dx[b, T-1] = dy[b]`, `dx[b, t] = 0` for `t < T-1` |
//! | seqmean | `y[b] = (sum_t x[b, t]) / T` | `dx[b, t] = dy[b] / T` |
//!
//! ```
//! use synapse_reference::{Array, RefSeqReduce};
//! let x = Array::new(vec![1, 3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 9.0]);
//! assert_eq!(RefSeqReduce::Last.forward(&x).data, vec![5.0, 9.0]);
//! assert_eq!(RefSeqReduce::Mean.forward(&x).data, vec![3.0, 5.0]);
//! let dy = Array::new(vec![1, 2], vec![3.0, 6.0]);
//! assert_eq!(RefSeqReduce::Last.backward(&x, &dy).data, vec![0.0, 0.0, 0.0, 0.0, 3.0, 6.0]);
//! assert_eq!(RefSeqReduce::Mean.backward(&x, &dy).data, vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
//! ```

use crate::element::RefOps;
use crate::Array;
use crate::RefMode;

/// How a sequence `[batch, T, D]` becomes one vector per sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefSeqReduce {
    /// `x[:, -1]`: the last position.
    Last,
    /// `x.mean(1)`: the mean over positions.
    Mean,
}

/// `(batch, T, D)` of a sequence batch.
fn dims(x: &Array) -> (usize, usize, usize) {
    assert_eq!(x.rank(), 3, "sequence reduction input is [batch, T, D]");
    assert!(x.shape[1] > 0, "sequence reduction of an empty sequence");
    (x.shape[0], x.shape[1], x.shape[2])
}

impl RefSeqReduce {
    /// `[batch, T, D]` to `[batch, D]`.
    pub fn forward(self, x: &Array) -> Array {
        let (b, t, d) = dims(x);
        let mut y = Array::zeros(vec![b, d]);
        for (yr, sample) in y.data.chunks_mut(d).zip(x.data.chunks(t * d)) {
            match self {
                RefSeqReduce::Last => yr.copy_from_slice(&sample[(t - 1) * d..]),
                RefSeqReduce::Mean => {
                    for row in sample.chunks(d) {
                        for (acc, v) in yr.iter_mut().zip(row) {
                            *acc += v;
                        }
                    }
                    for acc in yr.iter_mut() {
                        *acc /= t as f64;
                    }
                }
            }
        }
        y
    }

    /// `dx`, the shape of `x`, given `dy = dL/dy` `[batch, D]`.
    pub fn backward(self, x: &Array, dy: &Array) -> Array {
        let (b, t, d) = dims(x);
        assert_eq!(dy.shape, [b, d], "sequence reduction dy shape");
        let mut dx = Array::zeros(x.shape.clone());
        for (sample, dyr) in dx.data.chunks_mut(t * d).zip(dy.data.chunks(d)) {
            match self {
                // y = x[T-1]: only the last position gets the gradient
                RefSeqReduce::Last => sample[(t - 1) * d..].copy_from_slice(dyr),
                // y = sum_t x[t] / T: each position gets dy / T
                RefSeqReduce::Mean => {
                    for row in sample.chunks_mut(d) {
                        for (g, v) in row.iter_mut().zip(dyr) {
                            *g = v / t as f64;
                        }
                    }
                }
            }
        }
        dx
    }
}

impl RefOps for RefSeqReduce {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefSeqReduce::forward(*self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        (RefSeqReduce::backward(*self, x, dy), vec![])
    }
}
