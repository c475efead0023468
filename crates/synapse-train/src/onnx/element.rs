//! One element of the stack as ONNX nodes and initializers, in evaluation mode.
//!
//! | element | ONNX |
//! | --- | --- |
//! | `linear` | `Gemm(x, W, b)`, `transB=1`: `y = x W^T + b` (no `C` without bias) |
//! | `sigmoid`, `tanh`, `relu`, `identity` | `Sigmoid`, `Tanh`, `Relu`, `Identity` |
//! | `leaky_relu(a)` | `LeakyRelu`, `alpha=a` |
//! | `softmax` | `Softmax`, `axis=-1` |
//! | `batchnorm`, `batchnorm2d` | `BatchNormalization(x, weight, bias, running_mean, running_var)`, `epsilon` (evaluation: the running statistics) |
//! | `layernorm` | `LayerNormalization(x, weight, bias)`, `axis=-1`, `epsilon` |
//! | `conv2d` | `Conv(x, W[, b])`, `kernel_shape`, `strides`, `pads` |
//! | `maxpool2d`, `avgpool2d` | `MaxPool`, `AveragePool`, `kernel_shape`, `strides` |
//! | `reshape(D1,...,Dk)` | `Reshape(x, [0, D1, ..., Dk])` (0 keeps the batch) |
//! | `flatten` | `Flatten`, `axis=1` |
//! | `dropout` | nothing (identity in evaluation) |
//!
//! Element `i` reads the value named by [`Slot::input`] and writes
//! [`Slot::output`]; its initializers carry the state_dict names `"{i}.weight"`,
//! `"{i}.bias"` (SPEC section 2), its nodes are named `"{i}.{Op}"`. An element
//! that is nothing in evaluation (`dropout`) returns an empty [`Piece`]: the
//! caller then passes its input on to the next element.
//!
//! Adding an element kind is one arm in [`element`] (ARCHITECTURE.md lists the
//! ONNX op of each kind SPEC names).

use candle_core::Var;
use synapse_nn::{Activation, BatchNorm, Conv2d, Layer, LayerNorm, Linear, Pool2d, PoolKind};

use super::proto::{AttributeProto, NodeProto, TensorProto};
use super::tensor::{float_attr, initializer, int64s, int_attr, ints_attr, Float};
use crate::Result;

/// Where element `index` sits in the graph.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// The element's index in the stack (the prefix of its state_dict names).
    pub index: usize,
    /// The value it reads.
    pub input: &'a str,
    /// The value it must write (when it writes anything).
    pub output: &'a str,
    /// The graph's float type.
    pub float: Float,
}

/// What one element adds to the graph.
#[derive(Debug, Default)]
pub struct Piece {
    /// Nodes in execution order; the last writes [`Slot::output`].
    pub nodes: Vec<NodeProto>,
    /// The element's parameters (and buffers), named as in its state_dict.
    pub initializers: Vec<TensorProto>,
}

/// The nodes and initializers of `layer` at `at`. One arm per element kind.
pub fn element(layer: &Layer, at: &Slot) -> Result<Piece> {
    match layer {
        Layer::Linear(l) => linear(l, at),
        Layer::Activation(a) => Ok(activation(*a, at)),
        Layer::Dropout(_) => Ok(Piece::default()),
        Layer::BatchNorm(b) => batchnorm(b, at),
        Layer::LayerNorm(l) => layernorm(l, at),
        Layer::Conv2d(c) => conv2d(c, at),
        Layer::Pool2d(p) => Ok(pool(p, at)),
        Layer::Reshape(r) => {
            let name = format!("{}.shape", at.index);
            let mut shape = vec![0i64];
            shape.extend(r.dims().iter().map(|&d| d as i64));
            Ok(Piece {
                nodes: vec![node(
                    at,
                    "Reshape",
                    vec![at.input.into(), name.clone()],
                    vec![],
                )],
                initializers: vec![int64s(&name, &shape)],
            })
        }
        Layer::Flatten => Ok(Piece {
            nodes: vec![node(
                at,
                "Flatten",
                vec![at.input.into()],
                vec![int_attr("axis", 1)],
            )],
            initializers: vec![],
        }),
    }
}

/// Initializers for named tensors of element `at.index`, in the given order.
fn named(at: &Slot, tensors: &[(&str, &Var)]) -> Result<Vec<TensorProto>> {
    tensors
        .iter()
        .map(|(n, v)| initializer(&format!("{}.{n}", at.index), v.as_tensor(), at.float))
        .collect()
}

