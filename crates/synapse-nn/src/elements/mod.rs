//! The element kinds of a stack: one module per kind, owning everything about
//! it (see [`def`]: grammar, canonical form, shape rule, state names, initial
//! draws, build, forward in plain candle ops and its CPU kernel where it has
//! one, ONNX export). The hand-coded reference of each is in
//! `crates/synapse-reference` (same file name).
//!
//! | spec | module | kernel |
//! | --- | --- | --- |
//! | `linear` | `linear/` | `linear/kernel.rs` (with the activation after it, gelu included) |
//! | `sigmoid`, `tanh`, `relu`, `leaky_relu`, `softmax`, `identity`, `gelu`, `gelu(tanh)` | `activation.rs` | `kernel/act.rs`, applied by the linear and conv2d kernels (gelu and gelu(tanh): linear only) |
//! | `dropout` | `dropout.rs` | none |
//! | `batchnorm`, `batchnorm2d` | `batchnorm.rs` | none |
//! | `layernorm` | `layernorm/` | `layernorm/kernel.rs` |
//! | `rmsnorm` | `rmsnorm/` | `rmsnorm/kernel.rs` |
//! | `reshape`, `flatten` | `reshape.rs` | none |
//! | `conv2d` | `conv2d/` | `conv2d/kernel.rs` (with the activation and the pool after it) |
//! | `maxpool2d`, `avgpool2d` | `pool/` | `pool/kernel.rs` |
//! | `embedding` | `embedding.rs` | none |
//! | `positional` | `positional/` | `positional/kernel.rs` |
//! | `lstm` | `lstm/` (the cell) in `recurrent/` (the element) | `lstm/kernel.rs` (the cell) in `recurrent/kernel.rs` (the sequence, forward and backward through time) |
//! | `gru` | `gru/` (the cell) in `recurrent/` (the element) | `gru/kernel.rs` (the cell) in `recurrent/kernel.rs` |
//! | `attention` | `attention/` (ONNX nodes in `export.rs`) | `attention/kernel.rs` (between two dense kernels) |
//! | `last`, `seqmean` | `sequence.rs` | none |
//! | `residual` | `residual.rs` | its inner elements' |
//!
//! Which neighbours run as one kernel is planned once, when a stack is
//! built (`kernel/plan.rs`); whether a kernel or plain ops run is decided by
//! `kernel::use_kernel` alone.
//!
//! **The registry** below is the one list of kinds (after the modules'
//! `mod` lines, which it names): it makes a variant of [`ElementSpec`] (the spec type) and of
//! [`Layer`] (the built layer), the [`ElementKind`]s it parses with their
//! usage, and candle-nn's `Module`/`ModuleT` for each layer. Every
//! operation dispatches through it; the table above is checked against
//! [`ElementKind::ALL`] by a test.

pub(crate) mod def;
mod recurrent;

// One module per kind (rustfmt sorts them). Declared here rather than
// inside `registry!`, so that tools which follow `mod` items (cargo-mutants
// among them) see them; the registry names each (`linear::LinearSpec`), so
// a kind missing here does not compile.
pub(crate) mod activation;
pub(crate) mod attention;
pub(crate) mod batchnorm;
pub(crate) mod conv2d;
pub(crate) mod dropout;
pub(crate) mod embedding;
pub(crate) mod gru;
pub(crate) mod layernorm;
pub(crate) mod linear;
pub(crate) mod lstm;
pub(crate) mod pool;
pub(crate) mod positional;
pub(crate) mod reshape;
pub(crate) mod residual;
pub(crate) mod rmsnorm;
pub(crate) mod sequence;

use std::fmt;

use candle_core::{Tensor, Var};

use crate::export::{Export, Scope};
use crate::spec::{Args, RowShape};
use crate::{Mode, Result};
use def::{ElementDef, ElementOps, StateEntry};

