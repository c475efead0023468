//! synapse-nn: layers, the `Sequential` stack, activations, losses,
//! optimizers and initialisers on candle's autodiff tensors.
//!
//! No file IO and no command line here (see `synapse-train` and `synapse-cli`).
//! Shapes follow PyTorch: batches are rows, `[batch, features]`; a linear
//! weight is `[out, in]`.

mod activation;
mod error;
mod fused;
mod gradcheck;
pub mod init;
mod linear;
mod loss;
pub mod optim;
mod rng;
mod sequential;
mod spec;

pub use activation::{Activation, DEFAULT_LEAKY_SLOPE};
pub use error::{Error, Result};
pub use fused::with_fused_ops;
pub use gradcheck::{gradcheck, GradCheckReport};
pub use init::Init;
pub use linear::Linear;
pub use loss::Loss;
pub use optim::{Adam, AdamConfig, Optimizer, OptimizerState, Sgd, SgdConfig};
pub use rng::Mt19937;
pub use sequential::{Layer, Sequential, MAX_PARAMETERS};
pub use spec::{ArchSpec, ElementSpec, LinearShape};
