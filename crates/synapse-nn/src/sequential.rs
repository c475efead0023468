//! `Sequential`: an ordered stack of elements, `y = f_n(... f_1(f_0(x)))`.
//!
//! Shapes: rows are `[batch, ...]` as [`ArchSpec::input_shape`] says (`[batch, in]`
//! for a dense stack, `[batch, C, H, W]` for one that starts with `conv2d`,
//! `[batch, T]` integer ids for one that starts with `embedding`).
//! State follows PyTorch's `nn.Sequential` state_dict (SPEC sections 2 and 10):
//! element `i` owns `"{i}.weight"` and `"{i}.bias"` (learned: [`Sequential::parameters`])
//! and, for a batchnorm, `"{i}.running_mean"`, `"{i}.running_var"` and
//! `"{i}.num_batches_tracked"` (not learned: [`Sequential::buffers`]); a
//! block's inner element `j` owns `"{i}.{j}.weight"` and so on.
//! [`Sequential::state`] lists both in state_dict order. We never rely on a `VarMap`.
//!
//! Which neighbouring elements run as one CPU kernel is planned when the
//! stack is built (`kernel/plan.rs`; [`ArchSpec::fused`]). A stack is also
//! a candle-nn `ModuleT` (training draws dropout masks from a generator of
//! its own, seeded with [`MODULE_SEED`]), and [`Sequential::eval`] a `Module`.
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
use std::sync::Mutex;

use candle_core::{DType, Device, Tensor, Var};

use crate::elements::def::StateKind;
use crate::stack::Stack;
use crate::{ArchSpec, ElementSpec, Error, Init, Layer, Mode, Mt19937, Result};

/// The most parameters a stack may have (16 GiB of f64): beyond it a spec is
/// refused before anything is allocated. Callers set lower limits of their own.
pub const MAX_PARAMETERS: usize = 1 << 31;

/// The seed of the generator a stack's `ModuleT::forward_t` draws dropout
/// masks from (the Trainer passes its own, seeded by the user).
pub const MODULE_SEED: u32 = 0x5eed;

/// An ordered stack of layers on one device, in one dtype.
#[derive(Debug)]
pub struct Sequential {
    stack: Stack,
    spec: ArchSpec,
    dtype: DType,
    device: Device,
    module_rng: Mutex<Mt19937>,
}

impl Clone for Sequential {
    fn clone(&self) -> Self {
        Self {
            stack: self.stack.clone(),
            spec: self.spec.clone(),
            dtype: self.dtype,
            device: self.device.clone(),
            module_rng: Mutex::new(Mt19937::new(MODULE_SEED)),
        }
    }
}

