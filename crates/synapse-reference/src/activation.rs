//! Activations: element-wise, except softmax over the last dimension.
//!
//! | activation | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | sigmoid | `y = 1 / (1 + e^-x)` | `dx = dy * y (1 - y)` |
//! | tanh | `y = tanh x` | `dx = dy * (1 - y^2)` |
//! | relu | `y = max(x, 0)` | `dx = dy * [x > 0]` |
//! | identity | `y = x` | `dx = dy` |
//! | leaky_relu(a) | `y = x if x > 0 else a x` | `dx = dy if x > 0 else a dy` |
//! | softmax | `y_j = e^(x_j - m) / sum_k e^(x_k - m)`, `m = max_k x_k`, per row of the last dim | `dx_j = y_j (dy_j - sum_k dy_k y_k)` |
//!
//! Any shape; softmax treats the last dimension as the row (PyTorch's `dim=-1`).

use crate::article::{sigmoid, sigmoid_derivative};
use crate::Array;

/// An activation the reference knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefActivation {
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// `max(x, 0)`.
    Relu,
    /// `x`.
    Identity,
    /// `x` if `x > 0`, else `slope * x` (PyTorch's `negative_slope`).
    LeakyRelu(f64),
    /// Softmax over the last dimension.
    Softmax,
}

impl RefActivation {
    /// The activation of `x`, same shape.
    pub fn forward(self, x: &Array) -> Array {
        match self {
            RefActivation::Softmax => softmax(x),
            a => x.map(|v| a.scalar(v)),
        }
    }

    /// `dL/dx` from the input `x`, the output `y = forward(x)` and `dy = dL/dy`.
    pub fn backward(self, x: &Array, y: &Array, dy: &Array) -> Array {
        if self == RefActivation::Softmax {
            let n = y.shape.last().copied().unwrap_or(1);
            let mut dx = dy.clone();
            for ((dxr, yr), dyr) in dx
                .data
                .chunks_mut(n)
                .zip(y.data.chunks(n))
                .zip(dy.data.chunks(n))
            {
                let dot: f64 = dyr.iter().zip(yr).map(|(d, y)| d * y).sum();
                for ((d, &yv), &g) in dxr.iter_mut().zip(yr).zip(dyr) {
                    *d = yv * (g - dot);
                }
            }
            return dx;
        }
        let local = x.zip(y, |xv, yv| self.derivative(xv, yv));
        dy.zip(&local, |d, l| d * l)
    }

    fn scalar(self, x: f64) -> f64 {
        match self {
            RefActivation::Sigmoid => sigmoid(x),
            RefActivation::Tanh => x.tanh(),
            RefActivation::Relu => x.max(0.0),
            RefActivation::Identity => x,
            RefActivation::LeakyRelu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * x
                }
            }
            RefActivation::Softmax => unreachable!("softmax is not element-wise"),
        }
    }

    /// `dy/dx` from the input `x` and the output `y` (element-wise kinds).
    fn derivative(self, x: f64, y: f64) -> f64 {
        match self {
            RefActivation::Sigmoid => sigmoid_derivative(y),
            RefActivation::Tanh => 1.0 - y * y,
            RefActivation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            RefActivation::Identity => 1.0,
            RefActivation::LeakyRelu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    a
                }
            }
            RefActivation::Softmax => unreachable!("softmax is not element-wise"),
        }
    }
}

/// Softmax over the last dimension, shifted by the row maximum.
fn softmax(x: &Array) -> Array {
    let n = x.shape.last().copied().unwrap_or(1);
    let mut y = x.clone();
    for row in y.data.chunks_mut(n) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for v in row.iter_mut() {
            *v = (*v - m).exp();
        }
        let s: f64 = row.iter().sum();
        for v in row.iter_mut() {
            *v /= s;
        }
    }
    y
}
