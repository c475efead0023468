//! `Sequential`: an ordered stack of layers, `y = f_n(... f_1(f_0(x)))`.
//!
//! Shapes: input `[batch, in]` with `in` the first linear's inputs, output
//! `[batch, out]`. Parameters are listed in a stable order with PyTorch's
//! `nn.Sequential` names (SPEC section 2): element `i` owns `"{i}.weight"`
//! `[out, in]` and `"{i}.bias"` `[out]`. We never rely on a `VarMap`'s order.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use synapse_nn::{Init, Sequential};
//! let spec = "linear(3,4), sigmoid, linear(4,1), sigmoid".parse()?;
//! let net = Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &Device::Cpu)?;
//! let names: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
//! let y = net.forward(&Tensor::zeros((5, 3), DType::F64, &Device::Cpu)?)?;
//! assert_eq!(y.dims(), [5, 1]);
//! assert_eq!(net.to_string(), "linear(3,4), sigmoid, linear(4,1), sigmoid");
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;

use candle_core::{DType, Device, Tensor, Var};

use crate::{Activation, ArchSpec, ElementSpec, Error, Init, Linear, Result};

/// The most parameters a stack may have (16 GiB of f64): beyond it a spec is
/// refused before anything is allocated. Callers set lower limits of their own.
pub const MAX_PARAMETERS: usize = 1 << 31;

/// One element of a stack.
#[derive(Debug, Clone)]
pub enum Layer {
    /// A dense layer with parameters.
    Linear(Linear),
    /// An activation without parameters.
    Activation(Activation),
}

impl Layer {
    /// Applies the element.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Layer::Linear(l) => l.forward(x),
            Layer::Activation(a) => a.forward(x),
        }
    }

    fn spec(&self) -> ElementSpec {
        match self {
            Layer::Linear(l) => ElementSpec::Linear {
                input: l.in_features(),
                output: l.out_features(),
                bias: l.bias().is_some(),
            },
            Layer::Activation(a) => ElementSpec::Activation(*a),
        }
    }
}

/// An ordered stack of layers on one device, in one dtype.
#[derive(Debug, Clone)]
pub struct Sequential {
    layers: Vec<Layer>,
    spec: ArchSpec,
    dtype: DType,
    device: Device,
}

impl Sequential {
    /// Builds a stack from given layers; sizes, dtypes and devices must agree.
    pub fn new(layers: Vec<Layer>) -> Result<Self> {
        let spec = ArchSpec::new(layers.iter().map(Layer::spec).collect())?;
        let first = layers
            .iter()
            .find_map(|l| match l {
                Layer::Linear(l) => Some(l.weight().clone()),
                Layer::Activation(_) => None,
            })
            .expect("ArchSpec::new guarantees a linear layer");
        let net = Self {
            layers,
            spec,
            dtype: first.dtype(),
            device: first.device().clone(),
        };
        let params = net.parameters();
        for (name, p) in &params {
            if p.dtype() != first.dtype() {
                return Err(Error::DType {
                    context: format!("parameter {name}"),
                    expected: first.dtype(),
                    got: p.dtype(),
                });
            }
            if !p.device().same_device(first.device()) {
                return Err(Error::Parameter {
                    name: name.clone(),
                    reason: "is on another device than 0's parameters".into(),
                });
            }
        }
        Ok(net)
    }

    /// A stack with randomly drawn parameters (see [`Init`]).
    pub fn init(
        spec: &ArchSpec,
        init: Init,
        seed: u32,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let count = spec.parameter_count();
        if count > MAX_PARAMETERS {
            return Err(Error::SpecWhole(format!(
                "`{spec}` has {count} parameters, more than the {MAX_PARAMETERS} that can be allocated"
            )));
        }
        let mut tensors = HashMap::new();
        for (name, shape, values) in init.draw(spec, seed) {
            let t = Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?;
            tensors.insert(name, t);
        }
        Self::from_tensors(spec, &tensors, dtype, device)
    }

