//! The element kinds of a stack: one module per kind, owning everything about
//! it (see [`def`]: grammar, canonical form, shape rule, state names, initial
//! draws, build, forward in plain candle ops and its CPU kernel where it has
//! one, ONNX export). The hand-coded reference of each is in
//! `crates/synapse-reference` (same file name).
//!
//! | spec | module | kernel |
//! | --- | --- | --- |
//! | `linear` | `linear/` | `linear/kernel.rs` (with the activation after it, gelu included) |
//! | `sigmoid`, `tanh`, `relu`, `leaky_relu`, `softmax`, `identity`, `gelu` | `activation.rs` | `kernel/act.rs`, applied by the linear and conv2d kernels (gelu: linear only) |
//! | `dropout` | `dropout.rs` | none |
//! | `batchnorm`, `batchnorm2d` | `batchnorm.rs` | none |
//! | `layernorm` | `layernorm/` | `layernorm/kernel.rs` |
//! | `reshape`, `flatten` | `reshape.rs` | none |
//! | `conv2d` | `conv2d/` | `conv2d/kernel.rs` (with the activation and the pool after it) |
//! | `maxpool2d`, `avgpool2d` | `pool/` | `pool/kernel.rs` |
//! | `embedding` | `embedding.rs` | none |
//! | `positional` | `positional/` | `positional/kernel.rs` |
//! | `lstm` | `lstm/` | `lstm/kernel.rs` (the cell) in `recurrent/kernel.rs` (the sequence, forward and backward through time) |
//! | `gru` | `gru/` | `gru/kernel.rs` (the cell) in `recurrent/kernel.rs` |
//! | `attention` | `attention/` | `attention/kernel.rs` (between two dense kernels) |
//! | `last`, `seqmean` | `sequence.rs` | none |
//! | `residual` | `residual.rs` | its inner elements' |
//!
//! Which neighbours run as one kernel is planned once, when a stack is
//! built (`kernel/plan.rs`); whether a kernel or plain ops run is decided by
//! `kernel::use_kernel` alone.
//!
//! **The registry** below is the one list of kinds: a variant of
//! [`ElementSpec`] (the spec type) and of [`Layer`] (the built layer) and
//! the [`ElementKind`]s it parses. Every operation dispatches through it.

pub(crate) mod activation;
pub(crate) mod attention;
pub(crate) mod batchnorm;
pub(crate) mod conv2d;
pub(crate) mod def;
pub(crate) mod dropout;
pub(crate) mod embedding;
pub(crate) mod gru;
pub(crate) mod layernorm;
pub(crate) mod linear;
pub(crate) mod lstm;
pub(crate) mod pool;
pub(crate) mod positional;
mod recurrent;
pub(crate) mod reshape;
pub(crate) mod residual;
pub(crate) mod sequence;

use std::fmt;

use candle_core::{Tensor, Var};

use crate::export::{Export, Scope};
use crate::spec::{Args, RowShape};
use crate::{Mode, Result};
use def::{ElementDef, ElementOps, StateEntry};

