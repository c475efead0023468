//! One element of a [`RefStack`](crate::RefStack): the closed set of kinds the
//! reference knows, one `match` per operation, and the explicit [`RefMode`].
//!
//! Every element has the same surface: `forward(x, mode)`, `backward(x, y, dy, mode)`
//! returning `dx` and its parameter gradients, `parameters()` and `buffers()`, named
//! as PyTorch's state_dict names them inside the element (`weight`, `bias`,
//! `running_mean`, `running_var`, `num_batches_tracked`), in that order.

use crate::{
    Array, RefActivation, RefAvgPool2d, RefBatchNorm, RefConv2d, RefDense, RefDropout,
    RefLayerNorm, RefMaxPool2d, RefReshape,
};

/// Training or evaluation, given at every call (only dropout and batchnorm differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefMode {
    /// `model.train()`: batch statistics, dropout masks.
    Train,
    /// `model.eval()`: running statistics, no dropout.
    Eval,
}

/// An element of the reference stack.
#[derive(Debug, Clone, PartialEq)]
pub enum RefElement {
    /// `nn.Linear`.
    Dense(RefDense),
    /// An activation (element-wise, or softmax over the last dimension).
    Activation(RefActivation),
    /// `nn.Conv2d`.
    Conv2d(RefConv2d),
    /// `nn.MaxPool2d`.
    MaxPool2d(RefMaxPool2d),
    /// `nn.AvgPool2d`.
    AvgPool2d(RefAvgPool2d),
    /// `nn.BatchNorm1d` / `nn.BatchNorm2d`.
    BatchNorm(RefBatchNorm),
    /// `nn.LayerNorm`.
    LayerNorm(RefLayerNorm),
    /// `nn.Dropout` with an explicit mask.
    Dropout(RefDropout),
    /// `nn.Unflatten(1, ..)` / `nn.Flatten()`.
    Reshape(RefReshape),
}

impl RefElement {
    /// The element's output for `x` in `mode` (pure: buffers are not updated).
    pub fn forward(&self, x: &Array, mode: RefMode) -> Array {
        match self {
            RefElement::Dense(d) => d.forward(x),
            RefElement::Activation(a) => a.forward(x),
            RefElement::Conv2d(c) => c.forward(x),
            RefElement::MaxPool2d(p) => p.forward(x),
            RefElement::AvgPool2d(p) => p.forward(x),
            RefElement::BatchNorm(b) => b.forward(x, mode),
            RefElement::LayerNorm(l) => l.forward(x),
            RefElement::Dropout(d) => d.forward(x, mode),
            RefElement::Reshape(r) => r.forward(x),
        }
    }

    /// `(dx, grads)` from the input `x`, the output `y = forward(x, mode)` and
    /// `dy = dL/dy`; `grads` are the parameter gradients in `parameters()` order.
    pub fn backward(&self, x: &Array, y: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>) {
        match self {
            RefElement::Dense(d) => d.backward(x, dy),
            RefElement::Activation(a) => (a.backward(x, y, dy), vec![]),
            RefElement::Conv2d(c) => c.backward(x, dy),
            RefElement::MaxPool2d(p) => (p.backward(x, dy), vec![]),
            RefElement::AvgPool2d(p) => (p.backward(x, dy), vec![]),
            RefElement::BatchNorm(b) => b.backward(x, dy, mode),
            RefElement::LayerNorm(l) => l.backward(x, dy),
            RefElement::Dropout(d) => (d.backward(x, dy, mode), vec![]),
            RefElement::Reshape(r) => (r.backward(x, dy), vec![]),
        }
    }

    /// The learned parameters: `weight` then `bias` where present.
    pub fn parameters(&self) -> Vec<(&'static str, &Array)> {
        let (w, b) = match self {
            RefElement::Dense(d) => (&d.w, d.b.as_ref()),
            RefElement::Conv2d(c) => (&c.w, c.b.as_ref()),
            RefElement::BatchNorm(n) => (&n.weight, Some(&n.bias)),
            RefElement::LayerNorm(n) => (&n.weight, Some(&n.bias)),
            _ => return vec![],
        };
        std::iter::once(("weight", w))
            .chain(b.map(|b| ("bias", b)))
            .collect()
    }

    /// The learned parameters, mutable, in `parameters()` order.
    pub fn parameters_mut(&mut self) -> Vec<&mut Array> {
        let (w, b) = match self {
            RefElement::Dense(d) => (&mut d.w, d.b.as_mut()),
            RefElement::Conv2d(c) => (&mut c.w, c.b.as_mut()),
            RefElement::BatchNorm(n) => (&mut n.weight, Some(&mut n.bias)),
            RefElement::LayerNorm(n) => (&mut n.weight, Some(&mut n.bias)),
            _ => return vec![],
        };
        std::iter::once(w).chain(b).collect()
    }

    /// The buffers (batchnorm only): `running_mean`, `running_var`, and
    /// `num_batches_tracked` as a shape-`[]` array.
    pub fn buffers(&self) -> Vec<(&'static str, Array)> {
        match self {
            RefElement::BatchNorm(n) => vec![
                ("running_mean", n.running_mean.clone()),
                ("running_var", n.running_var.clone()),
                (
                    "num_batches_tracked",
                    Array::new(vec![], vec![n.num_batches_tracked as f64]),
                ),
            ],
            _ => vec![],
        }
    }
}