    /// A stack whose parameters are the given tensors, named as in SPEC
    /// section 2; every name must be present with its exact shape, and no other.
    /// Tensors are copied to `device` and converted to `dtype`.
    pub fn from_tensors(
        spec: &ArchSpec,
        tensors: &HashMap<String, Tensor>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let expected = spec.parameter_shapes();
        if let Some(extra) = tensors
            .keys()
            .filter(|k| !expected.iter().any(|(n, _)| n == *k))
            .min()
        {
            return Err(Error::Parameter {
                name: extra.clone(),
                reason: format!("is not a parameter of `{spec}`"),
            });
        }
        let take = |name: String, shape: &[usize]| -> Result<Var> {
            let t = tensors.get(&name).ok_or_else(|| Error::Parameter {
                name: name.clone(),
                reason: format!("is missing (expected shape {shape:?})"),
            })?;
            if t.dims() != shape {
                return Err(Error::Parameter {
                    name,
                    reason: format!("has shape {:?}, expected {shape:?}", t.dims()),
                });
            }
            if !t.dtype().is_float() {
                return Err(Error::Parameter {
                    name,
                    reason: format!("has dtype {:?}, expected a float", t.dtype()),
                });
            }
            let t = t.to_device(device)?.to_dtype(dtype)?;
            // A fresh copy, so the stack never shares storage with its source.
            Ok(Var::from_tensor(&t.copy()?)?)
        };
        let mut layers = Vec::with_capacity(spec.elements().len());
        for (i, e) in spec.elements().iter().enumerate() {
            layers.push(match *e {
                ElementSpec::Linear {
                    input,
                    output,
                    bias,
                } => {
                    let w = take(format!("{i}.weight"), &[output, input])?;
                    let b = if bias {
                        Some(take(format!("{i}.bias"), &[output])?)
                    } else {
                        None
                    };
                    Layer::Linear(Linear::new(w, b)?)
                }
                ElementSpec::Activation(a) => Layer::Activation(a),
            });
        }
        Self::new(layers)
    }

    /// Runs the stack on `x` of shape `[batch, in]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.dtype() != self.dtype() {
            return Err(Error::DType {
                context: "stack input".into(),
                expected: self.dtype(),
                got: x.dtype(),
            });
        }
        let mut y = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            match (&self.layers[i], self.layers.get(i + 1)) {
                // A dense layer and the activation after it: one kernel on the CPU.
                (Layer::Linear(l), Some(Layer::Activation(a))) => {
                    y = l.forward_then(&y, Some(a))?;
                    i += 2;
                }
                (layer, _) => {
                    y = layer.forward(&y)?;
                    i += 1;
                }
            }
        }
        Ok(y)
    }

    /// The parameters with their names, in the stable order of SPEC section 2.
    pub fn parameters(&self) -> Vec<(String, Var)> {
        let mut params = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            if let Layer::Linear(l) = layer {
                params.push((format!("{i}.weight"), l.weight().clone()));
                if let Some(b) = l.bias() {
                    params.push((format!("{i}.bias"), b.clone()));
                }
            }
        }
        params
    }

    /// Copies of the current parameter values, named, in the stable order.
    pub fn snapshot(&self) -> Result<Vec<(String, Tensor)>> {
        self.parameters()
            .into_iter()
            .map(|(n, v)| Ok((n, v.as_tensor().copy()?)))
            .collect()
    }

    /// Sets every parameter from a [`Sequential::snapshot`] of the same stack.
    pub fn restore(&self, snapshot: &[(String, Tensor)]) -> Result<()> {
        let params = self.parameters();
        if params.len() != snapshot.len() {
            return Err(Error::config(
                "snapshot",
                format!("has {} tensors, the stack {}", snapshot.len(), params.len()),
            ));
        }
        for ((name, var), (snap_name, t)) in params.iter().zip(snapshot) {
            if name != snap_name {
                return Err(Error::Parameter {
                    name: snap_name.clone(),
                    reason: format!("found where `{name}` was expected"),
                });
            }
            var.set(t)?;
        }
        Ok(())
    }

    /// The elements in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The architecture spec of the stack.
    pub fn spec(&self) -> &ArchSpec {
        &self.spec
    }

    /// The dtype of every parameter.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device of every parameter.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl fmt::Display for Sequential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.spec)
    }
}
