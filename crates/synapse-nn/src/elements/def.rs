//! What every element kind provides: two traits, implemented in the kind's
//! own module (`elements/<kind>.rs`), and nothing about a kind anywhere else.
//!
//! - [`ElementDef`], on the kind's spec type (sizes and options, no tensors):
//!   its grammar and canonical form (`parse`, `Display`), its shape rule, its
//!   state (parameter and buffer names and shapes, in PyTorch's state_dict
//!   order), its initial draws, and how it is built from tensors.
//! - [`ElementOps`], on the built layer (holding candle `Var`s): its forward
//!   in both modes (plain candle ops, and its CPU kernel where it has one),
//!   its state as variables, its spec, and a neutral export description
//!   ([`crate::export`]) that `synapse-train`'s ONNX writer serialises.
//!
//! The parser, `summary`, the initialisers, `Sequential::build` and the ONNX
//! writer are dispatchers over these (`elements/mod.rs` holds the registry:
//! one line per kind). A new kind is one module implementing both traits,
//! one registry line and its reference file; the compiler lists the rest.
//!
//! Names are relative to the element: `weight`, `bias`, `running_mean`, or
//! for a block `0.weight` (its inner element 0); the stack puts `"{i}."` in
//! front.

use std::fmt;

use candle_core::{Tensor, Var};

use crate::export::{Export, Scope};
use crate::init::Draws;
pub use crate::init::Emit;
use crate::kernel::act::DenseAct;
use crate::kernel::plan::Stage;
use crate::spec::{Args, RowShape};
use crate::{ElementKind, ElementSpec, Init, Layer, Mode, Result, StepState};

/// What a state entry is: learned (optimizers see it), or a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// Learned: given to optimizers, drawn by the initialisers.
    Parameter,
    /// Not learned, in the model's float type (a running statistic).
    Buffer,
    /// Not learned, an I64 count (`num_batches_tracked`).
    Count,
}

/// One entry of an element's state: its name (relative to the element), shape and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    /// `weight`, `bias`, `running_var`, `0.weight`, ...
    pub name: String,
    /// Its shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Parameter, buffer or count.
    pub kind: StateKind,
}

impl StateEntry {
    /// A learned parameter.
    pub fn parameter(name: &str, shape: Vec<usize>) -> Self {
        Self {
            name: name.to_string(),
            shape,
            kind: StateKind::Parameter,
        }
    }

    /// A float buffer.
    pub fn buffer(name: &str, shape: Vec<usize>) -> Self {
        Self {
            name: name.to_string(),
            shape,
            kind: StateKind::Buffer,
        }
    }

    /// This entry under a block: `{prefix}.{name}`.
    pub fn under(mut self, prefix: usize) -> Self {
        self.name = format!("{prefix}.{}", self.name);
        self
    }

    /// The number of values (1 for a scalar), or `None` when it overflows.
    pub fn numel(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b))
    }
}

/// A parameter an element uses without owning it (`linear(...,tied=I)`):
/// element `element`'s parameter `name`, of shape `shape`, which the user
/// takes under its own `name` when built. The tie is between elements of
/// one stack, at its top level, and the owner comes first
/// ([`crate::ArchSpec::new`] checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tie {
    /// The owner's position in the stack.
    pub element: usize,
    /// The parameter's name, the same in both elements (`weight`).
    pub name: &'static str,
    /// Its shape, as the user needs it.
    pub shape: Vec<usize>,
}

/// Where an element's tensors come from when it is built: `take(name, shape)`
/// gives the variable of that (element-relative) name, checked to have that
/// shape, the stack's dtype and device.
pub type Take<'a> = dyn FnMut(&str, &[usize]) -> Result<Var> + 'a;

/// The rules of one element kind, on its spec type (see the module doc).
/// `Display` writes its canonical form (options at their default left out).
pub trait ElementDef: fmt::Display {
    /// Which kind this is (one spec name).
    fn kind(&self) -> ElementKind;

