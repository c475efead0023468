//! Hand-written backprop for a stack of dense layers and activations.
//!
//! Shapes as in synapse: `x` `[batch, in]`, `W` `[out, in]`, `b` `[out]`.
//! Each forward step has its local derivative beside it:
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | dense | `y = x W^T + b` | `dW = dy^T x`, `db = sum_rows dy`, `dx = dy W` |
//! | sigmoid | `y = 1 / (1 + e^-x)` | `dx = dy * y (1 - y)` |
//! | tanh | `y = tanh x` | `dx = dy * (1 - y^2)` |
//! | relu | `y = max(x, 0)` | `dx = dy * [x > 0]` |
//! | identity | `y = x` | `dx = dy` |
//! | sse | `L = 0.5 sum (out - t)^2` | `dout = out - t` |
//! | mse | `L = mean (out - t)^2` | `dout = 2 (out - t) / (N K)` |

use crate::article::{sigmoid, sigmoid_derivative};
use crate::Matrix;

/// An activation the reference knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefActivation {
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// `max(x, 0)`.
    Relu,
    /// `x`.
    Identity,
}

/// A loss the reference knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefLoss {
    /// `0.5 * sum (out - t)^2`.
    Sse,
    /// `mean (out - t)^2`.
    Mse,
}

/// One element of the reference stack.
#[derive(Debug, Clone, PartialEq)]
pub enum RefLayer {
    /// `y = x W^T + b`; `w` is `[out, in]`.
    Dense {
        /// The weight, `[out, in]`.
        w: Matrix,
        /// The bias, `[out]`, if any.
        b: Option<Vec<f64>>,
    },
    /// An element-wise activation.
    Activation(RefActivation),
}

/// The gradient of one element's parameters (empty for activations).
#[derive(Debug, Clone, PartialEq)]
pub struct RefGrad {
    /// `dL/dW`, `[out, in]`, for a dense layer.
    pub w: Option<Matrix>,
    /// `dL/db`, `[out]`, for a dense layer with bias.
    pub b: Option<Vec<f64>>,
}

/// A stack of dense layers and activations, in plain `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefNetwork {
    /// The elements, in order.
    pub layers: Vec<RefLayer>,
}

impl RefActivation {
    fn forward(self, x: f64) -> f64 {
        match self {
            RefActivation::Sigmoid => sigmoid(x),
            RefActivation::Tanh => x.tanh(),
            RefActivation::Relu => x.max(0.0),
            RefActivation::Identity => x,
        }
    }

    /// `dy/dx` from the input `x` and the output `y`.
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
        }
    }
}

impl RefLoss {
    /// The loss value.
    pub fn value(self, out: &Matrix, target: &Matrix) -> f64 {
        let sq: f64 = out.zip(target, |o, t| (o - t) * (o - t)).data.iter().sum();
        match self {
            RefLoss::Sse => 0.5 * sq,
            RefLoss::Mse => sq / out.data.len() as f64,
        }
    }

    /// `dL/dout`.
    pub fn gradient(self, out: &Matrix, target: &Matrix) -> Matrix {
        let n = out.data.len() as f64;
        match self {
            RefLoss::Sse => out.zip(target, |o, t| o - t),
            RefLoss::Mse => out.zip(target, |o, t| 2.0 * (o - t) / n),
        }
    }
}

impl RefNetwork {
    /// Every element's output, the input first: `outs[0] = x`, `outs[i+1] = layer_i(outs[i])`.
    pub fn forward_all(&self, x: &Matrix) -> Vec<Matrix> {
        let mut outs = vec![x.clone()];
        for layer in &self.layers {
            let input = outs.last().expect("starts non-empty");
            let y = match layer {
                RefLayer::Dense { w, b } => {
                    let mut y = input.matmul(&w.t());
                    if let Some(b) = b {
                        for row in y.data.chunks_mut(w.rows) {
                            for (v, bias) in row.iter_mut().zip(b) {
                                *v += bias;
                            }
                        }
                    }
                    y
                }
                RefLayer::Activation(a) => input.map(|v| a.forward(v)),
            };
            outs.push(y);
        }
        outs
    }

    /// The stack's output.
    pub fn forward(&self, x: &Matrix) -> Matrix {
        self.forward_all(x).pop().expect("non-empty")
    }

    /// The gradient of `loss(forward(x), target)` for every element, in order.
    pub fn gradients(&self, x: &Matrix, target: &Matrix, loss: RefLoss) -> Vec<RefGrad> {
        let outs = self.forward_all(x);
        let mut dy = loss.gradient(outs.last().expect("non-empty"), target);
        let mut grads = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let (input, output) = (&outs[i], &outs[i + 1]);
            match layer {
                RefLayer::Dense { w, b } => {
                    let dw = dy.t().matmul(input);
                    let db = b.as_ref().map(|_| {
                        (0..dy.cols)
                            .map(|c| (0..dy.rows).map(|r| dy.at(r, c)).sum())
                            .collect()
                    });
                    dy = dy.matmul(w);
                    grads.push(RefGrad { w: Some(dw), b: db });
                }
                RefLayer::Activation(a) => {
                    let local = input.zip(output, |xv, yv| a.derivative(xv, yv));
                    dy = dy.zip(&local, |d, l| d * l);
                    grads.push(RefGrad { w: None, b: None });
                }
            }
        }
        grads.reverse();
        grads
    }

    /// One step of plain gradient descent: `p -= lr * dL/dp`.
    pub fn sgd_step(&mut self, x: &Matrix, target: &Matrix, loss: RefLoss, lr: f64) {
        let grads = self.gradients(x, target, loss);
        for (layer, g) in self.layers.iter_mut().zip(grads) {
            if let RefLayer::Dense { w, b } = layer {
                let dw = g.w.expect("dense layers have a weight gradient");
                *w = w.zip(&dw, |p, d| p - lr * d);
                if let (Some(b), Some(db)) = (b.as_mut(), g.b) {
                    for (p, d) in b.iter_mut().zip(db) {
                        *p -= lr * d;
                    }
                }
            }
        }
    }

    /// All parameters flattened, in synapse's order: each dense layer's
    /// weight (row-major `[out, in]`) then its bias.
    pub fn parameters(&self) -> Vec<Vec<f64>> {
        let mut params = Vec::new();
        for layer in &self.layers {
            if let RefLayer::Dense { w, b } = layer {
                params.push(w.data.clone());
                if let Some(b) = b {
                    params.push(b.clone());
                }
            }
        }
        params
    }
}
