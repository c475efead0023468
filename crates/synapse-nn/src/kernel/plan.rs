//! The fusion plan: which neighbouring elements run as one CPU kernel,
//! decided once when a stack is built (and shown by `summary`), never again
//! in each forward. The one place that pairs elements:
//!
//! | stage | elements | kernel |
//! | --- | --- | --- |
//! | `Dense` | `linear`, then an activation the kernel applies (sigmoid, tanh, relu, identity, gelu; `DenseAct::of`) | `elements/linear/kernel.rs` |
//! | `Conv` | `conv2d`, then such an activation, then a `maxpool2d`/`avgpool2d` (each optional) | `elements/conv2d/kernel.rs` |
//! | `One` | any other element alone (its own kernel, if it has one) | |
//!
//! A stage runs its kernel when `kernel::use_kernel` says so (CPU, f32 or
//! f64, kernels on), else the same elements as plain ops one after the other.
//!
//! ```
//! use synapse_nn::ArchSpec;
//! let spec: ArchSpec = "conv2d(1,2,3), relu, maxpool2d(2), flatten, linear(8,4), tanh, linear(4,2), softmax".parse()?;
//! assert_eq!(spec.fused(), [0..3, 4..6]);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::ops::Range;

use candle_core::Tensor;

use crate::kernel::act::{DenseAct, KernelAct};
use crate::{ElementSpec, Layer, Mode, Result};

/// One step of a stack's forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Element `i` alone.
    One(usize),
    /// A linear layer and the activation after it.
    Dense { linear: usize, act: Option<usize> },
    /// A convolution, the activation and the pool after it.
    Conv {
        conv: usize,
        act: Option<usize>,
        pool: Option<usize>,
    },
}

impl Stage {
    /// The elements the stage covers.
    pub(crate) fn span(&self) -> Range<usize> {
        match *self {
            Stage::One(i) => i..i + 1,
            Stage::Dense { linear, act } => linear..act.unwrap_or(linear) + 1,
            Stage::Conv { conv, act, pool } => conv..pool.or(act).unwrap_or(conv) + 1,
        }
    }
}

/// Whether element `i` is an activation the conv2d kernel applies.
fn kernel_act(elements: &[ElementSpec], i: usize) -> Option<usize> {
    match elements.get(i) {
        Some(ElementSpec::Activation(a)) if KernelAct::of(a).is_some() => Some(i),
        _ => None,
    }
}

/// Whether element `i` is an activation the dense kernel applies.
fn dense_act(elements: &[ElementSpec], i: usize) -> Option<usize> {
    match elements.get(i) {
        Some(ElementSpec::Activation(a)) if DenseAct::of(a).is_some() => Some(i),
        _ => None,
    }
}

/// The stages of `elements`, in order, covering each element once.
pub(crate) fn plan(elements: &[ElementSpec]) -> Vec<Stage> {
    let mut stages = Vec::with_capacity(elements.len());
    let mut i = 0;
    while i < elements.len() {
        let stage = match &elements[i] {
            ElementSpec::Linear(_) => Stage::Dense {
                linear: i,
                act: dense_act(elements, i + 1),
            },
            ElementSpec::Conv2d(_) => {
                let act = kernel_act(elements, i + 1);
                let next = act.map_or(i + 1, |a| a + 1);
                let pool =
                    matches!(elements.get(next), Some(ElementSpec::Pool2d(_))).then_some(next);
                Stage::Conv { conv: i, act, pool }
            }
            _ => Stage::One(i),
        };
        i = stage.span().end;
        stages.push(stage);
    }
    stages
}

/// Runs one stage of `layers` (built from the elements it was planned on).
pub(crate) fn run(
    stage: Stage,
    layers: &[Layer],
    x: &Tensor,
    mode: &mut Mode<'_>,
) -> Result<Tensor> {
    let act = |i: Option<usize>| match i.map(|i| &layers[i]) {
        Some(Layer::Activation(a)) => Some(*a),
        _ => None,
    };
    match (stage, &layers[stage.span().start]) {
        (Stage::Dense { act: a, .. }, Layer::Linear(l)) => l.forward_then(x, act(a).as_ref()),
        (Stage::Conv { act: a, pool, .. }, Layer::Conv2d(c)) => {
            let pool = match pool.map(|p| &layers[p]) {
                Some(Layer::Pool2d(p)) => Some(p),
                _ => None,
            };
            c.forward_fused(x, act(a).as_ref().and_then(KernelAct::of), pool)
        }
        (_, layer) => layer.forward(x, mode),
    }
}
