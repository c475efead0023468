//! A residual block, `Residual(E1, ..., Ek)`: PyTorch's
//! `class Residual(nn.Sequential): forward(x) = x + super().forward(x)`.
//!
//! The inner elements run as a [`RefStack`](crate::RefStack) does (the same
//! crate walk over a slice), and their output shape must equal `x`'s.
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | residual | `y = x + inner(x)` | `dx = dy + inner'(x)^T dy` (inner's backward from `dy`); inner's parameter gradients from the same `dy` |
//!
//! Names nest as in PyTorch's state_dict: inner element `j` owns `"{j}.weight"`
//! and so on, so inside a stack at index `i` it is `"{i}.{j}.weight"`, and a block
//! inside a block gives `"{i}.{j}.{k}.weight"`. Per inner element, its parameters
//! then its buffers; a training forward advances inner batchnorms' buffers
//! ([`RefResidual::update_buffers`]).
//!
//! ```
//! use synapse_reference::{Array, RefDense, RefElement, RefMode, RefResidual};
//! let block = RefResidual::new(vec![RefElement::Dense(RefDense::new(
//!     Array::new(vec![2, 2], vec![0.0, 1.0, 2.0, 0.0]),
//!     None,
//! ))]);
//! let x = Array::new(vec![1, 2], vec![3.0, 4.0]);
//! // y = x + x W^T = [3, 4] + [4, 6]
//! assert_eq!(block.forward(&x, RefMode::Eval).data, vec![7.0, 10.0]);
//! let (dx, grads) = block.backward(&x, &Array::new(vec![1, 2], vec![1.0, 0.0]), RefMode::Eval);
//! // dx = dy + dy W = [1, 0] + [0, 1]; dW = dy^T x
//! assert_eq!(dx.data, vec![1.0, 1.0]);
//! assert_eq!(grads[0].data, vec![3.0, 4.0, 0.0, 0.0]);
//! assert_eq!(block.parameters()[0].0, "0.weight");
//! ```

use crate::element::RefOps;
use crate::stack::{backward_from, forward_all, parameters_mut, prefixed, update_buffers};
use crate::{Array, RefElement, RefMode};

/// `x + nn.Sequential(elements)(x)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefResidual {
    /// The inner elements, in order; element `j` owns the names `"{j}.*"`.
    pub elements: Vec<RefElement>,
}

impl RefResidual {
    /// A block around `elements`.
    pub fn new(elements: Vec<RefElement>) -> Self {
        Self { elements }
    }

    /// The inner outputs, `outs[0] = x`, checked to end in `x`'s shape.
    fn inner(&self, x: &Array, mode: RefMode) -> Vec<Array> {
        let outs = forward_all(&self.elements, x, mode);
        let last = outs.last().expect("non-empty");
        assert_eq!(last.shape, x.shape, "residual: inner output shape");
        outs
    }

    /// `y = x + inner(x)`, the shape of `x`.
    pub fn forward(&self, x: &Array, mode: RefMode) -> Array {
        let outs = self.inner(x, mode);
        x.zip(outs.last().expect("non-empty"), |a, b| a + b)
    }

    /// `(dx, grads)` given `dy = dL/dy`; `grads` in [`RefResidual::parameters`] order.
    pub fn backward(&self, x: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>) {
        let outs = self.inner(x, mode);
        // the inner path: its backward from dy
        let (dx_inner, grads) = backward_from(&self.elements, &outs, dy.clone(), mode);
        // the skip path: d(x)/dx = 1, so dx = dy + inner's dx
        let dx = dy.zip(&dx_inner, |a, b| a + b);
        (dx, grads.into_iter().map(|(_, g)| g).collect())
    }

    /// The inner parameters, named `"{j}.{name}"`.
    pub fn parameters(&self) -> Vec<(String, &Array)> {
        prefixed(&self.elements, RefElement::parameters)
    }

    /// The inner parameters, mutable, in [`RefResidual::parameters`] order.
    pub fn parameters_mut(&mut self) -> Vec<&mut Array> {
        parameters_mut(&mut self.elements)
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    }

    /// The inner buffers, named `"{j}.{name}"`.
    pub fn buffers(&self) -> Vec<(String, Array)> {
        prefixed(&self.elements, RefElement::buffers)
    }

    /// The inner parameters and buffers, per inner element its parameters then its buffers.
    pub fn state_dict(&self) -> Vec<(String, Array)> {
        prefixed(&self.elements, RefElement::state_dict)
    }

    /// The buffer updates of one training forward on `x`: each inner element's
    /// from the input it sees.
    pub fn update_buffers(&mut self, x: &Array) {
        let outs = self.inner(x, RefMode::Train);
        update_buffers(&mut self.elements, &outs);
    }
}

impl RefOps for RefResidual {
    fn forward(&self, x: &Array, mode: RefMode) -> Array {
        RefResidual::forward(self, x, mode)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>) {
        RefResidual::backward(self, x, dy, mode)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        RefResidual::parameters(self)
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        RefResidual::parameters_mut(self)
    }

    fn buffers(&self) -> Vec<(String, Array)> {
        RefResidual::buffers(self)
    }

    fn state_dict(&self) -> Vec<(String, Array)> {
        RefResidual::state_dict(self)
    }

    fn update_buffers(&mut self, x: &Array) {
        RefResidual::update_buffers(self, x)
    }
}
