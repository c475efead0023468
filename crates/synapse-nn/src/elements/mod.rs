//! The element kinds of a stack, one file (or folder) each.

mod activation;
mod linear;

pub use activation::{Activation, DEFAULT_LEAKY_SLOPE};
pub use linear::Linear;