/// The registry, grouped by module:
///
/// ```text
/// module {
///     Variant(spec type) => layer type, modes: [Kind = "name" "(usage)", ...];
/// }
/// ```
///
/// It makes [`ElementSpec`], [`Layer`],
/// [`ElementKind`] (with [`ElementKind::ALL`] and each kind's name and usage,
/// the list of the error for an unknown name), the dispatch to the trait
/// objects, `From<layer> for Layer`, and candle-nn's `Module` (`modes` is
/// `eval`: the same in both modes) or `ModuleT` (`train`: dropout, the
/// batchnorms, and blocks that may hold them) for each layer type.
macro_rules! registry {
    ($( $module:ident { $( $(#[$doc:meta])* $variant:ident($spec:ty) => $layer:ty, $modes:ident :
        [ $( $kind:ident = $name:literal $($usage:literal)? ),+ ] ; )+ } )+) => {
        /// One element of a stack, as written in a spec: a variant per module.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ElementSpec {
            $( $( $(#[$doc])* $variant($spec), )+ )+
        }

        /// One element of a built stack: a variant per module.
        #[derive(Debug, Clone)]
        pub enum Layer {
            $( $( $(#[$doc])* $variant($layer), )+ )+
        }

        /// The kinds of elements, one per spec name. [`ElementKind::ALL`]
        /// lists them all; tests walk it to cover every kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ElementKind {
            $( $( $( #[doc = concat!("`", $name, $($usage,)? "`")] $kind, )+ )+ )+
        }

        impl ElementKind {
            /// Every kind, in the order of SPEC sections 1 and 10.
            pub const ALL: &'static [ElementKind] = &[ $( $( $( ElementKind::$kind, )+ )+ )+ ];

            /// The name in a spec.
            pub fn name(self) -> &'static str {
                match self {
                    $( $( $( ElementKind::$kind => $name, )+ )+ )+
                }
            }

            /// How it is written, with its sizes named (`linear(IN,OUT)`,
            /// `sigmoid`).
            pub fn usage(self) -> &'static str {
                match self {
                    $( $( $( ElementKind::$kind => concat!($name, $($usage)?), )+ )+ )+
                }
            }
        }

        impl ElementSpec {
            /// The kind's rules (the trait object of its module).
            fn def(&self) -> &dyn ElementDef {
                match self {
                    $( $( ElementSpec::$variant(e) => e, )+ )+
                }
            }

            /// Parses an element named `name`, or `None` for an unknown name.
            fn parse_named(name: &str, args: &Args) -> Option<std::result::Result<ElementSpec, String>> {
                $( $(
                    if [$($name),+].contains(&name) {
                        return Some(<$spec as ElementDef>::parse(name, args));
                    }
                )+ )+
                None
            }
        }

        impl Layer {
            /// One incremental step over new positions (see [`def::ElementOps::step`]).
            pub fn step(&self, x: &Tensor, state: &mut crate::StepState) -> Result<Option<Tensor>> {
                self.ops().step(x, state)
            }

            /// The layer with its large matrices in bfloat16 (see
            /// [`def::ElementOps::with_bf16_weights`]); a kind without any is cloned.
            pub(crate) fn with_bf16_weights(&self, convert: &mut def::Convert<'_>) -> Result<Layer> {
                Ok(self.ops().with_bf16_weights(convert)?.unwrap_or_else(|| self.clone()))
            }

            /// The built element's operations (the trait object of its module).
            fn ops(&self) -> &dyn ElementOps {
                match self {
                    $( $( Layer::$variant(l) => l, )+ )+
                }
            }
        }

        $( $(
            impl From<$layer> for Layer {
                fn from(l: $layer) -> Self {
                    Layer::$variant(l)
                }
            }

            candle_module!($modes $layer);
        )+ )+
    };
}

/// candle-nn's `Module` (`eval`: the same in both modes; its `ModuleT` is
/// candle's blanket one) or `ModuleT` (`train`: training mode draws dropout
/// masks from this thread's module generator, see [`crate::mode`]).
macro_rules! candle_module {
    (eval $t:ty) => {
        impl candle_nn::Module for $t {
            fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
                ElementOps::forward(self, xs, &mut Mode::Eval).map_err(candle_core::Error::wrap)
            }
        }
    };
    (train $t:ty) => {
        impl candle_nn::ModuleT for $t {
            fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
                let out = if train {
                    crate::mode::with_module_rng(|rng| {
                        ElementOps::forward(self, xs, &mut Mode::Train(rng))
                    })
                } else {
                    ElementOps::forward(self, xs, &mut Mode::Eval)
                };
                out.map_err(candle_core::Error::wrap)
            }
        }
    };
}

registry! {
    linear {
        /// `linear(IN,OUT)`.
        Linear(linear::LinearSpec) => linear::Linear, eval: [Linear = "linear" "(IN,OUT)"];
    }
    activation {
        /// An element-wise activation, or softmax over the last dimension.
        Activation(activation::Activation) => activation::Activation, eval: [
            Sigmoid = "sigmoid", Tanh = "tanh", Relu = "relu", LeakyRelu = "leaky_relu" "(SLOPE)",
            Softmax = "softmax", Identity = "identity", Gelu = "gelu"
        ];
    }
    dropout {
        /// `dropout(P)`.
        Dropout(dropout::Dropout) => dropout::Dropout, train: [Dropout = "dropout" "(P)"];
    }
    batchnorm {
        /// `batchnorm(N)`, `batchnorm2d(C)`.
        BatchNorm(batchnorm::BatchNormSpec) => batchnorm::BatchNorm, train: [
            BatchNorm = "batchnorm" "(N)", BatchNorm2d = "batchnorm2d" "(C)"
        ];
    }
    layernorm {
        /// `layernorm(N)`.
        LayerNorm(layernorm::LayerNormSpec) => layernorm::LayerNorm, eval: [LayerNorm = "layernorm" "(N)"];
    }
    rmsnorm {
        /// `rmsnorm(N)`.
        RmsNorm(rmsnorm::RmsNormSpec) => rmsnorm::RmsNorm, eval: [RmsNorm = "rmsnorm" "(N)"];
    }
    reshape {
        /// `reshape(D1,...,Dk)`.
        Reshape(reshape::Reshape) => reshape::Reshape, eval: [Reshape = "reshape" "(D1,...,Dk)"];
        /// `flatten`.
        Flatten(reshape::Flatten) => reshape::Flatten, eval: [Flatten = "flatten"];
    }
    conv2d {
        /// `conv2d(IN,OUT,K)`.
        Conv2d(conv2d::Conv2dSpec) => conv2d::Conv2d, eval: [Conv2d = "conv2d" "(IN,OUT,K)"];
    }
    pool {
        /// `maxpool2d(K)`, `avgpool2d(K)`.
        Pool2d(pool::Pool2d) => pool::Pool2d, eval: [
            MaxPool2d = "maxpool2d" "(K)", AvgPool2d = "avgpool2d" "(K)"
        ];
    }
    embedding {
        /// `embedding(V,D)`.
        Embedding(embedding::EmbeddingSpec) => embedding::Embedding, eval: [Embedding = "embedding" "(V,D)"];
    }
    positional {
        /// `positional(T,D)`.
        Positional(positional::PositionalSpec) => positional::Positional, eval: [
            Positional = "positional" "(T,D)"
        ];
    }
    lstm {
        /// `lstm(IN,H)`.
        Lstm(lstm::LstmSpec) => lstm::Lstm, eval: [Lstm = "lstm" "(IN,H)"];
    }
    gru {
        /// `gru(IN,H)`.
        Gru(gru::GruSpec) => gru::Gru, eval: [Gru = "gru" "(IN,H)"];
    }
    attention {
        /// `attention(D,HEADS[,causal=true])`.
        Attention(attention::AttentionSpec) => attention::Attention, eval: [
            Attention = "attention" "(D,HEADS)"
        ];
    }
    sequence {
        /// `last`, `seqmean`.
        Sequence(sequence::Reduce) => sequence::Reduce, eval: [Last = "last", SeqMean = "seqmean"];
    }
    residual {
        /// `residual(E1,...,Ek)`.
        Residual(residual::ResidualSpec) => residual::Residual, train: [
            Residual = "residual" "(E1,...,Ek)"
        ];
    }
}

/// The usage of every kind, for the error of an unknown one.
pub(crate) fn expected() -> String {
    let forms: Vec<&str> = ElementKind::ALL.iter().map(|k| k.usage()).collect();
    format!("expected one of {}", forms.join(", "))
}

impl ElementSpec {
    /// Parses one element (whitespace already removed); the error is the reason.
    pub(crate) fn parse(text: &str) -> std::result::Result<ElementSpec, String> {
        if text.is_empty() {
            return Err(format!("empty element; {}", expected()));
        }
        let (name, args) = Args::of(text)?;
        match ElementSpec::parse_named(name, &args) {
            Some(parsed) => parsed,
            None => Err(format!("unknown element `{name}`; {}", expected())),
        }
    }

    /// The kind (one spec name).
    pub fn kind(&self) -> ElementKind {
        self.def().kind()
    }

    /// The elements inside a block (`residual`), in order; none for the rest.
    pub fn inner(&self) -> &[ElementSpec] {
        self.def().inner()
    }

    /// Values per feature one input row gives an element that normalises
    /// over the batch in training (the batchnorms: 1, or `H*W`), or `None`.
    pub fn batch_statistics(&self, input: &RowShape) -> Option<usize> {
        self.def().batch_statistics(input)
    }

    /// Whether the element takes integer ids (`embedding`): only a stack's
    /// first element may.
    pub fn takes_ids(&self) -> bool {
        self.def().takes_ids()
    }

    /// `Some(V)` when the element takes integer ids `0..V`.
    pub fn ids(&self) -> Option<usize> {
        self.def().ids()
    }

    /// The last dimension's size for an element acting on the last
    /// dimension of any rank (`linear`, `layernorm`; see [`ElementDef::last_dim`]).
    pub(crate) fn last_dim(&self) -> Option<usize> {
        self.def().last_dim()
    }

    /// Values a forward keeps per row beside its output row (see
    /// [`ElementDef::kept_values`]).
    pub(crate) fn kept_values(&self, input: &[usize], output: &[usize]) -> Option<usize> {
        self.def().kept_values(input, output)
    }

    /// The fusion plan's stage that begins with this element at `i` (see
    /// [`ElementDef::stage`]).
    pub(crate) fn stage(&self, elements: &[ElementSpec], i: usize) -> crate::kernel::plan::Stage {
        self.def().stage(elements, i)
    }

    /// How a kernel applies this activation after its product (see
    /// [`ElementDef::kernel_act`]).
    pub(crate) fn kernel_act(&self) -> Option<crate::kernel::act::DenseAct> {
        self.def().kernel_act()
    }

    /// Whether its forward checks its own input (see [`ElementDef::checks_own_input`]).
    pub(crate) fn checks_own_input(&self) -> bool {
        self.def().checks_own_input()
    }

    /// The input row this element fixes when it comes first, or `None`
    /// when it takes any shape.
    pub fn input_requirement(&self) -> Option<RowShape> {
        self.def().input_requirement()
    }

    /// The output row for an input row, or why the input does not fit. An
    /// input of unknown rank (the stack starts with an element that takes
    /// any shape) is taken as the element's own requirement.
    pub fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        if input.dims().is_none() {
            if let Some(r) = self.input_requirement().filter(|r| r.dims().is_some()) {
                return self.def().output_shape(&r);
            }
        }
        self.def().output_shape(input)
    }

    /// Parameters and buffers in PyTorch's state_dict order, names relative
    /// to the element (`weight`; `0.weight` inside a block).
    pub fn state(&self) -> Vec<StateEntry> {
        self.def().state()
    }

    /// The learned tensors, `(name, shape)`, in state_dict order.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.state_of(|k| k == def::StateKind::Parameter)
    }

    /// The buffers (running statistics and counts), `(name, shape)`.
    pub fn buffer_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.state_of(|k| k != def::StateKind::Parameter)
    }

    fn state_of(&self, keep: impl Fn(def::StateKind) -> bool) -> Vec<(String, Vec<usize>)> {
        self.state()
            .into_iter()
            .filter(|e| keep(e.kind))
            .map(|e| (e.name, e.shape))
            .collect()
    }

    /// Number of trainable numbers (saturating at `usize::MAX`; a spec whose
    /// count overflows is refused by `ArchSpec::new`).
    pub fn parameter_count(&self) -> usize {
        self.checked_parameter_count().unwrap_or(usize::MAX)
    }

    /// Number of trainable numbers, or `None` when it overflows `usize`.
    pub fn checked_parameter_count(&self) -> Option<usize> {
        self.state()
            .iter()
            .filter(|e| e.kind == def::StateKind::Parameter)
            .try_fold(0usize, |a, e| a.checked_add(e.numel()?))
    }

    /// Draws the element's parameters (see [`crate::Init`]).
    pub(crate) fn draw(
        &self,
        init: crate::Init,
        draws: &mut crate::init::Draws,
        emit: &mut def::Emit<'_>,
    ) {
        self.def().draw(init, draws, emit)
    }

    /// The parameter it uses from an element before it (see [`def::Tie`]).
    pub fn tied(&self) -> Option<def::Tie> {
        self.def().tied()
    }

    /// The layer from its tensors.
    pub(crate) fn build(&self, take: &mut def::Take<'_>) -> Result<Layer> {
        self.def().build(take)
    }
}

impl fmt::Display for ElementSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.def())
    }
}

