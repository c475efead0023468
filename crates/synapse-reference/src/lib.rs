//! synapse-reference: the hand-coded network in plain Rust `f64`, no candle.
//!
//! It is the independent check of synapse's autodiff: the article's neuron as
//! the article writes it ([`ArticleNeuron`]), and hand-written backprop for
//! PyTorch-style stacks ([`RefStack`] on N-d [`Array`]s, NCHW for images,
//! `[batch, T, F]` for sequences): dense, activations (GELU through a port of
//! fdlibm's [`erf`]), conv2d, max/avg pooling, batchnorm, layernorm, rmsnorm, dropout
//! with an explicit mask, reshape/flatten, embedding, positional embedding,
//! LSTM, GRU and multi-head self-attention (backward through time and through
//! the softmax by hand), last/mean over time, residual blocks that nest, and
//! the losses (cross-entropy per position, with PyTorch's ignored class -100).
//! Each element's file states its forward step with its derivative beside it.
//! [`RefNetwork`] is the dense-only view on [`Matrix`]. It depends on nothing
//! of ours, and asserts on misuse: it is a test oracle, never fed user input.

mod activation;
mod array;
mod article;
mod attention;
mod avgpool;
mod batchnorm;
mod conv2d;
mod dense;
mod dropout;
mod element;
mod embedding;
mod erf;
mod gru;
mod layernorm;
mod loss;
mod lstm;
mod matrix;
mod maxpool;
mod network;
mod pool;
mod positional;
mod reshape;
mod residual;
mod rmsnorm;
mod rnn;
mod sequence;
mod stack;

pub use activation::RefActivation;
pub use array::Array;
pub use article::{sigmoid, sigmoid_derivative, ArticleNeuron};
pub use attention::RefAttention;
pub use avgpool::RefAvgPool2d;
pub use batchnorm::RefBatchNorm;
pub use conv2d::RefConv2d;
pub use dense::RefDense;
pub use dropout::RefDropout;
pub use element::{RefElement, RefMode, RefOps};
pub use embedding::RefEmbedding;
pub use erf::erf;
pub use gru::{RefGru, RefGruCell};
pub use layernorm::RefLayerNorm;
pub use loss::RefLoss;
pub use lstm::{RefLstm, RefLstmCell};
pub use matrix::Matrix;
pub use maxpool::RefMaxPool2d;
pub use network::{RefGrad, RefLayer, RefNetwork};
pub use positional::RefPositional;
pub use reshape::RefReshape;
pub use residual::RefResidual;
pub use rmsnorm::RefRmsNorm;
pub use rnn::{RecurrentCell, RefRecurrent, StepGrads};
pub use sequence::RefSeqReduce;
pub use stack::RefStack;
