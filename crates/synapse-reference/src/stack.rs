//! A stack of reference elements, PyTorch's `nn.Sequential` in plain `f64`:
//! forward, hand-written backward (each element's local rule chained from the
//! loss back to the input), SGD, and the batchnorm buffer updates.
//!
//! `outs[0] = x`, `outs[i+1] = element_i(outs[i])`; backward walks `i` down from
//! the last element with `dy_i = dL/d outs[i+1]`, starting at `dL/dout` of the loss.
//! Names follow PyTorch's state_dict of the same `nn.Sequential`: element `i`
//! owns `"{i}.weight"`, `"{i}.bias"` (parameters, in that order) and
//! `"{i}.running_mean"`, `"{i}.running_var"`, `"{i}.num_batches_tracked"` (buffers);
//! an element's own names follow the dot (`"{i}.weight_ih_l0"`, and for a
//! residual block `"{i}.{j}.weight"`, its element `j`'s, nesting as deep as blocks do).
//!
//! The walk over a slice of elements (forward, backward, names, buffer updates)
//! is written once here, as crate functions; [`RefStack`] and
//! [`RefResidual`](crate::RefResidual) both run it.
//!
//! ```
//! use synapse_reference::{Array, RefActivation, RefDense, RefElement, RefLoss, RefMode, RefStack};
//! let stack = RefStack::new(vec![
//!     RefElement::Dense(RefDense::new(Array::new(vec![1, 2], vec![1.0, -1.0]), None)),
//!     RefElement::Activation(RefActivation::Relu),
//! ]);
//! let x = Array::new(vec![1, 2], vec![3.0, 1.0]);
//! let grads = stack.gradients(&x, &Array::new(vec![1, 1], vec![0.0]), RefLoss::Sse, RefMode::Train);
//! // L = 0.5 relu(3 - 1)^2, dL/dW = 2 * [3, 1]
//! assert_eq!(grads, vec![("0.weight".to_string(), Array::new(vec![1, 2], vec![6.0, 2.0]))]);
//! ```

use crate::{Array, RefElement, RefLoss, RefMode};

/// A sequence of elements, run in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RefStack {
    /// The elements, in order; element `i` owns the names `"{i}.*"`.
    pub elements: Vec<RefElement>,
}

impl RefStack {
    /// A stack of `elements`.
    pub fn new(elements: Vec<RefElement>) -> Self {
        Self { elements }
    }

    /// Every element's output, the input first: `outs[0] = x`, `outs[i+1] = element_i(outs[i])`.
    /// Pure: buffers are not updated (see [`RefStack::forward_train`]).
    pub fn forward_all(&self, x: &Array, mode: RefMode) -> Vec<Array> {
        forward_all(&self.elements, x, mode)
    }

    /// The stack's output (pure).
    pub fn forward(&self, x: &Array, mode: RefMode) -> Array {
        self.forward_all(x, mode).pop().expect("non-empty")
    }

    /// PyTorch's `model.train(); model(x)`: the training-mode output, and every
    /// batchnorm's buffers (inside residual blocks too) advanced by this batch.
    pub fn forward_train(&mut self, x: &Array) -> Array {
        let mut outs = self.forward_all(x, RefMode::Train);
        update_buffers(&mut self.elements, &outs);
        outs.pop().expect("non-empty")
    }

    /// `(dL/dx, named parameter gradients)` given `dout = dL/d forward(x)`;
    /// the gradients come in [`RefStack::parameters`] order.
    pub fn backward(
        &self,
        x: &Array,
        dout: &Array,
        mode: RefMode,
    ) -> (Array, Vec<(String, Array)>) {
        let outs = self.forward_all(x, mode);
        backward_from(&self.elements, &outs, dout.clone(), mode)
    }

    /// The gradient of `loss(forward(x, mode), target)` for every parameter,
    /// in [`RefStack::parameters`] order.
    pub fn gradients(
        &self,
        x: &Array,
        target: &Array,
        loss: RefLoss,
        mode: RefMode,
    ) -> Vec<(String, Array)> {
        let outs = self.forward_all(x, mode);
        let dout = loss.backward(outs.last().expect("non-empty"), target);
        backward_from(&self.elements, &outs, dout, mode).1
    }