/// The registry: `Variant(spec type) => layer type: [Kind = "name", ...];`.
macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident($spec:ty) => $layer:ty : [ $( $kind:ident = $name:literal ),+ ] ; )+) => {
        /// One element of a stack, as written in a spec: a variant per module.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ElementSpec {
            $( $(#[$doc])* $variant($spec), )+
        }

        /// One element of a built stack: a variant per module.
        #[derive(Debug, Clone)]
        pub enum Layer {
            $( $(#[$doc])* $variant($layer), )+
        }

        /// The kinds of elements, one per spec name. [`ElementKind::ALL`]
        /// lists them all; tests walk it to cover every kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ElementKind {
            $( $( #[doc = concat!("`", $name, "`")] $kind, )+ )+
        }

        impl ElementKind {
            /// Every kind, in the order of SPEC sections 1 and 10.
            pub const ALL: &'static [ElementKind] = &[ $( $( ElementKind::$kind, )+ )+ ];

            /// The name in a spec.
            pub fn name(self) -> &'static str {
                match self {
                    $( $( ElementKind::$kind => $name, )+ )+
                }
            }
        }

        impl ElementSpec {
            /// The kind's rules (the trait object of its module).
            fn def(&self) -> &dyn ElementDef {
                match self {
                    $( ElementSpec::$variant(e) => e, )+
                }
            }

            /// Parses an element named `name`, or `None` for an unknown name.
            fn parse_named(name: &str, args: &Args) -> Option<std::result::Result<ElementSpec, String>> {
                $(
                    if [$($name),+].contains(&name) {
                        return Some(<$spec as ElementDef>::parse(name, args));
                    }
                )+
                None
            }
        }

        impl Layer {
            /// The built element's operations (the trait object of its module).
            fn ops(&self) -> &dyn ElementOps {
                match self {
                    $( Layer::$variant(l) => l, )+
                }
            }
        }

        $(
            impl From<$layer> for Layer {
                fn from(l: $layer) -> Self {
                    Layer::$variant(l)
                }
            }
        )+
    };
}

registry! {
    /// `linear(IN,OUT)`.
    Linear(linear::LinearSpec) => linear::Linear: [Linear = "linear"];
    /// An element-wise activation, or softmax over the last dimension.
    Activation(activation::Activation) => activation::Activation: [
        Sigmoid = "sigmoid", Tanh = "tanh", Relu = "relu", LeakyRelu = "leaky_relu",
        Softmax = "softmax", Identity = "identity", Gelu = "gelu"
    ];
    /// `dropout(P)`.
    Dropout(dropout::Dropout) => dropout::Dropout: [Dropout = "dropout"];
    /// `batchnorm(N)`, `batchnorm2d(C)`.
    BatchNorm(batchnorm::BatchNormSpec) => batchnorm::BatchNorm: [
        BatchNorm = "batchnorm", BatchNorm2d = "batchnorm2d"
    ];
    /// `layernorm(N)`.
    LayerNorm(layernorm::LayerNormSpec) => layernorm::LayerNorm: [LayerNorm = "layernorm"];
    /// `reshape(D1,...,Dk)`.
    Reshape(reshape::Reshape) => reshape::Reshape: [Reshape = "reshape"];
    /// `flatten`.
    Flatten(reshape::Flatten) => reshape::Flatten: [Flatten = "flatten"];
    /// `conv2d(IN,OUT,K)`.
    Conv2d(conv2d::Conv2dSpec) => conv2d::Conv2d: [Conv2d = "conv2d"];
    /// `maxpool2d(K)`, `avgpool2d(K)`.
    Pool2d(pool::Pool2d) => pool::Pool2d: [MaxPool2d = "maxpool2d", AvgPool2d = "avgpool2d"];
    /// `embedding(V,D)`.
    Embedding(embedding::EmbeddingSpec) => embedding::Embedding: [Embedding = "embedding"];
    /// `positional(T,D)`.
    Positional(positional::PositionalSpec) => positional::Positional: [Positional = "positional"];
    /// `lstm(IN,H)`.
    Lstm(lstm::LstmSpec) => lstm::Lstm: [Lstm = "lstm"];
    /// `gru(IN,H)`.
    Gru(gru::GruSpec) => gru::Gru: [Gru = "gru"];
    /// `attention(D,HEADS[,causal=true])`.
    Attention(attention::AttentionSpec) => attention::Attention: [Attention = "attention"];
    /// `last`, `seqmean`.
    Sequence(sequence::Reduce) => sequence::Reduce: [Last = "last", SeqMean = "seqmean"];
    /// `residual(E1,...,Ek)`.
    Residual(residual::ResidualSpec) => residual::Residual: [Residual = "residual"];
}

/// The names of every kind, for the error of an unknown one.
pub(crate) fn expected() -> String {
    let forms = [
        "linear(IN,OUT)",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu(SLOPE)",
        "softmax",
        "identity",
        "gelu",
        "dropout(P)",
        "batchnorm(N)",
        "batchnorm2d(C)",
        "layernorm(N)",
        "reshape(D1,...,Dk)",
        "flatten",
        "conv2d(IN,OUT,K)",
        "maxpool2d(K)",
        "avgpool2d(K)",
        "embedding(V,D)",
        "positional(T,D)",
        "lstm(IN,H)",
        "gru(IN,H)",
        "attention(D,HEADS)",
        "last",
        "seqmean",
        "residual(E1,...,Ek)",
    ];
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

/// candle-nn's `Module` (the same in both modes) for the kinds without a
/// training mode; their `ModuleT` is candle's blanket one.
macro_rules! module {
    ($($t:ty),+) => {
        $(impl candle_nn::Module for $t {
            fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
                ElementOps::forward(self, xs, &mut Mode::Eval).map_err(candle_core::Error::wrap)
            }
        })+
    };
}

module!(
    activation::Activation,
    layernorm::LayerNorm,
    reshape::Reshape,
    reshape::Flatten,
    conv2d::Conv2d,
    pool::Pool2d,
    embedding::Embedding,
    positional::Positional,
    lstm::Lstm,
    gru::Gru,
    attention::Attention,
    sequence::Reduce
);

/// candle-nn's `ModuleT` for the kinds with a training mode (dropout, the
/// batchnorms, and blocks that may hold them).
macro_rules! module_t {
    ($($t:ty),+) => {
        $(impl candle_nn::ModuleT for $t {
            fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
                let out = if train {
                    crate::mode::with_module_rng(|rng| ElementOps::forward(self, xs, &mut Mode::Train(rng)))
                } else {
                    ElementOps::forward(self, xs, &mut Mode::Eval)
                };
                out.map_err(candle_core::Error::wrap)
            }
        })+
    };
}

module_t!(dropout::Dropout, batchnorm::BatchNorm, residual::Residual);
