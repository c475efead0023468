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
pub mod optim;
mod rng;
mod sequential;
mod spec;

pub use elements::{Activation, Linear, DEFAULT_LEAKY_SLOPE};
pub use error::{Error, Result};
pub use gradcheck::{gradcheck, GradCheckReport};
pub use init::Init;
#[doc(hidden)]
pub use kernel::kernel_calls;
pub use kernel::with_fused_ops;
pub use loss::{class_index, class_indices, Loss};
pub use optim::{Adam, AdamConfig, Optimizer, OptimizerState, Sgd, SgdConfig};
pub use rng::Mt19937;
pub use sequential::{Layer, Sequential, MAX_PARAMETERS};
pub use spec::{ArchSpec, ElementSpec, LinearShape};
