//! A stack of reference elements, PyTorch's `nn.Sequential` in plain `f64`:
//! forward, hand-written backward (each element's local rule chained from the
//! loss back to the input), SGD, and the batchnorm buffer updates.
//!
//! `outs[0] = x`, `outs[i+1] = element_i(outs[i])`; backward walks `i` down from
//! the last element with `dy_i = dL/d outs[i+1]`, starting at `dL/dout` of the loss.
//! Names follow PyTorch's state_dict of the same `nn.Sequential`: element `i`
//! owns `"{i}.weight"`, `"{i}.bias"` (parameters, in that order) and
//! `"{i}.running_mean"`, `"{i}.running_var"`, `"{i}.num_batches_tracked"` (buffers).
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
        let mut outs = vec![x.clone()];
        for e in &self.elements {
            let y = e.forward(outs.last().expect("starts non-empty"), mode);
            outs.push(y);
        }
        outs
    }

    /// The stack's output (pure).
    pub fn forward(&self, x: &Array, mode: RefMode) -> Array {
        self.forward_all(x, mode).pop().expect("non-empty")
    }

    /// PyTorch's `model.train(); model(x)`: the training-mode output, and every
    /// batchnorm's buffers advanced by this batch.
    pub fn forward_train(&mut self, x: &Array) -> Array {
        let mut outs = self.forward_all(x, RefMode::Train);
        self.update_buffers(&outs);
        outs.pop().expect("non-empty")
    }

    fn update_buffers(&mut self, outs: &[Array]) {
        for (e, input) in self.elements.iter_mut().zip(outs) {
            if let RefElement::BatchNorm(b) = e {
                b.update_running(input);
            }
        }
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
        self.backward_from(&outs, dout.clone(), mode)
    }

    fn backward_from(
        &self,
        outs: &[Array],
        mut dy: Array,
        mode: RefMode,
    ) -> (Array, Vec<(String, Array)>) {
        assert_eq!(
            dy.shape,
            outs.last().expect("non-empty").shape,
            "dout shape"
        );
        let mut per_element = Vec::with_capacity(self.elements.len());
        for (i, e) in self.elements.iter().enumerate().rev() {
            let (dx, grads) = e.backward(&outs[i], &outs[i + 1], &dy, mode);
            let named: Vec<(String, Array)> = e
                .parameters()
                .iter()
                .zip(grads)
                .map(|((name, _), g)| (format!("{i}.{name}"), g))
                .collect();
            per_element.push(named);
            dy = dx;
        }
        per_element.reverse();
        (dy, per_element.into_iter().flatten().collect())
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
        self.backward_from(&outs, dout, mode).1
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
        let (_, grads) = self.backward_from(&outs, loss.backward(out, target), mode);
        if mode == RefMode::Train {
            self.update_buffers(&outs);
        }
        for ((_, p), (_, g)) in self.parameters_mut().into_iter().zip(grads) {
            *p = p.zip(&g, |p, d| p - lr * d);
        }
        value
    }

    /// The learned parameters, named and ordered like PyTorch's `named_parameters()`.
    pub fn parameters(&self) -> Vec<(String, Array)> {
        self.elements
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                e.parameters()
                    .into_iter()
                    .map(move |(n, a)| (format!("{i}.{n}"), a.clone()))
            })
            .collect()
    }

    /// The learned parameters, mutable, in [`RefStack::parameters`] order.
    pub fn parameters_mut(&mut self) -> Vec<(String, &mut Array)> {
        let mut out = Vec::new();
        for (i, e) in self.elements.iter_mut().enumerate() {
            let names: Vec<&str> = e.parameters().into_iter().map(|(n, _)| n).collect();
            for (n, a) in names.into_iter().zip(e.parameters_mut()) {
                out.push((format!("{i}.{n}"), a));
            }
        }
        out
    }

    /// The buffers (batchnorm running statistics), named like PyTorch's state_dict.
    pub fn buffers(&self) -> Vec<(String, Array)> {
        self.elements
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                e.buffers()
                    .into_iter()
                    .map(move |(n, a)| (format!("{i}.{n}"), a))
            })
            .collect()
    }

    /// Parameters and buffers in PyTorch's `state_dict()` order: per element,
    /// its parameters then its buffers.
    pub fn state_dict(&self) -> Vec<(String, Array)> {
        let mut out = Vec::new();
        for (i, e) in self.elements.iter().enumerate() {
            for (n, a) in e.parameters() {
                out.push((format!("{i}.{n}"), a.clone()));
            }
            for (n, a) in e.buffers() {
                out.push((format!("{i}.{n}"), a));
            }
        }
        out
    }
}
