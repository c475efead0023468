//! A neutral description of an element's ONNX nodes: ops, attributes, value
//! names and constants, as plain Rust data. Each element kind writes its own
//! (`ElementOps::export`, beside its forward); `synapse-train`'s `onnx/`
//! turns them into protobuf messages and adds the graph's inputs, outputs
//! and metadata. Nothing here knows the protobuf format.
//!
//! Names: an element at stack path `p` (`"3"`, or `"3.1"` inside a block)
//! names its constants by its state names (`"3.weight"`, `"3.1.bias"`), or
//! `"{p}.{what}"` for constants of its own (`"0.shape"`), its intermediate
//! values `"{p}.{what}"`, and its nodes `"{p}.{Op}"` (numbered when an
//! element has several of one op).
//!
//! ```
//! use synapse_nn::export::{Attribute, Export, Scope};
//! let scope = Scope::new("2", "1.output", "2.output", 2);
//! let mut e = Export::default();
//! e.node("Relu", &scope, vec![scope.input.clone()], vec![scope.output.clone()], vec![]);
//! assert_eq!(e.nodes[0].name, "2.Relu");
//! e.node("Softmax", &scope, vec!["2.output".into()], vec!["2.p".into()], vec![Attribute::int("axis", -1)]);
//! assert_eq!(e.nodes[1].name, "2.Softmax");
//! ```

use candle_core::{DType, Device, Tensor};

/// Where an element's nodes go: its path, the value it reads and the one it
/// writes, the rank of what it reads (batch included; 0 when unknown), the
/// model's float type (for constants of its own) and the opset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The element's path in the stack: `"3"`, `"3.1"`.
    pub name: String,
    /// The value it reads.
    pub input: String,
    /// The value it must write.
    pub output: String,
    /// The rank of its input, batch dimension included (0: unknown).
    pub rank: usize,
    /// The model's float type.
    pub dtype: DType,
    /// The ONNX opset the graph is written for (17 or newer).
    pub opset: i64,
}

impl Scope {
    /// A scope for an f32 model (see [`Scope::with_dtype`]).
    pub fn new(name: &str, input: &str, output: &str, rank: usize) -> Self {
        Self {
            name: name.to_string(),
            input: input.to_string(),
            output: output.to_string(),
            rank,
            dtype: DType::F32,
            opset: 17,
        }
    }

    /// The same scope for a model of `dtype`, written at `opset`.
    pub fn with(mut self, dtype: DType, opset: i64) -> Self {
        self.dtype = dtype;
        self.opset = opset;
        self
    }

    /// The scope of an element inside this one (a block's element `j`),
    /// reading `input` and writing `output`, with input rank `rank`.
    pub fn inner(&self, j: usize, input: &str, output: &str, rank: usize) -> Self {
        Self {
            name: format!("{}.{j}", self.name),
            input: input.to_string(),
            output: output.to_string(),
            rank,
            dtype: self.dtype,
            opset: self.opset,
        }
    }

    /// A scalar constant of the model's float type.
    pub fn scalar(&self, v: f64) -> crate::Result<Tensor> {
        Ok(Tensor::new(v, &Device::Cpu)?.to_dtype(self.dtype)?)
    }

    /// `"{path}.{what}"`: a state name (`weight`) or a value of the element's own.
    pub fn named(&self, what: &str) -> String {
        format!("{}.{what}", self.name)
    }
}

/// One ONNX attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    /// An integer.
    Int(&'static str, i64),
    /// A list of integers.
    Ints(&'static str, Vec<i64>),
    /// A float (ONNX stores attribute floats as f32, also in f64 models).
    Float(&'static str, f32),
}

impl Attribute {
    /// An integer attribute.
    pub fn int(name: &'static str, v: i64) -> Self {
        Attribute::Int(name, v)
    }

    /// A list-of-integers attribute.
    pub fn ints(name: &'static str, v: &[i64]) -> Self {
        Attribute::Ints(name, v.to_vec())
    }

    /// A float attribute.
    pub fn float(name: &'static str, v: f64) -> Self {
        Attribute::Float(name, v as f32)
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The ONNX op (`Gemm`, `LSTM`, ...), standard domain.
    pub op: &'static str,
    /// A name unique in the graph.
    pub name: String,
    /// Value names read (an empty name is an omitted optional input).
    pub inputs: Vec<String>,
    /// Value names written.
    pub outputs: Vec<String>,
    /// Attributes, in the order written.
    pub attributes: Vec<Attribute>,
}

/// A constant of the graph (an ONNX initializer).
#[derive(Debug, Clone)]
pub enum Constant {
    /// A float tensor in the model's float type (a state entry, or a value
    /// derived from one, like an LSTM's weights in ONNX's gate order).
    Float(String, Tensor),
    /// An INT64 tensor: its name, dims and values (shapes, indices, axes).
    Int(String, Vec<usize>, Vec<i64>),
}

impl Constant {
    /// The constant's name.
    pub fn name(&self) -> &str {
        match self {
            Constant::Float(n, _) | Constant::Int(n, _, _) => n,
        }
    }
}

/// An element's nodes and constants.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// Nodes, in an order where every input is written before it is read.
    pub nodes: Vec<Node>,
    /// Constants the nodes read.
    pub constants: Vec<Constant>,
}

impl Export {
    /// Adds a node named `"{scope}.{op}"` (`"{scope}.{op}{k}"` for the k-th
    /// more of the same op).
    pub fn node(
        &mut self,
        op: &'static str,
        scope: &Scope,
        inputs: Vec<String>,
        outputs: Vec<String>,
        attributes: Vec<Attribute>,
    ) {
        let prefix = scope.named(op);
        let same = self
            .nodes
            .iter()
            .filter(|n| n.name == prefix || n.name.starts_with(&format!("{prefix}#")))
            .count();
        let name = if same == 0 {
            prefix
        } else {
            format!("{prefix}#{same}")
        };
        self.nodes.push(Node {
            op,
            name,
            inputs,
            outputs,
            attributes,
        });
    }

    /// Adds a float constant.
    pub fn float(&mut self, name: String, t: Tensor) {
        self.constants.push(Constant::Float(name, t));
    }

    /// Adds an INT64 constant.
    pub fn int(&mut self, name: String, dims: Vec<usize>, values: Vec<i64>) {
        self.constants.push(Constant::Int(name, dims, values));
    }

    /// Appends another export's nodes and constants.
    pub fn extend(&mut self, other: Export) {
        self.nodes.extend(other.nodes);
        self.constants.extend(other.constants);
    }
}
