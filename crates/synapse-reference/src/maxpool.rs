//! 2-d max pooling, PyTorch's `nn.MaxPool2d(K, stride=S)` (no padding, no
//! dilation, floor mode), with its hand-written backward.
//!
//! Shapes: `x` `[N, C, H, W]`, `y` `[N, C, (H-K)/S+1, (W-K)/S+1]`.
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | maxpool2d | `y[n,c,i,j] = max` over the window `x[n,c,iS..iS+K, jS..jS+K]` | `dx[arg] += dy[n,c,i,j]` at the window's argmax only |
//!
//! Ties: the argmax is the FIRST maximum in row-major order within the window,
//! as PyTorch's CPU kernel keeps it (it replaces the running maximum only when
//! `v > max`, or whenever `v` is NaN: so the LAST NaN of a window wins and
//! propagates; an all `-inf` window picks its first element). Checked against
//! PyTorch in `tests/it/pytorch_values.rs`. Overlapping windows
//! (`S < K`) add their gradients into a shared element.

use crate::element::RefOps;
use crate::pool::each_window;
use crate::Array;
use crate::RefMode;

/// `nn.MaxPool2d(k, stride)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefMaxPool2d {
    /// The window size `K`.
    pub k: usize,
    /// The stride `S` (PyTorch's default is `K`).
    pub stride: usize,
}

impl RefMaxPool2d {
    /// A pool of window `k` and stride `k` (PyTorch's default).
    pub fn new(k: usize) -> Self {
        Self { k, stride: k }
    }

    /// The offset in `x` of the window's maximum (first in row-major order on ties).
    fn argmax(x: &Array, window: &[usize]) -> usize {
        let mut best = window[0];
        let mut max = f64::NEG_INFINITY;
        for &o in window {
            let v = x.data[o];
            if v > max || v.is_nan() {
                (best, max) = (o, v);
            }
        }
        best
    }

    /// The maximum of each window: `[N, C, H, W]` to `[N, C, Ho, Wo]`.
    pub fn forward(&self, x: &Array) -> Array {
        let mut out = Vec::new();
        let shape = each_window(x, self.k, self.stride, |_, win| {
            out.push(x.data[Self::argmax(x, win)]);
        });
        Array::new(shape, out)
    }

    /// `dx` given `dy = dL/dy`: each window's gradient goes to its argmax.
    pub fn backward(&self, x: &Array, dy: &Array) -> Array {
        let mut dx = Array::zeros(x.shape.clone());
        let shape = each_window(x, self.k, self.stride, |yo, win| {
            dx.data[Self::argmax(x, win)] += dy.data[yo];
        });
        assert_eq!(dy.shape, shape, "maxpool2d dy shape");
        dx
    }
}

impl RefOps for RefMaxPool2d {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefMaxPool2d::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        (RefMaxPool2d::backward(self, x, dy), vec![])
    }
}
