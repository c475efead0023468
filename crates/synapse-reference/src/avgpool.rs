//! 2-d average pooling, PyTorch's `nn.AvgPool2d(K, stride=S)` (no padding,
//! floor mode; so every window holds `K*K` elements and is divided by `K*K`).
//!
//! Shapes: `x` `[N, C, H, W]`, `y` `[N, C, (H-K)/S+1, (W-K)/S+1]`.
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | avgpool2d | `y[n,c,i,j] = sum(window) / K^2` | `dx[window] += dy[n,c,i,j] / K^2` |

use crate::element::RefOps;
use crate::pool::each_window;
use crate::Array;
use crate::RefMode;

/// `nn.AvgPool2d(k, stride)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefAvgPool2d {
    /// The window size `K`.
    pub k: usize,
    /// The stride `S` (PyTorch's default is `K`).
    pub stride: usize,
}

impl RefAvgPool2d {
    /// A pool of window `k` and stride `k` (PyTorch's default).
    pub fn new(k: usize) -> Self {
        Self { k, stride: k }
    }

    /// The mean of each window: `[N, C, H, W]` to `[N, C, Ho, Wo]`.
    pub fn forward(&self, x: &Array) -> Array {
        let area = (self.k * self.k) as f64;
        let mut out = Vec::new();
        let shape = each_window(x, self.k, self.stride, |_, win| {
            out.push(win.iter().map(|&o| x.data[o]).sum::<f64>() / area);
        });
        Array::new(shape, out)
    }

    /// `dx` given `dy = dL/dy`: each window spreads `dy / K^2` over its elements.
    pub fn backward(&self, x: &Array, dy: &Array) -> Array {
        let area = (self.k * self.k) as f64;
        let mut dx = Array::zeros(x.shape.clone());
        let shape = each_window(x, self.k, self.stride, |yo, win| {
            for &o in win {
                dx.data[o] += dy.data[yo] / area;
            }
        });
        assert_eq!(dy.shape, shape, "avgpool2d dy shape");
        dx
    }
}

impl RefOps for RefAvgPool2d {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefAvgPool2d::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        (RefAvgPool2d::backward(self, x, dy), vec![])
    }
}
