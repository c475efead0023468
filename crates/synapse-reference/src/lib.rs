//! synapse-reference: the hand-coded network in plain Rust `f64`, no candle.
//!
//! It is the independent check of synapse's autodiff: the article's neuron as
//! the article writes it ([`ArticleNeuron`]) and hand-written backprop for
//! stacks of dense layers ([`RefNetwork`]), each forward step with its
//! derivative beside it. It depends on nothing of ours.

mod article;
mod dense;
mod matrix;

pub use article::{sigmoid, sigmoid_derivative, ArticleNeuron};
pub use dense::{RefActivation, RefGrad, RefLayer, RefLoss, RefNetwork};
pub use matrix::Matrix;
