//! `Sequential`: an ordered stack of elements, `y = f_n(... f_1(f_0(x)))`.
//!
//! Shapes: rows are `[batch, ...]` as [`ArchSpec::input_shape`] says (`[batch, in]`
//! for a dense stack, `[batch, C, H, W]` for one that starts with `conv2d`).
//! State follows PyTorch's `nn.Sequential` state_dict (SPEC section 2):
//! element `i` owns `"{i}.weight"` and `"{i}.bias"` (learned: [`Sequential::parameters`])
//! and, for a batchnorm, `"{i}.running_mean"`, `"{i}.running_var"` and
//! `"{i}.num_batches_tracked"` (not learned: [`Sequential::buffers`]).
//! [`Sequential::state`] lists both in state_dict order. We never rely on a `VarMap`.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use synapse_nn::{Init, Mode, Sequential};
//! let spec = "linear(3,4), sigmoid, linear(4,1), sigmoid".parse()?;
//! let net = Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &Device::Cpu)?;
//! let names: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
//! let y = net.forward(&Tensor::zeros((5, 3), DType::F64, &Device::Cpu)?, Mode::Eval)?;
//! assert_eq!(y.dims(), [5, 1]);
//! assert_eq!(net.to_string(), "linear(3,4), sigmoid, linear(4,1), sigmoid");
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;

use candle_core::{DType, Device, Tensor, Var};

use crate::elements::{BatchNormState, Layer, PoolKind};
use crate::{
    ArchSpec, BatchNorm, Conv2d, Dropout, ElementSpec, Error, Init, LayerNorm, Linear, Mode,
    Pool2d, Reshape, Result,
};

/// The most parameters a stack may have (16 GiB of f64): beyond it a spec is
/// refused before anything is allocated. Callers set lower limits of their own.
pub const MAX_PARAMETERS: usize = 1 << 31;

/// An ordered stack of layers on one device, in one dtype.
#[derive(Debug, Clone)]
pub struct Sequential {
    layers: Vec<Layer>,
    spec: ArchSpec,
    dtype: DType,
    device: Device,
}

/// Whose tensors [`Sequential::build`] gets: the caller's (always copied) or
/// ones made for the new stack alone (taken as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Caller,
    Own,
}

impl Sequential {
    /// Builds a stack from given layers; sizes, dtypes and devices must agree.
    pub fn new(layers: Vec<Layer>) -> Result<Self> {
        let spec = ArchSpec::new(layers.iter().map(Layer::spec).collect())?;
        let Some((_, first)) = layers.iter().flat_map(Layer::parameters).next() else {
            return Err(Error::SpecWhole(
                "a stack needs at least one layer with parameters".into(),
            ));
        };
        let (dtype, device) = (first.dtype(), first.device().clone());
        let net = Self {
            layers,
            spec,
            dtype,
            device,
        };
        for (name, t) in net.state() {
            let want = if name.ends_with(".num_batches_tracked") {
                DType::I64
            } else {
                dtype
            };
            if t.dtype() != want {
                return Err(Error::DType {
                    context: name.clone(),
                    expected: want,
                    got: t.dtype(),
                });
            }
            if !t.device().same_device(&net.device) {
                return Err(Error::Parameter {
                    name,
                    reason: "is on another device than the first parameter".into(),
                });
            }
        }
        Ok(net)
    }

