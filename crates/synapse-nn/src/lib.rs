//! synapse-nn: layers, the `Sequential` stack, activations, losses,
//! optimizers and initialisers on candle's autodiff tensors.
//!
//! No file IO and no command line here (see `synapse-train` and `synapse-cli`).
//! Shapes follow PyTorch: batches come first, `[batch, features]` rows or
//! `[batch, T, F]` sequences; a linear weight is `[out, in]`. Every element
//! kind lives in one module under `elements/` (see its registry).

mod backward;
mod decode;
mod elements;
mod error;
pub mod export;
mod gradcheck;
pub mod init;
mod kernel;
mod loss;
mod mode;
pub mod optim;
mod rng;
mod sequential;
mod spec;
mod stack;

#[cfg(test)]
mod testing;

pub use backward::backward;
pub use decode::{Decoder, StepState};
pub use elements::activation::{Activation, DEFAULT_LEAKY_SLOPE};
pub use elements::attention::{Attention, AttentionSpec};
pub use elements::batchnorm::{
    BatchNorm, BatchNormSpec, BatchNormState, DEFAULT_BN_MOMENTUM, DEFAULT_NORM_EPS,
};
pub use elements::conv2d::{Conv2d, Conv2dSpec};
pub use elements::def::{StateEntry, StateKind, Tie};
pub use elements::dropout::Dropout;
pub use elements::embedding::{Embedding, EmbeddingSpec};
pub use elements::gru::{Gru, GruSpec};
pub use elements::layernorm::{LayerNorm, LayerNormSpec};
pub use elements::linear::{Linear, LinearSpec};
pub use elements::lstm::{Lstm, LstmSpec};
pub use elements::pool::{Pool2d, PoolKind};
pub use elements::positional::{Positional, PositionalSpec};
pub use elements::reshape::{flatten, Flatten, Reshape};
pub use elements::residual::{Residual, ResidualSpec};
pub use elements::rmsnorm::{RmsNorm, RmsNormSpec};
pub use elements::sequence::Reduce;
pub use elements::{ElementKind, ElementSpec, Layer};
pub use error::{index, numbered, Error, Result};
pub use gradcheck::{gradcheck, GradCheckReport};
pub use init::Init;
pub use kernel::awake::keep_awake;
#[doc(hidden)]
pub use kernel::gather::gather_rows;
pub use kernel::gemm::column_split_products;
pub use kernel::with_fused_ops;
pub use kernel::{kernel_calls, kernel_calls_of, kernel_paths};
pub use loss::{check_class_weights, class_index, class_indices, Loss, IGNORE_INDEX};
pub use mode::Mode;
pub use optim::{Adam, AdamConfig, Optimizer, OptimizerState, Sgd, SgdConfig};
pub use rng::Mt19937;
pub use sequential::{Eval, Sequential, MAX_PARAMETERS, MODULE_SEED};
pub use spec::{ArchSpec, LinearShape, RowShape, MAX_SPEC_DEPTH};