impl Layer {
    /// Applies the element in the given mode (only dropout and the batchnorms differ).
    pub fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        self.ops().forward(x, mode)
    }

    /// Parameters and buffers with their names relative to the element, in
    /// state_dict order.
    pub fn state(&self) -> Vec<(String, &Var)> {
        self.ops().state()
    }

    /// The variable it shares with an element before it, and that
    /// element's position (see [`def::Tie`]).
    pub fn tied_var(&self) -> Option<(usize, &Var)> {
        self.ops().tied_var()
    }

    /// Whether it maps each position on its own (see
    /// [`def::ElementOps::maps_positions`]).
    pub(crate) fn maps_positions(&self) -> bool {
        self.ops().maps_positions()
    }

    /// Runs a stage of the fusion plan that begins with this element.
    pub(crate) fn forward_stage(
        &self,
        stage: crate::kernel::plan::Stage,
        layers: &[Layer],
        x: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        self.ops().forward_stage(stage, layers, x, mode)
    }

    /// The stage with a residual block's input `r` (see
    /// `ElementOps::forward_stage_joined`).
    pub(crate) fn forward_stage_joined(
        &self,
        stage: crate::kernel::plan::Stage,
        layers: &[Layer],
        x: &Tensor,
        r: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, bool)> {
        self.ops().forward_stage_joined(stage, layers, x, r, mode)
    }

    /// The element as written in a spec.
    pub fn spec(&self) -> ElementSpec {
        self.ops().spec()
    }

    /// The element's ONNX nodes in evaluation mode (see [`crate::export`]);
    /// no nodes when it is nothing in evaluation (its output is its input).
    pub fn export(&self, scope: &Scope) -> Result<Export> {
        self.ops().export(scope)
    }
}

