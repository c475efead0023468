//! One element of the stack as ONNX nodes and initializers, in evaluation mode.
//!
//! | element | ONNX |
//! | --- | --- |
//! | `linear` | `Gemm(x, W, b)`, `transB=1`: `y = x W^T + b` (no `C` without bias) |
//! | `sigmoid`, `tanh`, `relu`, `identity` | `Sigmoid`, `Tanh`, `Relu`, `Identity` |
//! | `leaky_relu(a)` | `LeakyRelu`, `alpha=a` |
//! | `softmax` | `Softmax`, `axis=-1` |
//!
//! Element `i` reads the value named by [`Slot::input`] and writes
//! [`Slot::output`]; its initializers carry the state_dict names `"{i}.weight"`,
//! `"{i}.bias"` (SPEC section 2), its nodes are named `"{i}.{Op}"`. An element
//! that is nothing in evaluation (`dropout`) returns an empty [`Piece`]: the
//! caller then passes its input on to the next element.
//!
//! Adding an element kind is one arm in [`element`] (ARCHITECTURE.md lists the
//! ONNX op of each kind SPEC names).

use synapse_nn::{Activation, Layer, Linear};

use super::proto::{AttributeProto, NodeProto, TensorProto};
use super::tensor::{float_attr, initializer, int_attr, Float};
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
    }
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
