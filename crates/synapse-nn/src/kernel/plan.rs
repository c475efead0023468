//! The fusion plan: which neighbouring elements run as one CPU kernel,
//! decided once when a stack is built (and shown by `summary`), never again
//! in each forward. The element that begins a stage decides what it takes
//! (`ElementDef::stage`) and runs it (`ElementOps::forward_stage`), in its
//! own module; this file walks the stack and names no kind. The stages:
//!
//! | stage | elements | kernel |
//! | --- | --- | --- |
//! | `Dense` | `linear`, then an activation the kernel applies (sigmoid, tanh, relu, identity, gelu; `DenseAct::of`) | `elements/linear/kernel.rs` |
//! | `Mlp` | two `Dense` stages in a row (a transformer's `linear, gelu, linear`): the hidden layer stays out of candle's graph | `elements/linear/pair.rs` |
//! | `Linked` | `lstm`/`gru`, then a `Dense` stage: the sequence stays out of candle's graph | `elements/linear/link.rs` |
//! | `Lookup` | `embedding`, then `lstm`/`gru` (and the `Dense` stage a `Linked` one takes): the input product is a lookup in the table's product `E W_ih^T` | `elements/recurrent/lookup.rs` |
//! | `Conv` | `conv2d`, then such an activation, then a `maxpool2d`/`avgpool2d` (each optional) | `elements/conv2d/kernel.rs` |
//! | `One` | any other element alone (its own kernel, if it has one) | |
//!
//! A stage runs its kernel when `kernel::use_kernel` says so (CPU, f32 or
//! f64, kernels on), else the same elements as plain ops one after the other.
//!
//! ```
//! use synapse_nn::ArchSpec;
//! let spec: ArchSpec = "conv2d(1,2,3), relu, maxpool2d(2), flatten, linear(8,4), tanh, linear(4,2), softmax".parse()?;
//! assert_eq!(spec.fused(), [0..3, 4..7]);
//! let spec: ArchSpec = "linear(8,4), relu, linear(4,4), relu, linear(4,2)".parse()?;
//! assert_eq!(spec.fused(), [0..4]);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::ops::Range;

use candle_core::Tensor;

use crate::kernel::act::DenseAct;
use crate::{ElementSpec, Layer, Mode, Result};

/// One step of a stack's forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Element `i` alone.
    One(usize),
    /// A linear layer and the activation after it.
    Dense { linear: usize, act: Option<usize> },
    /// Two linear layers in a row, each with the activation after it.
    Mlp {
        linear: usize,
        act: Option<usize>,
        second: usize,
        act2: Option<usize>,
    },
    /// An element whose kernel feeds the linear layer after it (and that
    /// layer's activation), the two ops linked.
    Linked {
        element: usize,
        linear: usize,
        act: Option<usize>,
    },
    /// An embedding whose rows feed a recurrent layer: the layer's input
    /// product becomes a lookup of the ids in `E W_ih^T` (when the
    /// vocabulary is small against the batch's positions, else the
    /// elements apart), then the dense stage it links, if any.
    Lookup {
        embedding: usize,
        element: usize,
        linear: Option<usize>,
        act: Option<usize>,
    },
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
            Stage::Mlp {
                linear,
                second,
                act2,
                ..
            } => linear..act2.unwrap_or(second) + 1,
            Stage::Linked {
                element,
                linear,
                act,
            } => element..act.unwrap_or(linear) + 1,
            Stage::Lookup {
                embedding,
                element,
                linear,
                act,
            } => embedding..act.or(linear).unwrap_or(element) + 1,
            Stage::Conv { conv, act, pool } => conv..pool.or(act).unwrap_or(conv) + 1,
        }
    }
}

/// Element `i`, when it is an activation the conv2d kernel applies after
/// its product (one whose derivative comes from its output).
pub(crate) fn kernel_act(elements: &[ElementSpec], i: usize) -> Option<usize> {
    matches!(elements.get(i)?.kernel_act(), Some(DenseAct::Out(_))).then_some(i)
}

/// Element `i`, when it is an activation the dense kernel applies after its
/// product (those of [`kernel_act`] and GELU).
pub(crate) fn dense_act(elements: &[ElementSpec], i: usize) -> Option<usize> {
    elements.get(i)?.kernel_act().map(|_| i)
}

/// The stages of `elements`, in order, covering each element once: each
/// element not yet covered begins the stage its module says
/// (`ElementDef::stage`; alone unless its kernel takes what follows).
pub(crate) fn plan(elements: &[ElementSpec]) -> Vec<Stage> {
    let mut stages = Vec::with_capacity(elements.len());
    let mut i = 0;
    while i < elements.len() {
        let stage = elements[i].stage(elements, i);
        debug_assert!(stage.span().start == i && stage.span().end > i);
        i = stage.span().end;
        stages.push(stage);
    }
    stages
}

/// Runs one stage of `layers` (built from the elements it was planned on):
/// the element that begins it runs it (`ElementOps::forward_stage`).
pub(crate) fn run(
    stage: Stage,
    layers: &[Layer],
    x: &Tensor,
    mode: &mut Mode<'_>,
) -> Result<Tensor> {
    layers[stage.span().start].forward_stage(stage, layers, x, mode)
}

/// Runs a residual block's last stage with the block's input `r`: `(r +
/// y, true)` when the add runs in the stage's last kernel, else `(y,
/// false)` (`ElementOps::forward_stage_joined`).
pub(crate) fn run_joined(
    stage: Stage,
    layers: &[Layer],
    x: &Tensor,
    r: &Tensor,
    mode: &mut Mode<'_>,
) -> Result<(Tensor, bool)> {
    layers[stage.span().start].forward_stage_joined(stage, layers, x, r, mode)
}
