//! `RefNetwork`: the dense-only stack on [`Matrix`], kept for the MLP tests.
//!
//! It is a view of a [`RefStack`]: every call converts the layers to stack
//! elements and runs the stack's code (dense and activation rules live in
//! `dense.rs` and `activation.rs` only). Shapes as in synapse: `x` `[batch, in]`,
//! `W` `[out, in]`, `b` `[out]`; losses as [`RefLoss`].

use crate::{Array, Matrix, RefActivation, RefDense, RefElement, RefLoss, RefMode, RefStack};

/// One element of the dense stack.
#[derive(Debug, Clone, PartialEq)]
pub enum RefLayer {
    /// `y = x W^T + b`; `w` is `[out, in]`.
    Dense {
        /// The weight, `[out, in]`.
        w: Matrix,
        /// The bias, `[out]`, if any.
        b: Option<Vec<f64>>,
    },
    /// An activation.
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

impl RefNetwork {
    /// The same network as a [`RefStack`].
    pub fn to_stack(&self) -> RefStack {
        RefStack::new(
            self.layers
                .iter()
                .map(|l| match l {
                    RefLayer::Dense { w, b } => RefElement::Dense(RefDense::new(
                        w.into(),
                        b.as_ref().map(|b| Array::new(vec![b.len()], b.clone())),
                    )),
                    RefLayer::Activation(a) => RefElement::Activation(*a),
                })
                .collect(),
        )
    }

    /// Every element's output, the input first: `outs[0] = x`, `outs[i+1] = layer_i(outs[i])`.
    pub fn forward_all(&self, x: &Matrix) -> Vec<Matrix> {
        let outs = self.to_stack().forward_all(&x.into(), RefMode::Eval);
        outs.iter().map(Array::to_matrix).collect()
    }

    /// The stack's output.
    pub fn forward(&self, x: &Matrix) -> Matrix {
        self.forward_all(x).pop().expect("non-empty")
    }

    /// The gradient of `loss(forward(x), target)` for every element, in order.
    pub fn gradients(&self, x: &Matrix, target: &Matrix, loss: RefLoss) -> Vec<RefGrad> {
        let stack = self.to_stack();
        let mut named = stack
            .gradients(&x.into(), &target.into(), loss, RefMode::Eval)
            .into_iter()
            .peekable();
        let mut grads = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let mut take = |name: &str| {
                named
                    .next_if(|(n, _)| *n == format!("{i}.{name}"))
                    .map(|(_, g)| g)
            };
            grads.push(match layer {
                RefLayer::Dense { .. } => RefGrad {
                    w: take("weight").map(|g| g.to_matrix()),
                    b: take("bias").map(|g| g.data),
                },
                RefLayer::Activation(_) => RefGrad { w: None, b: None },
            });
        }
        grads
    }

    /// One step of plain gradient descent: `p -= lr * dL/dp`.
    pub fn sgd_step(&mut self, x: &Matrix, target: &Matrix, loss: RefLoss, lr: f64) {
        let mut stack = self.to_stack();
        stack.sgd_step(&x.into(), &target.into(), loss, lr, RefMode::Eval);
        for (layer, e) in self.layers.iter_mut().zip(stack.elements) {
            if let (RefLayer::Dense { w, b }, RefElement::Dense(d)) = (layer, e) {
                *w = d.w.to_matrix();
                *b = d.b.map(|b| b.data);
            }
        }
    }

    /// All parameters flattened, in synapse's order: each dense layer's
    /// weight (row-major `[out, in]`) then its bias.
    pub fn parameters(&self) -> Vec<Vec<f64>> {
        let stack = self.to_stack();
        stack
            .parameters()
            .into_iter()
            .map(|(_, a)| a.data)
            .collect()
    }
}