    /// The spec names this type parses (`["linear"]`; `["maxpool2d",
    /// "avgpool2d"]`), and from `name` with its arguments, the element or
    /// why not. `Display` writes the canonical form back.
    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String>
    where
        Self: Sized;

    /// The elements inside a block (`residual`), in order; none for the rest.
    fn inner(&self) -> &[ElementSpec] {
        &[]
    }

    /// For an element that normalises with statistics over the batch in
    /// training (the batchnorms): the values one input row gives each
    /// feature (1, or `H*W` for images), given that row's shape. A batch
    /// must give each feature at least 2 (`synapse-train`'s checks).
    fn batch_statistics(&self, _input: &RowShape) -> Option<usize> {
        None
    }

    /// `Some(V)` when the element takes integer ids `0..V` rather than
    /// numbers (`embedding`). Ids come only from the data, so such an
    /// element is only ever the stack's first, never inside a block.
    fn ids(&self) -> Option<usize> {
        None
    }

    /// Whether the element takes integer ids (see [`ElementDef::ids`]).
    fn takes_ids(&self) -> bool {
        self.ids().is_some()
    }

    /// The size of the last dimension it takes, for an element that acts on
    /// the last dimension of an input of any rank (`linear`, `layernorm`):
    /// a stack starting with one takes flat rows, or sequences when what
    /// follows needs them.
    fn last_dim(&self) -> Option<usize> {
        // mutants: `Some(1)` is equivalent: the retry as sequences `[?, 1]`
        // (`spec::first_fit`) of a stack whose first sized element is not
        // one of these fails at that element (batchnorm, pools, embedding,
        // attention or recurrent kinds of another width), or gives it the
        // input it already had (width 1) or the output it always gives
        // (reshape, flatten), so it never fails later than, nor instead of,
        // the flat rows (`only_a_last_dimension_element_first_is_retried_as_a_sequence`).
        None
    }

    /// Values a forward keeps per row beside its output row, from its input
    /// and output rows (`conv2d`'s unfolded windows, `IN*K*K*OH*OW`), or
    /// `None` when the count overflows; for the memory estimate of
    /// `ArchSpec::activation_values`.
    fn kept_values(&self, _input: &[usize], _output: &[usize]) -> Option<usize> {
        Some(0)
    }

    /// Whether its forward checks its own input and leaves nothing changed
    /// when it fails (`linear`, the activations): a stack of only such
    /// elements skips the whole-input check before a forward.
    fn checks_own_input(&self) -> bool {
        false
    }

    /// The stage of the stack's fusion plan that begins with this element
    /// at position `i` of `elements` (`kernel/plan.rs`): itself alone,
    /// unless its kernel takes the elements after it (`linear`, `conv2d`).
    fn stage(&self, _elements: &[ElementSpec], i: usize) -> Stage {
        Stage::One(i)
    }

    /// The form in which a kernel applies this element after its product,
    /// for an activation that a kernel can fuse (`kernel/act.rs`).
    fn kernel_act(&self) -> Option<DenseAct> {
        None
    }

    /// The input row this element fixes when it comes first (after
    /// elements that take any shape), or `None` when it takes any shape.
    fn input_requirement(&self) -> Option<RowShape>;

    /// The output row for an input row (the batch dimension left out), or
    /// why the input does not fit (the caller adds the element's name).
    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String>;

    /// The parameter it uses from an element before it, which its own
    /// [`ElementDef::state`] leaves out (see [`Tie`]).
    fn tied(&self) -> Option<Tie> {
        None
    }

    /// Parameters and buffers in PyTorch's state_dict order, names relative
    /// to the element.
    fn state(&self) -> Vec<StateEntry> {
        Vec::new()
    }