    /// One step of plain gradient descent, `p -= lr * dL/dp`, on the loss of a
    /// forward in `mode` (in training mode the batchnorm buffers advance too,
    /// from this forward, as in PyTorch). Returns the loss before the step.
    pub fn sgd_step(
        &mut self,
        x: &Array,
        target: &Array,
        loss: RefLoss,
        lr: f64,
        mode: RefMode,
    ) -> f64 {
        let outs = self.forward_all(x, mode);
        let out = outs.last().expect("non-empty");
        let value = loss.forward(out, target);
        let (_, grads) = backward_from(&self.elements, &outs, loss.backward(out, target), mode);
        if mode == RefMode::Train {
            update_buffers(&mut self.elements, &outs);
        }
        for ((_, p), (_, g)) in self.parameters_mut().into_iter().zip(grads) {
            *p = p.zip(&g, |p, d| p - lr * d);
        }
        value
    }

    /// The learned parameters, named and ordered like PyTorch's `named_parameters()`.
    pub fn parameters(&self) -> Vec<(String, Array)> {
        prefixed(&self.elements, RefElement::parameters)
            .into_iter()
            .map(|(n, a)| (n, a.clone()))
            .collect()
    }

    /// The learned parameters, mutable, in [`RefStack::parameters`] order.
    pub fn parameters_mut(&mut self) -> Vec<(String, &mut Array)> {
        parameters_mut(&mut self.elements)
    }

    /// The buffers (batchnorm running statistics), named like PyTorch's state_dict.
    pub fn buffers(&self) -> Vec<(String, Array)> {
        prefixed(&self.elements, RefElement::buffers)
    }

    /// Parameters and buffers in PyTorch's `state_dict()` order: per element,
    /// its parameters then its buffers.
    pub fn state_dict(&self) -> Vec<(String, Array)> {
        prefixed(&self.elements, RefElement::state_dict)
    }
}

/// `outs[0] = x`, `outs[i+1] = elements[i](outs[i])` (pure).
pub(crate) fn forward_all(elements: &[RefElement], x: &Array, mode: RefMode) -> Vec<Array> {
    let mut outs = vec![x.clone()];
    for e in elements {
        let y = e.forward(outs.last().expect("starts non-empty"), mode);
        outs.push(y);
    }
    outs
}

/// `(dL/d outs[0], named gradients)` from the outputs of [`forward_all`] and
/// `dy = dL/d outs[last]`: each element's local rule, last to first.
pub(crate) fn backward_from(
    elements: &[RefElement],
    outs: &[Array],
    mut dy: Array,
    mode: RefMode,
) -> (Array, Vec<(String, Array)>) {
    assert_eq!(
        dy.shape,
        outs.last().expect("non-empty").shape,
        "dout shape"
    );
    let mut per_element = Vec::with_capacity(elements.len());
    for (i, e) in elements.iter().enumerate().rev() {
        let (dx, grads) = e.backward(&outs[i], &outs[i + 1], &dy, mode);
        let named: Vec<(String, Array)> = e
            .parameters()
            .into_iter()
            .zip(grads)
            .map(|((name, _), g)| (format!("{i}.{name}"), g))
            .collect();
        per_element.push(named);
        dy = dx;
    }
    per_element.reverse();
    (dy, per_element.into_iter().flatten().collect())
}

/// Every element's buffer updates from its input `outs[i]` of a training forward.
pub(crate) fn update_buffers(elements: &mut [RefElement], outs: &[Array]) {
    for (e, input) in elements.iter_mut().zip(outs) {
        e.update_buffers(input);
    }
}

/// `f(element i)`'s named values, each name prefixed with `"{i}."`.
pub(crate) fn prefixed<'a, T>(
    elements: &'a [RefElement],
    f: impl Fn(&'a RefElement) -> Vec<(String, T)>,
) -> Vec<(String, T)> {
    elements
        .iter()
        .enumerate()
        .flat_map(|(i, e)| f(e).into_iter().map(move |(n, v)| (format!("{i}.{n}"), v)))
        .collect()
}

/// The parameters, mutable, named `"{i}.{name}"` in parameter order.
pub(crate) fn parameters_mut(elements: &mut [RefElement]) -> Vec<(String, &mut Array)> {
    let mut out = Vec::new();
    for (i, e) in elements.iter_mut().enumerate() {
        let names: Vec<String> = e.parameters().into_iter().map(|(n, _)| n).collect();
        for (n, a) in names.into_iter().zip(e.parameters_mut()) {
            out.push((format!("{i}.{n}"), a));
        }
    }
    out
}