impl candle_nn::ModuleT for Layer {
    /// The element in training mode (dropout masks from this thread's
    /// module generator, see [`crate::mode`]) or evaluation.
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let out = if train {
            crate::mode::with_module_rng(|rng| Layer::forward(self, xs, &mut Mode::Train(rng)))
        } else {
            Layer::forward(self, xs, &mut Mode::Eval)
        };
        out.map_err(candle_core::Error::wrap)
    }
}

#[cfg(test)]
mod tests {
    use super::ElementKind;

    /// The rows of the first markdown table after `after` in `text`.
    fn table_rows<'a>(text: &'a str, prefix: &str, after: &str) -> Vec<&'a str> {
        let start = text.find(after).expect("the table's heading");
        text[start..]
            .lines()
            .map(|l| l.trim_start_matches(prefix).trim())
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .collect()
    }

    /// Every kind has a row in the kind tables written for readers: this
    /// module's header and ARCHITECTURE.md's "Where an element kind lives".
    #[test]
    fn every_kind_has_a_row_in_the_doc_tables() {
        for (text, prefix, after) in [
            (
                include_str!("mod.rs"),
                "//!",
                "//! | spec | module | kernel |",
            ),
            (
                include_str!("../../../../ARCHITECTURE.md"),
                "",
                "**Where an element kind lives",
            ),
        ] {
            let rows = table_rows(text, prefix, after);
            assert!(rows.len() > 2, "{after}: no table");
            for kind in ElementKind::ALL {
                let name = format!("`{}`", kind.name());
                assert!(
                    rows.iter()
                        .any(|r| r.split('|').nth(1).is_some_and(|c| c.contains(&name))),
                    "{after}: no row for {name}"
                );
            }
        }
    }
}