    /// A stack with randomly drawn parameters (see [`Init`]) and fresh buffers
    /// (running mean 0, running variance 1, no batches tracked).
    pub fn init(
        spec: &ArchSpec,
        init: Init,
        seed: u32,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let count = spec.parameter_count().saturating_add(spec.buffer_count());
        if count > MAX_PARAMETERS {
            return Err(Error::SpecWhole(format!(
                "`{spec}` has {count} parameters, more than the {MAX_PARAMETERS} that can be allocated"
            )));
        }
        // Each parameter becomes its variable as soon as it is drawn, in the
        // stack's dtype: no f64 copy of an f32 model, no copies after.
        let mut tensors = HashMap::new();
        let mut failed = None;
        let mut keep = |name: String, var: candle_core::Result<Var>| match var {
            Ok(v) => {
                tensors.insert(name, v.as_tensor().clone());
            }
            Err(e) => {
                failed.get_or_insert(e);
            }
        };
        match dtype {
            DType::F64 => init.draw_each(
                spec,
                seed,
                |v| v,
                |name, shape, values| keep(name, Var::from_vec(values, shape, device)),
            ),
            // `as f32`: the same rounding as candle's `to_dtype`.
            DType::F32 => init.draw_each(
                spec,
                seed,
                |v| v as f32,
                |name, shape, values| keep(name, Var::from_vec(values, shape, device)),
            ),
            _ => init.draw_each(
                spec,
                seed,
                |v| v,
                |name, shape, values| {
                    let var = Tensor::from_vec(values, shape, device)
                        .and_then(|t| t.to_dtype(dtype))
                        .and_then(|t| Var::from_tensor(&t));
                    keep(name, var)
                },
            ),
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        for (name, shape) in spec.buffer_shapes() {
            let t = if name.ends_with(".num_batches_tracked") {
                Tensor::new(0i64, device)?
            } else if name.ends_with(".running_var") {
                Tensor::ones(shape, dtype, device)?
            } else {
                Tensor::zeros(shape, dtype, device)?
            };
            tensors.insert(name, t);
        }
        Self::build(spec, &tensors, dtype, device, Source::Own)
    }

    /// A stack whose state is the given tensors, named as in SPEC section 2:
    /// every parameter and every buffer must be present with its exact shape,
    /// and nothing else. Float tensors are copied to `device` and converted to
    /// `dtype`; `num_batches_tracked` may be any integer dtype (stored as I64).
    /// Every value must be usable: finite, and a `running_var` or
    /// `num_batches_tracked` at least 0 (a NaN weight would make every
    /// prediction wrong, a negative variance NaN); the error names the tensor
    /// and the element.
    pub fn from_tensors(
        spec: &ArchSpec,
        tensors: &HashMap<String, Tensor>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let net = Self::build(spec, tensors, dtype, device, Source::Caller)?;
        net.check_values()?;
        Ok(net)
    }

    /// Every parameter and buffer finite; variances and counts at least 0.
    fn check_values(&self) -> Result<()> {
        for (name, t) in self.state() {
            let values = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let nonnegative =
                name.ends_with(".running_var") || name.ends_with(".num_batches_tracked");
            let bad = values
                .iter()
                .position(|v| !v.is_finite() || (nonnegative && *v < 0.0));
            if let Some(at) = bad {
                let what = if nonnegative {
                    "a finite number at least 0"
                } else {
                    "finite"
                };
                let reason = format!(
                    "holds {} at element {at}; every value must be {what}",
                    values[at]
                );
                let buffer = self.buffers().iter().any(|(n, _)| *n == name);
                return Err(if buffer {
                    Error::Buffer { name, reason }
                } else {
                    Error::Parameter { name, reason }
                });
            }
        }
        Ok(())
    }

    /// [`Sequential::from_tensors`]; variables of a [`Source::Own`] map are
    /// taken as they are (no copy), a caller's are always copied.
    fn build(
        spec: &ArchSpec,
        tensors: &HashMap<String, Tensor>,
        dtype: DType,
        device: &Device,
        source: Source,
    ) -> Result<Self> {
        let (params, buffers) = (spec.parameter_shapes(), spec.buffer_shapes());
        if let Some(extra) = tensors
            .keys()
            .filter(|k| !params.iter().chain(&buffers).any(|(n, _)| n == *k))
            .min()
        {
            return Err(Error::Parameter {
                name: extra.clone(),
                reason: format!("is not a parameter or buffer of `{spec}`"),
            });
        }
        let take = |name: String, shape: &[usize]| -> Result<Var> {
            let buffer = buffers.iter().any(|(n, _)| *n == name);
            let fail = |reason: String| {
                if buffer {
                    Error::Buffer {
                        name: name.clone(),
                        reason,
                    }
                } else {
                    Error::Parameter {
                        name: name.clone(),
                        reason,
                    }
                }
            };
            let t = tensors
                .get(&name)
                .ok_or_else(|| fail(format!("is missing (expected shape {shape:?})")))?;
            if t.dims() != shape {
                return Err(fail(format!(
                    "has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            let counter = name.ends_with(".num_batches_tracked");
            let t = if counter {
                if t.dtype().is_float() {
                    return Err(fail(format!(
                        "has dtype {:?}, expected an integer",
                        t.dtype()
                    )));
                }
                t.to_device(device)?.to_dtype(DType::I64)?
            } else {
                if !t.dtype().is_float() {
                    return Err(fail(format!("has dtype {:?}, expected a float", t.dtype())));
                }
                t.to_device(device)?.to_dtype(dtype)?
            };
            // A fresh copy, so the stack never shares storage with a caller's
            // tensors (`Var::from_tensor` copies a plain tensor itself; a
            // variable it would share).
            if t.is_variable() && source == Source::Caller {
                Ok(Var::from_tensor(&t.copy()?)?)
            } else {
                Ok(Var::from_tensor(&t)?)
            }
        };
        let mut layers = Vec::with_capacity(spec.elements().len());
        for (i, e) in spec.elements().iter().enumerate() {
            let p = |suffix: &str, shape: &[usize]| take(format!("{i}.{suffix}"), shape);
            layers.push(match *e {
                ElementSpec::Linear {
                    input,
                    output,
                    bias,
                } => {
                    let w = p("weight", &[output, input])?;
                    let b = bias.then(|| p("bias", &[output])).transpose()?;
                    Layer::Linear(Linear::new(w, b)?)
                }
                ElementSpec::Activation(a) => Layer::Activation(a),
                ElementSpec::Dropout(prob) => Layer::Dropout(Dropout::new(prob)?),
                ElementSpec::BatchNorm {
                    features: n,
                    eps,
                    momentum,
                }
                | ElementSpec::BatchNorm2d {
                    channels: n,
                    eps,
                    momentum,
                } => {
                    let state = BatchNormState {
                        weight: p("weight", &[n])?,
                        bias: p("bias", &[n])?,
                        running_mean: p("running_mean", &[n])?,
                        running_var: p("running_var", &[n])?,
                        num_batches_tracked: p("num_batches_tracked", &[])?,
                    };
                    let spatial = matches!(e, ElementSpec::BatchNorm2d { .. });
                    Layer::BatchNorm(BatchNorm::new(state, eps, momentum, spatial)?)
                }
                ElementSpec::LayerNorm { features, eps } => Layer::LayerNorm(LayerNorm::new(
                    p("weight", &[features])?,
                    p("bias", &[features])?,
                    eps,
                )?),
                ElementSpec::Reshape(ref dims) => Layer::Reshape(Reshape::new(dims.clone())?),
                ElementSpec::Flatten => Layer::Flatten,
                ElementSpec::Conv2d {
                    input,
                    output,
                    kernel,
                    stride,
                    padding,
                    bias,
                } => {
                    let w = p("weight", &[output, input, kernel, kernel])?;
                    let b = bias.then(|| p("bias", &[output])).transpose()?;
                    Layer::Conv2d(Conv2d::new(w, b, stride, padding)?)
                }
                ElementSpec::MaxPool2d { kernel, stride } => {
                    Layer::Pool2d(Pool2d::new(PoolKind::Max, kernel, stride)?)
                }
                ElementSpec::AvgPool2d { kernel, stride } => {
                    Layer::Pool2d(Pool2d::new(PoolKind::Avg, kernel, stride)?)
                }
            });
        }
        Self::new(layers)
    }

    /// Runs the stack on a batch, in training or evaluation (see [`Mode`]).
    ///
    /// # Shapes
    /// `x` `[batch, ...]` fitting [`ArchSpec::input_shape`]; the output is
    /// `[batch, ...]` as [`ArchSpec::output_shapes`] says (`[batch, out]` for a
    /// stack that ends with a linear layer).
    pub fn forward(&self, x: &Tensor, mut mode: Mode<'_>) -> Result<Tensor> {
        if x.dtype() != self.dtype() {
            return Err(Error::DType {
                context: "stack input".into(),
                expected: self.dtype(),
                got: x.dtype(),
            });
        }
        if x.rank() == 0 {
            return Err(Error::shape("stack input", "[batch, ...]", x.dims()));
        }
        // Checks the whole input against the spec before any work (so that a
        // batchnorm never updates its statistics in a forward that then fails),
        // naming the first element it does not fit. Dense stacks skip it: each
        // linear checks its input, nothing there has state, and the article's
        // 4-row steps would pay a few percent for it.
        let dense = |l: &Layer| matches!(l, Layer::Linear(_) | Layer::Activation(_));
        if !self.layers.iter().all(dense) {
            self.spec.check_input(&x.dims()[1..])?;
        }
        let mut y = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            match (&self.layers[i], self.layers.get(i + 1)) {
                // A dense layer and the activation after it (one CPU kernel).
                (Layer::Linear(l), Some(Layer::Activation(a))) => {
                    y = l.forward_then(&y, Some(a))?;
                    i += 2;
                }
                // A convolution with the activation and the pool after it, when
                // there are (one CPU kernel).
                (Layer::Conv2d(c), next) => {
                    let act = match next {
                        Some(Layer::Activation(a)) => Some(a),
                        _ => None,
                    };
                    let at = i + 1 + usize::from(act.is_some());
                    let pool = match self.layers.get(at) {
                        Some(Layer::Pool2d(p)) => Some(p),
                        _ => None,
                    };
                    y = c.forward_then_pool(&y, act, pool)?;
                    i = at + usize::from(pool.is_some());
                }
                (layer, _) => {
                    y = layer.forward(&y, &mut mode)?;
                    i += 1;
                }
            }
        }
        Ok(y)
    }

    /// The learned parameters with their names, in the stable order of SPEC
    /// section 2 (what optimizers get).
    pub fn parameters(&self) -> Vec<(String, Var)> {
        self.collect(|l| l.parameters())
    }

    /// The buffers (batchnorm running statistics and counts) with their names;
    /// never learned, so never given to an optimizer. They share storage with
    /// the stack: they show its updates.
    pub fn buffers(&self) -> Vec<(String, Tensor)> {
        self.collect(|l| l.buffers())
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect()
    }

    /// Parameters and buffers in PyTorch's state_dict order (element by
    /// element, its parameters then its buffers), sharing storage with the stack.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.collect(|l| {
            let mut all = l.parameters();
            all.extend(l.buffers());
            all
        })
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect()
    }

    fn collect<'a>(
        &'a self,
        of: impl Fn(&'a Layer) -> Vec<(&'static str, &'a Var)>,
    ) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            out.extend(
                of(layer)
                    .into_iter()
                    .map(|(n, v)| (format!("{i}.{n}"), v.clone())),
            );
        }
        out
    }

    /// Copies of the whole state (parameters and buffers), named, in state_dict order.
    pub fn snapshot(&self) -> Result<Vec<(String, Tensor)>> {
        self.state()
            .into_iter()
            .map(|(n, t)| Ok((n, t.copy()?)))
            .collect()
    }

    /// Sets every parameter and buffer from a [`Sequential::snapshot`] of the same stack.
    pub fn restore(&self, snapshot: &[(String, Tensor)]) -> Result<()> {
        let vars = self.collect(|l| {
            let mut all = l.parameters();
            all.extend(l.buffers());
            all
        });
        if vars.len() != snapshot.len() {
            return Err(Error::config(
                "snapshot",
                format!("has {} tensors, the stack {}", snapshot.len(), vars.len()),
            ));
        }
        for ((name, var), (snap_name, t)) in vars.iter().zip(snapshot) {
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
