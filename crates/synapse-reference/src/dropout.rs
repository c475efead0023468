//! Dropout with an explicit mask, PyTorch's `nn.Dropout(p)`.
//!
//! The reference draws nothing: the caller gives the 0/1 `mask` (same shape as
//! `x`, any rank: `[batch, D]`, `[batch, T, D]`, NCHW) that the implementation
//! under test drew. In evaluation dropout is the
//! identity. PyTorch scales the mask first (`noise = mask / (1 - p)`, then
//! `y = x * noise`); the reference rounds the same way.
//!
//! | mode | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | training | `y = x * (mask / (1 - p))` | `dx = dy * (mask / (1 - p))` |
//! | evaluation | `y = x` | `dx = dy` |

use crate::element::RefOps;
use crate::{Array, RefMode};

/// `nn.Dropout(p)` with the mask of the current training forward.
#[derive(Debug, Clone, PartialEq)]
pub struct RefDropout {
    /// The probability of zeroing an element, `0 <= p < 1`.
    pub p: f64,
    /// The 0/1 keep-mask of the next training forward, the shape of `x`
    /// (required in training mode, unused in evaluation).
    pub mask: Option<Array>,
}

impl RefDropout {
    /// Dropout with probability `p` and no mask yet.
    pub fn new(p: f64) -> Self {
        assert!((0.0..1.0).contains(&p), "dropout p in [0, 1)");
        Self { p, mask: None }
    }

    /// `mask / (1 - p)`, checked against `x`'s shape.
    fn noise(&self, x: &Array) -> Array {
        let mask = self
            .mask
            .as_ref()
            .expect("dropout in training needs a mask");
        assert_eq!(mask.shape, x.shape, "dropout mask shape");
        mask.map(|m| m / (1.0 - self.p))
    }

    /// `x * mask / (1 - p)` in training, `x` in evaluation.
    pub fn forward(&self, x: &Array, mode: RefMode) -> Array {
        match mode {
            RefMode::Train => x.zip(&self.noise(x), |a, n| a * n),
            RefMode::Eval => x.clone(),
        }
    }

    /// `dx` given `dy = dL/dy`.
    pub fn backward(&self, x: &Array, dy: &Array, mode: RefMode) -> Array {
        match mode {
            RefMode::Train => dy.zip(&self.noise(x), |d, n| d * n),
            RefMode::Eval => dy.clone(),
        }
    }
}

impl RefOps for RefDropout {
    fn forward(&self, x: &Array, mode: RefMode) -> Array {
        RefDropout::forward(self, x, mode)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>) {
        (RefDropout::backward(self, x, dy, mode), vec![])
    }
}