/// The values [`Sequential::check_values`] reads at a time (512 KB in f64).
const CHECK_CHUNK: usize = 1 << 16;

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
        check_shared(&layers)?;
        let stack = Stack::new(layers);
        let first = stack
            .state()
            .into_iter()
            .map(|(_, v)| v.clone())
            .find(|v| v.dtype().is_float());
        let Some(first) = first else {
            return Err(Error::SpecWhole(
                "a stack needs at least one layer with parameters".into(),
            ));
        };
        let (dtype, device) = (first.dtype(), first.device().clone());
        let net = Self {
            stack,
            spec,
            dtype,
            device,
            module_rng: Mutex::new(Mt19937::new(MODULE_SEED)),
        };
        let kinds = net.spec.state();
        for ((name, t), entry) in net.state().into_iter().zip(kinds) {
            let want = if entry.kind == StateKind::Count {
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
        init.draw_each(spec, seed, &mut |name, shape, values| {
            let var = match dtype {
                DType::F64 => Var::from_vec(values.collect::<Vec<f64>>(), shape, device),
                // `as f32`: the same rounding as candle's `to_dtype`.
                // mutants: deleting this arm is equivalent in values (the
                // general arm below rounds the same; it only copies more).
                DType::F32 => {
                    Var::from_vec(values.map(|v| v as f32).collect::<Vec<_>>(), shape, device)
                }
                _ => Tensor::from_vec(values.collect::<Vec<f64>>(), shape, device)
                    .and_then(|t| t.to_dtype(dtype))
                    .and_then(|t| Var::from_tensor(&t)),
            };
            match var {
                Ok(v) => {
                    tensors.insert(name, v.as_tensor().clone());
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        for entry in spec.state() {
            let t = match entry.kind {
                StateKind::Parameter => continue,
                StateKind::Count => Tensor::new(0i64, device)?,
                StateKind::Buffer if entry.name.ends_with(".running_var") => {
                    Tensor::ones(entry.shape, dtype, device)?
                }
                StateKind::Buffer => Tensor::zeros(entry.shape, dtype, device)?,
            };
            tensors.insert(entry.name, t);
        }
        Self::build(spec, &tensors, dtype, device, Source::Own)
    }

    /// A stack whose state is the given tensors, named as in SPEC section 2:
    /// every parameter and every buffer must be present with its exact shape,
    /// and nothing else. Float tensors are copied to `device` and converted to
    /// `dtype`; `num_batches_tracked` may be any integer dtype (stored as I64).
    /// Every value must be usable: finite, and a `running_var` or
    /// `num_batches_tracked` at least 0 (a NaN weight would make every
    /// prediction wrong, a negative variance NaN); the error names the tensor.
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

    /// [`Sequential::from_tensors`] for tensors made for the new stack alone
    /// (a loader's, which it hands over): those that are variables already
    /// (`Var::as_tensor`) in `dtype` on `device` become the stack's own
    /// without a copy, so that loading a large model holds each weight once.
    pub fn from_own_tensors(
        spec: &ArchSpec,
        tensors: HashMap<String, Tensor>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let net = Self::build(spec, &tensors, dtype, device, Source::Own)?;
        drop(tensors);
        net.check_values()?;
        Ok(net)
    }

    /// Every parameter and buffer finite; variances and counts at least 0.
    /// Read a slice of at most [`CHECK_CHUNK`] values at a time, so that a
    /// large model's check never holds an f64 copy of a whole tensor (GPT-2's
    /// 50257 x 768 table would be 300 MB).
    fn check_values(&self) -> Result<()> {
        for ((name, t), entry) in self.state().into_iter().zip(self.spec.state()) {
            let flat = t.flatten_all()?;
            let nonnegative = entry.kind == StateKind::Count || name.ends_with(".running_var");
            let n = flat.elem_count();
            let mut from = 0;
            while from < n {
                let len = CHECK_CHUNK.min(n - from);
                let values = flat
                    .narrow(0, from, len)?
                    .to_dtype(DType::F64)?
                    .to_vec1::<f64>()?;
                let bad = values
                    .iter()
                    .position(|v| !v.is_finite() || (nonnegative && *v < 0.0));
                if let Some(k) = bad {
                    let what = if nonnegative {
                        "a finite number at least 0"
                    } else {
                        "finite"
                    };
                    let reason = format!(
                        "holds {} at element {}; every value must be {what}",
                        values[k],
                        from + k
                    );
                    return Err(if entry.kind == StateKind::Parameter {
                        Error::Parameter { name, reason }
                    } else {
                        Error::Buffer { name, reason }
                    });
                }
                from += len;
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
        let entries = spec.state();
        if let Some(extra) = tensors
            .keys()
            .filter(|k| !entries.iter().any(|e| e.name == **k))
            .min()
        {
            return Err(Error::Parameter {
                name: extra.clone(),
                reason: format!("is not a parameter or buffer of `{spec}`"),
            });
        }
        let take = |name: String, shape: &[usize]| -> Result<Var> {
            let kind = entries
                .iter()
                .find(|e| e.name == name)
                .map_or(StateKind::Parameter, |e| e.kind);
            let fail = |reason: String| match kind {
                StateKind::Parameter => Error::Parameter {
                    name: name.clone(),
                    reason,
                },
                _ => Error::Buffer {
                    name: name.clone(),
                    reason,
                },
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
            let t = if kind == StateKind::Count {
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
        let mut layers: Vec<Layer> = Vec::with_capacity(spec.elements().len());
        for (i, e) in spec.elements().iter().enumerate() {
            // A tie takes the owner's variable itself (ArchSpec checked its shape).
            let tie = e.tied().and_then(|t| {
                let owner = layers.get(t.element)?.state();
                let var = owner.into_iter().find(|(n, _)| n == t.name)?.1.clone();
                Some((t.name, var))
            });
            layers.push(e.build(&mut |name, shape| match &tie {
                Some((tied, var)) if name == *tied => Ok(var.clone()),
                _ => take(format!("{i}.{name}"), shape),
            })?);
        }
        Self::new(layers)
    }

    /// The stack for generation with its large matrices in bfloat16: the
    /// weights of `linear` (a tied one stays its owner's) and of
    /// `attention`'s projections, and `embedding` tables; everything else,
    /// and every activation, in f32 ([`Sequential::dtype`] is F32). The
    /// dense kernel multiplies them with f32 accumulation
    /// (`kernel/rowdot.rs`), reading half the bytes of f32 weights: decoding
    /// one token reads every weight once. CPU only, and for evaluation
    /// only: nothing differentiates through bfloat16 weights (a backward is
    /// an error), so never train the result.
    pub fn with_bf16_weights(&self) -> Result<Sequential> {
        if !self.device.is_cpu() {
            return Err(Error::SpecWhole(
                "bfloat16 weights run on the CPU only".into(),
            ));
        }
        let widened;
        let net = if self.dtype == DType::F32 {
            self
        } else {
            let state: HashMap<String, Tensor> = self.snapshot()?.into_iter().collect();
            widened = Self::from_tensors(&self.spec, &state, DType::F32, &self.device)?;
            &widened
        };
        // One conversion per variable: a tied weight stays shared.
        let mut done: HashMap<candle_core::TensorId, Var> = HashMap::new();
        let mut convert = |v: &Var| -> Result<Var> {
            if let Some(c) = done.get(&v.id()) {
                return Ok(c.clone());
            }
            let c = Var::from_tensor(&v.as_tensor().to_dtype(DType::BF16)?)?;
            done.insert(v.id(), c.clone());
            Ok(c)
        };
        let layers = net
            .layers()
            .iter()
            .map(|l| l.with_bf16_weights(&mut convert))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            stack: Stack::new(layers),
            spec: self.spec.clone(),
            dtype: DType::F32,
            device: self.device.clone(),
            module_rng: Mutex::new(Mt19937::new(MODULE_SEED)),
        })
    }

    /// Whether the stack takes integer ids (it starts with `embedding`; see
    /// [`ArchSpec::takes_ids`]).
    pub fn takes_ids(&self) -> bool {
        self.spec.takes_ids()
    }

    /// Runs the stack on a batch, in training or evaluation (see [`Mode`]).
    ///
    /// # Shapes
    /// `x` `[batch, ...]` fitting [`ArchSpec::input_shape`] (integer or
    /// float ids `[batch, T]` for a stack that starts with `embedding`); the
    /// output is `[batch, ...]` as [`ArchSpec::output_shapes`] says.
    pub fn forward(&self, x: &Tensor, mut mode: Mode<'_>) -> Result<Tensor> {
        if x.dtype() != self.dtype() && !self.takes_ids() {
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
        // naming the first element it does not fit. Dense stacks skip it
        // (`ElementDef::checks_own_input`): each linear checks its input,
        // nothing there has state, and the article's 4-row steps would pay a
        // few percent for it.
        if !self
            .spec
            .elements()
            .iter()
            .all(ElementSpec::checks_own_input)
        {
            self.spec.check_input(&x.dims()[1..])?;
        }
        self.stack.forward(x, &mut mode)
    }

    /// The learned parameters with their names, in the stable order of SPEC
    /// section 2 (what optimizers get).
    pub fn parameters(&self) -> Vec<(String, Var)> {
        self.of_kind(|k| k == StateKind::Parameter)
            .map(|(n, v)| (n, v.clone()))
            .collect()
    }

    /// The buffers (batchnorm running statistics and counts) with their names;
    /// never learned, so never given to an optimizer. They share storage with
    /// the stack: they show its updates.
    pub fn buffers(&self) -> Vec<(String, Tensor)> {
        self.of_kind(|k| k != StateKind::Parameter)
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect()
    }

    fn of_kind(&self, keep: impl Fn(StateKind) -> bool) -> impl Iterator<Item = (String, &Var)> {
        self.stack
            .state()
            .into_iter()
            .zip(self.spec.state())
            .filter(move |(_, e)| keep(e.kind))
            .map(|(s, _)| s)
    }

    /// Parameters and buffers in PyTorch's state_dict order (element by
    /// element, its parameters then its buffers), sharing storage with the stack.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.stack
            .state()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect()
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
        let vars = self.stack.state();
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
        self.stack.layers()
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

    /// The ONNX nodes of the whole stack in evaluation mode, element `i` at
    /// path `"{i}"`, from the value `input` to `output` (see [`crate::export`]).
    pub fn export(&self, input: &str, output: &str, opset: i64) -> Result<crate::export::Export> {
        let rank = self.spec.input_shape().dims().map_or(0, |d| d.len() + 1);
        crate::stack::export_chain(
            self.layers(),
            "",
            (input, output),
            rank,
            (self.dtype, opset),
        )
    }
}

impl fmt::Display for Sequential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.spec)
    }
}

/// A stack in evaluation mode as a candle-nn `Module` ([`Sequential::eval`]).
#[derive(Debug, Clone, Copy)]
pub struct Eval<'a>(&'a Sequential);

impl Sequential {
    /// The stack in evaluation mode as a candle-nn `Module`: `xs.apply(&net.eval())`.
    /// (The stack itself is a `ModuleT`: candle's blanket `impl ModuleT for
    /// M: Module` would otherwise make `forward_t(x, true)` evaluation.)
    pub fn eval(&self) -> Eval<'_> {
        Eval(self)
    }
}

impl candle_nn::Module for Eval<'_> {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        Sequential::forward(self.0, xs, Mode::Eval).map_err(candle_core::Error::wrap)
    }
}

impl candle_nn::ModuleT for Sequential {
    /// The stack in training mode (`train`: dropout masks from the stack's
    /// own generator, batch statistics) or evaluation.
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let out = if train {
            let mut rng = self.module_rng.lock().map_err(|_| {
                candle_core::Error::Msg("the stack's generator was poisoned".into())
            })?;
            Sequential::forward(self, xs, Mode::Train(&mut rng))
        } else {
            Sequential::forward(self, xs, Mode::Eval)
        };
        out.map_err(candle_core::Error::wrap)
    }
}

/// A tied layer ([`crate::Tie`]) holds its owner's variable itself, not a
/// copy: one tensor, one gradient.
fn check_shared(layers: &[Layer]) -> Result<()> {
    for (i, layer) in layers.iter().enumerate() {
        let Some((owner, var)) = layer.tied_var() else {
            continue;
        };
        let same = layers.get(owner).is_some_and(|o| {
            o.state()
                .iter()
                .any(|(_, v)| v.as_tensor().id() == var.as_tensor().id())
        });
        if !same {
            return Err(Error::Parameter {
                name: format!("{i}.weight"),
                reason: format!(
                    "is tied to element {owner} but is not its variable (pass a clone of it)"
                ),
            });
        }
    }
    Ok(())
}