/// The node reading `at.input` and then every initializer, in order.
fn with_inputs(at: &Slot, op: &str, inits: Vec<TensorProto>, attrs: Vec<AttributeProto>) -> Piece {
    let mut inputs = vec![at.input.to_string()];
    inputs.extend(inits.iter().map(|t| t.name.clone()));
    Piece {
        nodes: vec![node(at, op, inputs, attrs)],
        initializers: inits,
    }
}

/// `BatchNormalization` with the running statistics (evaluation mode).
fn batchnorm(b: &BatchNorm, at: &Slot) -> Result<Piece> {
    let [weight, bias] = b.parameters();
    let [mean, var, _count] = b.buffers();
    let inits = named(at, &[weight, bias, mean, var])?;
    Ok(with_inputs(
        at,
        "BatchNormalization",
        inits,
        vec![float_attr("epsilon", b.eps())],
    ))
}

/// `LayerNormalization` over the last axis.
fn layernorm(l: &LayerNorm, at: &Slot) -> Result<Piece> {
    let inits = named(at, &l.parameters())?;
    Ok(with_inputs(
        at,
        "LayerNormalization",
        inits,
        vec![int_attr("axis", -1), float_attr("epsilon", l.eps())],
    ))
}

/// `Conv` with a square kernel, the same stride and zero padding on every side.
fn conv2d(c: &Conv2d, at: &Slot) -> Result<Piece> {
    let mut tensors = vec![("weight", c.weight())];
    tensors.extend(c.bias().map(|b| ("bias", b)));
    let k = c.sizes().2 as i64;
    let (s, p) = (c.stride() as i64, c.padding() as i64);
    Ok(with_inputs(
        at,
        "Conv",
        named(at, &tensors)?,
        vec![
            ints_attr("kernel_shape", &[k, k]),
            ints_attr("strides", &[s, s]),
            ints_attr("pads", &[p, p, p, p]),
        ],
    ))
}

/// `MaxPool` or `AveragePool`, no padding.
fn pool(p: &Pool2d, at: &Slot) -> Piece {
    let op = match p.kind() {
        PoolKind::Max => "MaxPool",
        PoolKind::Avg => "AveragePool",
    };
    let (k, s) = (p.kernel() as i64, p.stride() as i64);
    with_inputs(
        at,
        op,
        vec![],
        vec![
            ints_attr("kernel_shape", &[k, k]),
            ints_attr("strides", &[s, s]),
        ],
    )
}

/// `Gemm(x, W, b)` with `transB=1`.
fn linear(l: &Linear, at: &Slot) -> Result<Piece> {
    let i = at.index;
    let mut initializers = vec![initializer(
        &format!("{i}.weight"),
        l.weight().as_tensor(),
        at.float,
    )?];
    if let Some(b) = l.bias() {
        initializers.push(initializer(&format!("{i}.bias"), b.as_tensor(), at.float)?);
    }
    let mut inputs = vec![at.input.to_string()];
    inputs.extend(initializers.iter().map(|t| t.name.clone()));
    Ok(Piece {
        nodes: vec![node(at, "Gemm", inputs, vec![int_attr("transB", 1)])],
        initializers,
    })
}

/// The activation's ONNX op, reading `at.input`.
fn activation(a: Activation, at: &Slot) -> Piece {
    let (op, attributes) = match a {
        Activation::Sigmoid => ("Sigmoid", vec![]),
        Activation::Tanh => ("Tanh", vec![]),
        Activation::Relu => ("Relu", vec![]),
        Activation::LeakyRelu(slope) => ("LeakyRelu", vec![float_attr("alpha", slope)]),
        Activation::Softmax => ("Softmax", vec![int_attr("axis", -1)]),
        Activation::Identity => ("Identity", vec![]),
    };
    Piece {
        nodes: vec![node(at, op, vec![at.input.to_string()], attributes)],
        initializers: vec![],
    }
}

/// A node named `"{index}.{op}"` writing `at.output`.
fn node(at: &Slot, op: &str, input: Vec<String>, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: format!("{}.{op}", at.index),
        op_type: op.into(),
        input,
        output: vec![at.output.to_string()],
        attribute,
        ..Default::default()
    }
}
