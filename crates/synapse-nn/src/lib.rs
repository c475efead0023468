//! synapse-nn: layers, the `Sequential` stack, activations, losses,
//! optimizers and initialisers on candle's autodiff tensors.
//!
//! No file IO and no command line here (see `synapse-train` and `synapse-cli`).
//! Shapes follow PyTorch: batches are rows, `[batch, features]`; a linear
//! weight is `[out, in]`.

mod elements;
mod error;
mod gradcheck;
pub mod init;
mod kernel;
mod loss;
mod mode;
pub mod optim;
mod rng;
mod sequential;
mod spec;

pub use elements::{
    flatten, Activation, BatchNorm, BatchNormState, Conv2d, Dropout, Layer, LayerNorm, Linear,
    Pool2d, PoolKind, Reshape, DEFAULT_LEAKY_SLOPE,
};
pub use error::{Error, Result};
pub use gradcheck::{gradcheck, GradCheckReport};
pub use init::Init;
pub use kernel::with_fused_ops;
#[doc(hidden)]
pub use kernel::{kernel_calls, kernel_calls_of};
pub use loss::{check_class_weights, class_index, class_indices, Loss};
pub use mode::Mode;
pub use optim::{Adam, AdamConfig, Optimizer, OptimizerState, Sgd, SgdConfig};
pub use rng::Mt19937;
pub use sequential::{Sequential, MAX_PARAMETERS};
pub use spec::{
    ArchSpec, ElementKind, ElementSpec, LinearShape, RowShape, DEFAULT_BN_MOMENTUM,
    DEFAULT_NORM_EPS,
};
