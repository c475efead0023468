//! One element of a [`RefStack`](crate::RefStack): the closed set of kinds the
//! reference knows, one `match` per operation, and the explicit [`RefMode`].
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
    RefReshape, RefResidual, RefSeqReduce,
};

/// Training or evaluation, given at every call (only dropout and batchnorm differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefMode {
    /// `model.train()`: batch statistics, dropout masks.
    Train,
    /// `model.eval()`: running statistics, no dropout.
    Eval,
}

/// An element of the reference stack.
#[derive(Debug, Clone, PartialEq)]
pub enum RefElement {
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
        match self {
            RefElement::Dense(d) => d.forward(x),
            RefElement::Activation(a) => a.forward(x),
            RefElement::Conv2d(c) => c.forward(x),
            RefElement::MaxPool2d(p) => p.forward(x),
            RefElement::AvgPool2d(p) => p.forward(x),
            RefElement::BatchNorm(b) => b.forward(x, mode),
            RefElement::LayerNorm(l) => l.forward(x),
            RefElement::Dropout(d) => d.forward(x, mode),
            RefElement::Reshape(r) => r.forward(x),
            RefElement::Embedding(e) => e.forward(x),
            RefElement::Positional(p) => p.forward(x),
            RefElement::Lstm(l) => l.forward(x),
            RefElement::Gru(g) => g.forward(x),
            RefElement::Attention(a) => a.forward(x),
            RefElement::SeqReduce(r) => r.forward(x),
            RefElement::Residual(r) => r.forward(x, mode),
        }
    }

    /// `(dx, grads)` from the input `x`, the output `y = forward(x, mode)` and
    /// `dy = dL/dy`; `grads` are the parameter gradients in `parameters()` order.
    pub fn backward(&self, x: &Array, y: &Array, dy: &Array, mode: RefMode) -> (Array, Vec<Array>) {
        match self {
            RefElement::Dense(d) => d.backward(x, dy),
            RefElement::Activation(a) => (a.backward(x, y, dy), vec![]),
            RefElement::Conv2d(c) => c.backward(x, dy),
            RefElement::MaxPool2d(p) => (p.backward(x, dy), vec![]),
            RefElement::AvgPool2d(p) => (p.backward(x, dy), vec![]),
            RefElement::BatchNorm(b) => b.backward(x, dy, mode),
            RefElement::LayerNorm(l) => l.backward(x, dy),
            RefElement::Dropout(d) => (d.backward(x, dy, mode), vec![]),
            RefElement::Reshape(r) => (r.backward(x, dy), vec![]),
            RefElement::Embedding(e) => e.backward(x, dy),
            RefElement::Positional(p) => p.backward(x, dy),
            RefElement::Lstm(l) => l.backward(x, dy),
            RefElement::Gru(g) => g.backward(x, dy),
            RefElement::Attention(a) => a.backward(x, dy),
            RefElement::SeqReduce(r) => (r.backward(x, dy), vec![]),
            RefElement::Residual(r) => r.backward(x, dy, mode),
        }
    }

    /// The learned parameters, named inside the element, in PyTorch's order:
    /// `weight` then `bias` where present, the recurrent layers' and attention's
    /// four tensors, a residual block's `"{j}.{name}"`.
    pub fn parameters(&self) -> Vec<(String, &Array)> {
        let named: Vec<(&str, &Array)> = match self {
            RefElement::Dense(d) => weight_bias(&d.w, d.b.as_ref()),
            RefElement::Conv2d(c) => weight_bias(&c.w, c.b.as_ref()),
            RefElement::BatchNorm(n) => weight_bias(&n.weight, Some(&n.bias)),
            RefElement::LayerNorm(n) => weight_bias(&n.weight, Some(&n.bias)),
            RefElement::Embedding(e) => weight_bias(&e.weight, None),
            RefElement::Positional(p) => weight_bias(&p.weight, None),
            RefElement::Lstm(l) => l.parameters(),
            RefElement::Gru(g) => g.parameters(),
            RefElement::Attention(a) => a.parameters(),
            RefElement::Residual(r) => return r.parameters(),
            RefElement::Activation(_)
            | RefElement::MaxPool2d(_)
            | RefElement::AvgPool2d(_)
            | RefElement::Dropout(_)
            | RefElement::Reshape(_)
            | RefElement::SeqReduce(_) => vec![],
        };
        named.into_iter().map(|(n, a)| (n.to_string(), a)).collect()
    }

    /// The learned parameters, mutable, in `parameters()` order.
    pub fn parameters_mut(&mut self) -> Vec<&mut Array> {
        let (w, b) = match self {
            RefElement::Dense(d) => (&mut d.w, d.b.as_mut()),
            RefElement::Conv2d(c) => (&mut c.w, c.b.as_mut()),
            RefElement::BatchNorm(n) => (&mut n.weight, Some(&mut n.bias)),
            RefElement::LayerNorm(n) => (&mut n.weight, Some(&mut n.bias)),
            RefElement::Embedding(e) => (&mut e.weight, None),
            RefElement::Positional(p) => (&mut p.weight, None),
            RefElement::Lstm(l) => return l.parameters_mut(),
            RefElement::Gru(g) => return g.parameters_mut(),
            RefElement::Attention(a) => return a.parameters_mut(),
            RefElement::Residual(r) => return r.parameters_mut(),
            RefElement::Activation(_)
            | RefElement::MaxPool2d(_)
            | RefElement::AvgPool2d(_)
            | RefElement::Dropout(_)
            | RefElement::Reshape(_)
            | RefElement::SeqReduce(_) => return vec![],
        };
        std::iter::once(w).chain(b).collect()
    }

    /// The buffers: a batchnorm's `running_mean`, `running_var`, and
    /// `num_batches_tracked` as a shape-`[]` array; a residual block's inner
    /// buffers as `"{j}.{name}"`; none for the rest.
    pub fn buffers(&self) -> Vec<(String, Array)> {
        match self {
            RefElement::BatchNorm(n) => vec![
                ("running_mean".to_string(), n.running_mean.clone()),
                ("running_var".to_string(), n.running_var.clone()),
                (
                    "num_batches_tracked".to_string(),
                    Array::new(vec![], vec![n.num_batches_tracked as f64]),
                ),
            ],
            RefElement::Residual(r) => r.buffers(),
            _ => vec![],
        }
    }

    /// Parameters and buffers in PyTorch's `state_dict()` order: the element's
    /// parameters then its buffers, or per inner element for a residual block.
    pub fn state_dict(&self) -> Vec<(String, Array)> {
        match self {
            RefElement::Residual(r) => r.state_dict(),
            _ => {
                let params = self.parameters().into_iter().map(|(n, a)| (n, a.clone()));
                params.chain(self.buffers()).collect()
            }
        }
    }

    /// The buffer updates of one training forward on `x` (batchnorms, also
    /// inside residual blocks); nothing for the other kinds.
    pub fn update_buffers(&mut self, x: &Array) {
        match self {
            RefElement::BatchNorm(b) => b.update_running(x),
            RefElement::Residual(r) => r.update_buffers(x),
            _ => {}
        }
    }
}

/// `[("weight", w), ("bias", b)]`, the bias where present.
fn weight_bias<'a>(w: &'a Array, b: Option<&'a Array>) -> Vec<(&'static str, &'a Array)> {
    std::iter::once(("weight", w))
        .chain(b.map(|b| ("bias", b)))
        .collect()
}
