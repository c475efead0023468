//! A learned positional embedding, the contract's `Positional(T, D)`:
//! `forward(x) = x + weight[: x.shape[1]]`, one learned vector per position.
//!
//! Shapes: `x` `[batch, t, D]` with `t <= T`, `weight` `[T, D]`, `y` like `x`;
//! the first `t` rows of `weight` broadcast over the batch.
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | positional | `y[b, p] = x[b, p] + weight[p]` | `dx = dy`; `dweight[p] = sum_b dy[b, p]` for `p < t`, `0` for `t <= p < T` |
//!
//! ```
//! use synapse_reference::{Array, RefPositional};
//! let pos = RefPositional::new(Array::new(vec![3, 1], vec![10.0, 20.0, 30.0]));
//! let x = Array::new(vec![2, 2, 1], vec![1.0, 2.0, 3.0, 4.0]);
//! assert_eq!(pos.forward(&x).data, vec![11.0, 22.0, 13.0, 24.0]);
//! let (dx, dw) = pos.backward(&x, &Array::new(vec![2, 2, 1], vec![1.0, 2.0, 3.0, 4.0]));
//! assert_eq!(dx.data, vec![1.0, 2.0, 3.0, 4.0]);
//! // positions 0 and 1 summed over the batch; position 2 unused
//! assert_eq!(dw[0].data, vec![4.0, 6.0, 0.0]);
//! ```

use crate::element::{weight_bias, RefOps};
use crate::Array;
use crate::RefMode;

/// `x + weight[:t]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefPositional {
    /// One vector per position, `[T, D]`.
    pub weight: Array,
}

impl RefPositional {
    /// A positional embedding from its table `[T, D]`.
    pub fn new(weight: Array) -> Self {
        assert_eq!(weight.rank(), 2, "positional weight is [T, D]");
        Self { weight }
    }

    /// The number of values `t * D` one sample covers, after checking `x`'s shape.
    fn span(&self, x: &Array) -> usize {
        let (max_t, d) = (self.weight.shape[0], self.weight.shape[1]);
        assert_eq!(x.rank(), 3, "positional input is [batch, t, D]");
        assert!(
            x.shape[1] <= max_t,
            "positional: t = {} > T = {max_t}",
            x.shape[1]
        );
        assert_eq!(x.shape[2], d, "positional features");
        x.shape[1] * d
    }

    /// `y[b, p] = x[b, p] + weight[p]`, the shape of `x`.
    pub fn forward(&self, x: &Array) -> Array {
        let span = self.span(x);
        let mut y = x.clone();
        for sample in y.data.chunks_mut(span) {
            for (v, w) in sample.iter_mut().zip(&self.weight.data) {
                *v += w;
            }
        }
        y
    }

    /// `(dx, [dweight])` given `dy = dL/dy`.
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let span = self.span(x);
        assert_eq!(dy.shape, x.shape, "positional dy shape");
        // d(x + w)/dw = 1 at every sample: the batch sums into the rows used
        let mut dw = Array::zeros(self.weight.shape.clone());
        for sample in dy.data.chunks(span) {
            for (g, v) in dw.data.iter_mut().zip(sample) {
                *g += v;
            }
        }
        // d(x + w)/dx = 1
        (dy.clone(), vec![dw])
    }
}

impl RefOps for RefPositional {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefPositional::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        RefPositional::backward(self, x, dy)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        weight_bias(&self.weight, None)
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        std::iter::once(&mut self.weight).chain(None).collect()
    }
}