    /// Draws every parameter (not the buffers), in [`ElementDef::state`]
    /// order, from the one generator of the stack (SPEC sections 3 and 10).
    fn draw(&self, _init: Init, _draws: &mut Draws, _emit: &mut Emit<'_>) {}

    /// The layer, from tensors named as in [`ElementDef::state`].
    fn build(&self, take: &mut Take<'_>) -> Result<Layer>;
}

/// What a built element does (see the module doc).
pub trait ElementOps {
    /// Applies the element in the given mode (only dropout and the
    /// batchnorms differ). Each kind documents its shapes.
    fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor>;

    /// Parameters and buffers as variables, in [`ElementDef::state`] order
    /// with the same names.
    fn state(&self) -> Vec<(String, &Var)> {
        Vec::new()
    }

    /// The variable it shares with an element before it (see [`Tie`]):
    /// that element's position and the variable, which
    /// [`ElementOps::state`] leaves out.
    fn tied_var(&self) -> Option<(usize, &Var)> {
        None
    }

    /// Runs `stage` of the fusion plan, which begins with this element;
    /// `layers` are those the plan was made on (see [`ElementDef::stage`]).
    /// By default the stage is the element alone.
    fn forward_stage(
        &self,
        _stage: Stage,
        _layers: &[Layer],
        x: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        self.forward(x, mode)
    }

    /// Runs `stage` (which begins with this element and ends a residual
    /// block's branch) with the block's input `r`: `(r + y, true)` when
    /// the add runs inside the stage's last kernel (`linear/link.rs`'s
    /// residual join), else `(y, false)` for the caller to add `r`. By
    /// default the stage as [`ElementOps::forward_stage`] runs it.
    fn forward_stage_joined(
        &self,
        stage: Stage,
        layers: &[Layer],
        x: &Tensor,
        _r: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, bool)> {
        Ok((self.forward_stage(stage, layers, x, mode)?, false))
    }

    /// Whether the element maps each position on its own (`linear`, the
    /// activations, the norms over the last dimension, `dropout` in
    /// evaluation, `embedding`): then its [`ElementOps::step`] is its
    /// evaluation forward over the new positions.
    fn maps_positions(&self) -> bool {
        false
    }

    /// Incremental decoding ([`crate::Decoder`]): the output at the new
    /// positions `x` (`[1, n, ...]`, evaluation mode), given what `state`
    /// kept from the positions before them (updated here). `None` when the
    /// kind cannot step (the default for a kind that does not map
    /// positions): the decoder then falls back to the full window.
    fn step(&self, x: &Tensor, _state: &mut StepState) -> Result<Option<Tensor>> {
        if self.maps_positions() {
            Ok(Some(self.forward(x, &mut Mode::Eval)?))
        } else {
            Ok(None)
        }
    }

    /// The layer for generation with its large matrices in bfloat16
    /// ([`crate::Sequential::with_bf16_weights`]): each variable it keeps in
    /// bfloat16 passed through `convert` (which gives a shared variable the
    /// same new one, so a tie stays a tie); `None` (the default) keeps the
    /// layer as it is. Only matrices the dense kernel multiplies, or that an
    /// embedding gathers rows of, may go.
    fn with_bf16_weights(&self, _convert: &mut Convert<'_>) -> Result<Option<Layer>> {
        Ok(None)
    }

    /// The element as written in a spec.
    fn spec(&self) -> ElementSpec;

    /// The ONNX nodes of the element in evaluation mode, reading
    /// `scope.input` and writing `scope.output`; initializers named by the
    /// element's state names under `scope.name` (SPEC sections 7 and 10).
    fn export(&self, scope: &Scope) -> Result<Export>;
}

/// What [`ElementOps::with_bf16_weights`] passes each variable it keeps in
/// bfloat16 through.
pub type Convert<'a> = dyn FnMut(&Var) -> Result<Var> + 'a;

/// `[("weight", w), ("bias", b)]`, the bias where there is one: the state
/// of the kinds with a weight and an optional bias (`linear`, `conv2d`).
pub(crate) fn weight_and_bias<'a>(
    weight: &'a Var,
    bias: Option<&'a Var>,
) -> Vec<(String, &'a Var)> {
    std::iter::once(("weight", weight))
        .chain(bias.map(|b| ("bias", b)))
        .map(|(n, v)| (n.to_string(), v))
        .collect()
}
