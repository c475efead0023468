//! The dense layer, PyTorch's `nn.Linear`, with its hand-written backward.
//!
//! Shapes: `x` `[..., in]` (usually `[batch, in]`), `W` `[out, in]`, `b` `[out]`,
//! `y` `[..., out]`; every leading dimension is a row.
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | dense | `y = x W^T + b` | `dW = dy^T x`, `db = sum_rows dy`, `dx = dy W` |
//!
//! ```
//! use synapse_reference::{Array, RefDense};
//! let d = RefDense::new(Array::new(vec![1, 2], vec![2.0, -1.0]), Some(Array::new(vec![1], vec![0.5])));
//! assert_eq!(d.forward(&Array::new(vec![1, 2], vec![3.0, 4.0])).data, vec![2.5]);
//! ```

use crate::element::{weight_bias, weight_bias_mut, RefOps};
use crate::RefMode;
use crate::{Array, Matrix};

/// `y = x W^T + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefDense {
    /// The weight, `[out, in]`.
    pub w: Array,
    /// The bias, `[out]`, if any.
    pub b: Option<Array>,
}

impl RefDense {
    /// A dense layer from its weight `[out, in]` and optional bias `[out]`.
    pub fn new(w: Array, b: Option<Array>) -> Self {
        assert_eq!(w.rank(), 2, "dense weight is [out, in]");
        if let Some(b) = &b {
            assert_eq!(b.shape, vec![w.shape[0]], "dense bias is [out]");
        }
        Self { w, b }
    }

    fn weight(&self) -> Matrix {
        Matrix::new(self.w.shape[0], self.w.shape[1], self.w.data.clone())
    }

    fn out_shape(&self, x: &Array) -> Vec<usize> {
        assert_eq!(x.shape.last(), Some(&self.w.shape[1]), "dense input size");
        let mut shape = x.shape.clone();
        *shape.last_mut().expect("rank >= 1") = self.w.shape[0];
        shape
    }

    /// `y = x W^T + b`: `[..., in]` to `[..., out]`.
    pub fn forward(&self, x: &Array) -> Array {
        let shape = self.out_shape(x);
        let mut y = x.to_matrix().matmul(&self.weight().t());
        if let Some(b) = &self.b {
            for row in y.data.chunks_mut(b.numel()) {
                for (v, bias) in row.iter_mut().zip(&b.data) {
                    *v += bias;
                }
            }
        }
        Array::new(shape, y.data)
    }

    /// `(dx, [dW, db])` given `dy = dL/dy`; `db` only with a bias.
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let (xm, dym) = (x.to_matrix(), dy.to_matrix());
        // dW = dy^T x
        let dw = dym.t().matmul(&xm);
        let mut grads = vec![Array::new(self.w.shape.clone(), dw.data)];
        // db = sum over rows of dy
        if self.b.is_some() {
            let db = (0..dym.cols)
                .map(|c| (0..dym.rows).map(|r| dym.at(r, c)).sum())
                .collect();
            grads.push(Array::new(vec![dym.cols], db));
        }
        // dx = dy W
        let dx = dym.matmul(&self.weight());
        (Array::new(x.shape.clone(), dx.data), grads)
    }
}

impl RefOps for RefDense {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefDense::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        RefDense::backward(self, x, dy)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        weight_bias(&self.w, self.b.as_ref())
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        weight_bias_mut(&mut self.w, self.b.as_mut())
    }
}
