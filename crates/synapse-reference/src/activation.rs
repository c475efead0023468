//! Activations: element-wise, except softmax over the last dimension.
//!
//! | activation | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | sigmoid | `y = 1 / (1 + e^-x)` | `dx = dy * y (1 - y)` |
//! | tanh | `y = tanh x` | `dx = dy * (1 - y^2)` |
//! | relu | `y = max(x, 0)` | `dx = dy * [x > 0]` |
//! | identity | `y = x` | `dx = dy` |
//! | leaky_relu(a) | `y = x if x > 0 else a x` | `dx = dy if x > 0 else a dy` |
//! | gelu | `y = x Phi(x)`, `Phi(x) = (1 + erf(x / sqrt 2)) / 2` (the exact form, `nn.GELU()`) | `dx = dy * (Phi(x) + x phi(x))`, `phi(x) = e^(-x^2 / 2) / sqrt(2 pi)` |
//! | gelu(tanh) | `y = x (1 + t) / 2`, `t = tanh(c (x + a x^3))`, `c = sqrt(2 / pi)`, `a = 0.044715` (`nn.GELU(approximate="tanh")`) | `dx = dy * ((1 + t) / 2 + x (1 - t^2) c (1 + 3 a x^2) / 2)` |
//! | softmax | `y_j = e^(x_j - m) / sum_k e^(x_k - m)`, `m = max_k x_k`, per row of the last dim | `dx_j = y_j (dy_j - sum_k dy_k y_k)` |
//!
//! Any shape; softmax treats the last dimension as the row (PyTorch's `dim=-1`),
//! so `[batch, T, D]` sequences take it per position.
//!
//! ```
//! use synapse_reference::{Array, RefActivation};
//! let x = Array::new(vec![1, 2], vec![0.0, 1.0]);
//! let y = RefActivation::Gelu.forward(&x);
//! // gelu(1) = Phi(1) = (1 + erf(1 / sqrt 2)) / 2, as torch.nn.GELU() prints it
//! assert_eq!(y.data[0], 0.0);
//! assert!((y.data[1] - 0.841344746068543).abs() < 1e-16);
//! ```

use crate::article::{sigmoid, sigmoid_derivative};
use crate::element::RefOps;
use crate::RefMode;
use crate::{erf, Array};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};

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
    /// `x Phi(x)`, the exact (erf) form of `nn.GELU()`.
    Gelu,
    /// `x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2`, `nn.GELU(approximate="tanh")`.
    GeluTanh,
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
            // y = x Phi(x)
            RefActivation::Gelu => x * phi_cdf(x),
            // y = x (1 + t) / 2
            RefActivation::GeluTanh => 0.5 * x * (1.0 + gelu_tanh_t(x)),
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
            // d(x Phi(x))/dx = Phi(x) + x phi(x)
            RefActivation::Gelu => phi_cdf(x) + x * phi_pdf(x),
            RefActivation::GeluTanh => {
                let t = gelu_tanh_t(x);
                0.5 * (1.0 + t)
                    + 0.5 * x * (1.0 - t * t) * GELU_TANH_C * (1.0 + 3.0 * GELU_TANH_A * x * x)
            }
            RefActivation::Softmax => unreachable!("softmax is not element-wise"),
        }
    }
}

/// `sqrt(2 / pi)`, the tanh GELU's scale.
const GELU_TANH_C: f64 = FRAC_2_SQRT_PI * FRAC_1_SQRT_2;
/// The tanh GELU's cubic coefficient.
const GELU_TANH_A: f64 = 0.044715;

/// `t = tanh(sqrt(2 / pi) (x + 0.044715 x^3))` of the tanh GELU.
fn gelu_tanh_t(x: f64) -> f64 {
    (GELU_TANH_C * (x + GELU_TANH_A * x * x * x)).tanh()
}

/// The standard normal distribution function, `Phi(x) = (1 + erf(x / sqrt 2)) / 2`.
fn phi_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x * FRAC_1_SQRT_2))
}

/// The standard normal density, `phi(x) = e^(-x^2 / 2) / sqrt(2 pi)`.
fn phi_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() * (FRAC_2_SQRT_PI * FRAC_1_SQRT_2 * 0.5)
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

impl RefOps for RefActivation {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefActivation::forward(*self, x)
    }

    fn backward(&self, x: &Array, y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        (RefActivation::backward(*self, x, y, dy), vec![])
    }
}
