//! One element of a [`RefStack`](crate::RefStack): the closed set of kinds the
//! reference knows, each implementing [`RefOps`] in its own file (one
//! dispatch, no `match` per operation), and the explicit [`RefMode`].
//!
//! Every element has the same surface: `forward(x, mode)`, `backward(x, y, dy, mode)`
//! returning `dx` and its parameter gradients, `parameters()`, `buffers()` and
//! `state_dict()`, named as PyTorch's state_dict names them inside the element
//! (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`;
//! `weight_ih_l0`...; `in_proj_weight`...; `"{j}.weight"` inside a residual block),
//! and `update_buffers(x)`, the buffer side of a training forward.

use crate::{
    Array, RefActivation, RefAttention, RefAvgPool2d, RefBatchNorm, RefConv2d, RefDense,
    RefDropout, RefEmbedding, RefGru, RefLayerNorm, RefLstm, RefMaxPool2d, RefPositional,
    RefReshape, RefResidual, RefRmsNorm, RefSeqReduce,
};

/// Training or evaluation, given at every call (only dropout and batchnorm differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefMode {
    /// `model.train()`: batch statistics, dropout masks.
    Train,
    /// `model.eval()`: running statistics, no dropout.
    Eval,
}

/// What every element of the reference does, implemented beside each kind
/// in its own file; the defaults are those of a kind without state.
pub trait RefOps {
    /// The element's output for `x` in `mode` (pure: buffers are not updated).
    fn forward(&self, x: &Array, mode: RefMode) -> Array;

    /// `(dx, grads)` from the input `x`, the output `y = forward(x, mode)` and
    /// `dy = dL/dy`; `grads` are the parameter gradients in `parameters()` order.
    fn backward(&self, x: &Array, y: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>);

    /// The learned parameters, named inside the element, in PyTorch's order.
    fn parameters(&self) -> Vec<(String, &Array)> {
        Vec::new()
    }

    /// The learned parameters, mutable, in `parameters()` order.
    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        Vec::new()
    }

    /// The buffers (running statistics), named inside the element.
    fn buffers(&self) -> Vec<(String, Array)> {
        Vec::new()
    }

    /// Parameters and buffers in PyTorch's `state_dict()` order: the
    /// element's parameters then its buffers.
    fn state_dict(&self) -> Vec<(String, Array)> {
        let params = self.parameters().into_iter().map(|(n, a)| (n, a.clone()));
        params.chain(self.buffers()).collect()
    }

    /// The buffer updates of one training forward on `x` (none by default).
    fn update_buffers(&mut self, _x: &Array) {}
}

