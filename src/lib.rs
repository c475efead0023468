//! synapse: a small, fast, honest neural-network framework on candle.
//!
//! This facade re-exports the library crates:
//! - [`nn`]: layers, `Sequential`, activations, losses, optimizers, initialisers;
//! - [`train`]: datasets, batching, the `Trainer`, model files;
//! - [`reference`]: the hand-coded network in plain `f64`, the independent check.
//!
//! ```
//! use synapse::prelude::*;
//! let spec: ArchSpec = "linear(2,8), tanh, linear(8,1), sigmoid".parse()?;
//! let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu)?;
//! let y = net.forward(&Tensor::zeros((4, 2), DType::F32, &Device::Cpu)?, Mode::Eval)?;
//! assert_eq!(y.dims(), [4, 1]);
//! # Ok::<(), synapse::nn::Error>(())
//! ```

pub use synapse_nn as nn;
pub use synapse_reference as reference;
pub use synapse_train as train;

/// The types most programs need, and candle's `Tensor`, `Device`, `DType`.
pub mod prelude {
    pub use candle_core::{DType, Device, Tensor, Var};
    pub use synapse_nn::{
        Activation, Adam, AdamConfig, ArchSpec, Init, Linear, Loss, Mode, Mt19937, Optimizer,
        Sequential, Sgd, SgdConfig,
    };
}

/// The README's Rust code, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
