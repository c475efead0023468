//! Fused CPU kernels as candle custom ops, each carrying its own backward.
//!
//! candle's graph costs an allocation and some bookkeeping per op, and its
//! matmul fans out to every core even for a 4x3 matrix. For the small and
//! medium stacks synapse trains, that overhead dominates. These ops do a
//! whole dense layer (matmul, bias, activation) or a whole loss in one pass,
//! with size-aware threading, on the CPU in f32 and f64. Other devices and
//! dtypes take the plain tensor path; both are checked against finite
//! differences and the hand-coded reference by the same tests.

mod dense;
mod gemm;
mod loss;
mod storage;
mod update;

pub(crate) use dense::{dense, FusedAct};
pub(crate) use loss::fused_loss;
pub(crate) use storage::is_fusable;
pub use storage::with_fused_ops;
pub(crate) use update::{update, Update};