/// The closed set of kinds: the enum, and its two dispatches to [`RefOps`].
macro_rules! ref_elements {
    ($( $(#[$doc:meta])* $variant:ident($t:ty), )+) => {
        /// An element of the reference stack.
        #[derive(Debug, Clone, PartialEq)]
        pub enum RefElement {
            $( $(#[$doc])* $variant($t), )+
        }

        impl RefElement {
            /// The element's operations.
            fn ops(&self) -> &dyn RefOps {
                match self {
                    $( RefElement::$variant(e) => e, )+
                }
            }

            /// The element's operations, mutable.
            fn ops_mut(&mut self) -> &mut dyn RefOps {
                match self {
                    $( RefElement::$variant(e) => e, )+
                }
            }
        }
    };
}

ref_elements! {
    /// `nn.Linear`.
    Dense(RefDense),
    /// An activation (element-wise, or softmax over the last dimension).
    Activation(RefActivation),
    /// `nn.Conv2d`.
    Conv2d(RefConv2d),
    /// `nn.MaxPool2d`.
    MaxPool2d(RefMaxPool2d),
    /// `nn.AvgPool2d`.
    AvgPool2d(RefAvgPool2d),
    /// `nn.BatchNorm1d` / `nn.BatchNorm2d`.
    BatchNorm(RefBatchNorm),
    /// `nn.LayerNorm`.
    LayerNorm(RefLayerNorm),
    /// `nn.RMSNorm`.
    RmsNorm(RefRmsNorm),
    /// `nn.Dropout` with an explicit mask.
    Dropout(RefDropout),
    /// `nn.Unflatten(1, ..)` / `nn.Flatten()`.
    Reshape(RefReshape),
    /// `nn.Embedding`: ids `[batch, T]` to `[batch, T, D]`.
    Embedding(RefEmbedding),
    /// A learned positional embedding, `x + weight[:t]`.
    Positional(RefPositional),
    /// `nn.LSTM(batch_first=True)`, the output sequence.
    Lstm(RefLstm),
    /// `nn.GRU(batch_first=True)`, the output sequence.
    Gru(RefGru),
    /// `nn.MultiheadAttention(batch_first=True)` on `(x, x, x)`.
    Attention(RefAttention),
    /// `x[:, -1]` or `x.mean(1)`.
    SeqReduce(RefSeqReduce),
    /// `x + nn.Sequential(...)(x)`.
    Residual(RefResidual),
}

impl RefElement {
    /// The element's output for `x` in `mode` (pure: buffers are not updated).
    pub fn forward(&self, x: &Array, mode: RefMode) -> Array {
        self.ops().forward(x, mode)
    }

    /// `(dx, grads)` from the input `x`, the output `y = forward(x, mode)` and
    /// `dy = dL/dy`; `grads` are the parameter gradients in `parameters()` order.
    pub fn backward(&self, x: &Array, y: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>) {
        self.ops().backward(x, y, dy, mode)
    }

    /// The learned parameters, named inside the element, in PyTorch's order:
    /// `weight` then `bias` where present, the recurrent layers' and attention's
    /// four tensors, a residual block's `"{j}.{name}"`.
    pub fn parameters(&self) -> Vec<(String, &Array)> {
        self.ops().parameters()
    }

    /// The learned parameters, mutable, in `parameters()` order.
    pub fn parameters_mut(&mut self) -> Vec<&mut Array> {
        self.ops_mut().parameters_mut()
    }

    /// The buffers: a batchnorm's `running_mean`, `running_var`, and
    /// `num_batches_tracked` as a shape-`[]` array; a residual block's inner
    /// buffers as `"{j}.{name}"`; none for the rest.
    pub fn buffers(&self) -> Vec<(String, Array)> {
        self.ops().buffers()
    }

    /// Parameters and buffers in PyTorch's `state_dict()` order: the element's
    /// parameters then its buffers, or per inner element for a residual block.
    pub fn state_dict(&self) -> Vec<(String, Array)> {
        self.ops().state_dict()
    }

    /// The buffer updates of one training forward on `x` (batchnorms, also
    /// inside residual blocks); nothing for the other kinds.
    pub fn update_buffers(&mut self, x: &Array) {
        self.ops_mut().update_buffers(x)
    }
}

/// `[("weight", w), ("bias", b)]`, the bias where present.
pub(crate) fn weight_bias<'a>(w: &'a Array, b: Option<&'a Array>) -> Vec<(String, &'a Array)> {
    std::iter::once(("weight", w))
        .chain(b.map(|b| ("bias", b)))
        .map(|(n, a)| (n.to_string(), a))
        .collect()
}

/// `[w, b]` mutable, the bias where present ([`weight_bias`]'s order).
pub(crate) fn weight_bias_mut<'a>(
    w: &'a mut Array,
    b: Option<&'a mut Array>,
) -> Vec<&'a mut Array> {
    std::iter::once(w).chain(b).collect()
}

/// Fixed names as owned ones.
pub(crate) fn named<'a>(params: Vec<(&'static str, &'a Array)>) -> Vec<(String, &'a Array)> {
    params
        .into_iter()
        .map(|(n, a)| (n.to_string(), a))
        .collect()
}
