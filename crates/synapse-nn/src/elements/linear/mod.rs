//! `linear(IN,OUT[,bias=false][,tied=I])`, PyTorch's `nn.Linear(IN, OUT)`:
//! `y = x W^T + b`.
//!
//! Shapes: `x` `[..., IN]` (any rank of at least 2; every leading dimension
//! is a row), `W` `[OUT, IN]` (PyTorch's layout), `b` `[OUT]`, `y` `[..., OUT]`.
//! Gradients: `dW = dy^T x`, `db = sum_rows dy`, `dx = dy W`.
//! State: `weight [OUT, IN]`, `bias [OUT]`. Init: weight fans `(IN, OUT)`;
//! `numpy-uniform` draws the weight as `(IN, OUT)` and stores it transposed
//! (the article's `2*np.random.random((3,1)) - 1`).
//!
//! `tied=I` (GPT-2's `lm_head`, PyTorch's `lm_head.weight = wte.weight`):
//! the weight is element I's `[OUT, IN]` `weight` (an `embedding(OUT,IN)`
//! before it in the same stack), one variable: its gradient is the sum of
//! both uses (candle's store and [`crate::backward`] add them), optimizers
//! see it once, and the state stores it once, under element I's name. The
//! tied layer's own state is its bias alone. ONNX: both nodes read the one
//! initializer.
//! ONNX: `Gemm` (`transB=1`; no `C` without bias) on rank 2, else
//! `MatMul` by the transposed weight and `Add`.
//!
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops below (matmul, broadcast add), which autodiff differentiates on
//! any device, and the CPU kernel in `kernel.rs`, which also applies a
//! following sigmoid, tanh, relu or identity in the same pass (the stack's
//! plan pairs them, `kernel/plan.rs`) and carries its own backward. Two
//! linear layers in a row (each with such an activation) run as the
//! linked pair of `pair.rs`, whose hidden layer stays out of candle's graph.
//! Reference: `synapse_reference::RefDense`.
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use synapse_nn::Linear;
//! let dev = Device::Cpu;
//! let w = Var::from_tensor(&Tensor::new(&[[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]], &dev)?)?;
//! let b = Var::from_tensor(&Tensor::new(&[0.5f64, -0.5, 0.0], &dev)?)?;
//! let layer = Linear::new(w, Some(b))?;
//! let y = layer.forward(&Tensor::new(&[[1.0f64, 1.0]], &dev)?)?;
//! assert_eq!(y.to_vec2::<f64>()?, [[3.5, 6.5, 11.0]]);
//! // Any rank: each row of the last dimension.
//! let y3 = layer.forward(&Tensor::new(&[[[1.0f64, 1.0], [0.0, 1.0]]], &dev)?)?;
//! assert_eq!(y3.dims(), [1, 2, 3]);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

mod kernel;
pub(crate) mod link;
mod pair;

use std::fmt;

use candle_core::{Tensor, Var};

use super::def::{Convert, ElementDef, ElementOps, Emit, StateEntry, Take, Tie};
use crate::export::{Attribute, Export, Scope};
use crate::init::Draws;
use crate::kernel::act::{then_act, DenseAct, KernelAct};
use crate::kernel::plan::{self, Stage};
use crate::spec::{flag, last_dim, whole, Args, RowShape};
use crate::{Activation, ElementKind, ElementSpec, Error, Init, Layer, Mode, Result};

/// The spec of a dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearSpec {
    /// Inputs.
    pub input: usize,
    /// Outputs.
    pub output: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
    /// `Some(I)`: the weight is element I's `weight` (see the module doc).
    pub tied: Option<usize>,
}

impl fmt::Display for LinearSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bias = if self.bias { "" } else { ",bias=false" };
        write!(f, "linear({},{}{bias}", self.input, self.output)?;
        if let Some(i) = self.tied {
            write!(f, ",tied={i}")?;
        }
        write!(f, ")")
    }
}

impl ElementDef for LinearSpec {
    fn last_dim(&self) -> Option<usize> {
        Some(self.input)
    }

    fn checks_own_input(&self) -> bool {
        true
    }

    /// The dense kernel takes the activation after it, if it applies it,
    /// and the next linear layer with its own (`pair.rs`), if one follows.
    fn stage(&self, elements: &[ElementSpec], i: usize) -> Stage {
        let act = plan::dense_act(elements, i + 1);
        let second = act.map_or(i + 1, |a| a + 1);
        match elements.get(second) {
            Some(ElementSpec::Linear(_)) => Stage::Mlp {
                linear: i,
                act,
                second,
                act2: plan::dense_act(elements, second + 1),
            },
            _ => Stage::Dense { linear: i, act },
        }
    }

    fn kind(&self) -> ElementKind {
        ElementKind::Linear
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&["bias", "tied"])?;
        a.count(
            2..=2,
            name,
            "two sizes: linear(IN,OUT) or linear(IN,OUT,bias=false)",
        )?;
        Ok(ElementSpec::Linear(LinearSpec {
            input: whole(a.sizes[0], "input size", 1)?,
            output: whole(a.sizes[1], "output size", 1)?,
            bias: flag(a.option("bias"), "bias", true)?,
            tied: a
                .option("tied")
                .map(|i| whole(i, "tied: the element whose weight it uses", 0))
                .transpose()?,
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::known(&[self.input]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        let dims = last_dim(input, self.input, "its input size")?;
        let mut out = dims.to_vec();
        *out.last_mut().expect("at least one size") = Some(self.output);
        Ok(RowShape::new(out))
    }

    fn tied(&self) -> Option<Tie> {
        self.tied.map(|element| Tie {
            element,
            name: "weight",
            shape: vec![self.output, self.input],
        })
    }

    fn state(&self) -> Vec<StateEntry> {
        let mut s = Vec::new();
        if self.tied.is_none() {
            s.push(StateEntry::parameter(
                "weight",
                vec![self.output, self.input],
            ));
        }
        if self.bias {
            s.push(StateEntry::parameter("bias", vec![self.output]));
        }
        s
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        let (i, o) = (self.input, self.output);
        if self.tied.is_some() {
            // Drawn by element I.
        } else if init == Init::NumpyUniform {
            // Drawn as (in, out) row-major, stored as [out, in].
            let drawn: Vec<f64> = (0..i * o).map(|_| 2.0 * draws.sample() - 1.0).collect();
            let stored = (0..o).flat_map(|c| (0..i).map(move |r| (r, c)));
            emit(
                "weight".into(),
                vec![o, i],
                &mut stored.map(|(r, c)| drawn[r * o + c]),
            );
        } else {
            init.weight(draws, emit, "weight", vec![o, i], (i, o));
        }
        if self.bias {
            init.bias(draws, emit, "bias", o, i);
        }
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let w = take("weight", &[self.output, self.input])?;
        let b = self
            .bias
            .then(|| take("bias", &[self.output]))
            .transpose()?;
        let mut layer = Linear::new(w, b)?;
        layer.tied = self.tied;
        Ok(Layer::Linear(layer))
    }
}

/// A dense layer built from given parameters (see [`crate::init`] for random ones).
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Var,
    bias: Option<Var>,
    /// `Some(I)`: `weight` is element I's (see the module doc).
    tied: Option<usize>,
}

impl Linear {
    /// Builds the layer from a weight `[out, in]` and an optional bias `[out]`.
    pub fn new(weight: Var, bias: Option<Var>) -> Result<Self> {
        let (out, _) = match weight.dims() {
            &[o, i] => (o, i),
            d => return Err(Error::shape("linear weight", "[out, in]", d)),
        };
        if let Some(b) = &bias {
            if b.dims() != [out] {
                return Err(Error::shape("linear bias", format!("[{out}]"), b.dims()));
            }
            if b.dtype() != weight.dtype() {
                return Err(Error::DType {
                    context: "linear bias".into(),
                    expected: weight.dtype(),
                    got: b.dtype(),
                });
            }
        }
        Ok(Self {
            weight,
            bias,
            tied: None,
        })
    }

    /// The layer of `linear(...,tied=I)`: `weight` must be element I's own
    /// variable (a clone of it, sharing its storage), which
    /// [`crate::Sequential::new`] checks.
    pub fn tied(weight: Var, bias: Option<Var>, element: usize) -> Result<Self> {
        let mut layer = Self::new(weight, bias)?;
        layer.tied = Some(element);
        Ok(layer)
    }

    /// `Some(I)` when the weight is element I's.
    pub fn tied_to(&self) -> Option<usize> {
        self.tied
    }

    /// The weight, `[out, in]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// The bias, `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// Number of inputs.
    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Number of outputs.
    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Checks that `x` is `[..., in]` of rank at least 2.
    pub fn check_input(&self, x: &Tensor) -> Result<()> {
        match x.dims() {
            [_, .., i] if *i == self.in_features() => Ok(()),
            d => Err(Error::shape(
                "linear input",
                format!("[batch, ..., {}]", self.in_features()),
                d,
            )),
        }
    }

    /// `x W^T + b` for `x` of shape `[..., in]`; `[..., out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_then(x, None)
    }

    /// `act(x W^T + b)`: the layer and the activation after it in the stack
    /// (one kernel on the CPU when the activation is one it applies).
    ///
    /// # Shapes
    /// `x` `[..., in]` (rank at least 2) to `[..., out]`.
    pub fn forward_then(&self, x: &Tensor, act: Option<&Activation>) -> Result<Tensor> {
        self.check_input(x)?;
        let bias = self.bias.as_ref().map(|b| b.as_tensor());
        let mut tensors = vec![x, self.weight.as_tensor()];
        tensors.extend(bias);
        if crate::kernel::use_kernel(true, &tensors) {
            // The kernel takes every rank itself: no reshape nodes.
            return then_act(act, |fused| kernel::dense(x, &self.weight, bias, fused));
        }
        // Every leading dimension is a row: [rows, in] for the product.
        let dims = x.dims().to_vec();
        let rows: usize = dims[..dims.len() - 1].iter().product();
        let x2 = if dims.len() == 2 {
            x.clone()
        } else {
            x.reshape((rows, self.in_features()))?
        };
        let y = x2.matmul(&self.weight.t()?)?;
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let y = match act {
            Some(a) => a.forward(&y)?,
            None => y,
        };
        if dims.len() == 2 {
            return Ok(y);
        }
        let mut out = dims;
        *out.last_mut().expect("rank >= 2") = self.out_features();
        Ok(y.reshape(out)?)
    }

    /// The weight and the bias as tensors.
    fn params(&self) -> (&Tensor, Option<&Tensor>) {
        (
            self.weight.as_tensor(),
            self.bias.as_ref().map(|b| b.as_tensor()),
        )
    }

    /// This layer and the activation after it as the dense kernel's
    /// `(W, b, act)`, when the kernel would run them on `x`: on the CPU,
    /// f32/f64 with kernels on (`kernel::use_kernel`), no bfloat16 weights,
    /// and an activation the kernel applies (or none). For the ops linked
    /// to the element before (`link.rs`): `None` runs them apart.
    pub(crate) fn as_kernel(
        &self,
        x: &Tensor,
        act: Option<&Activation>,
    ) -> Option<link::Layer<'_>> {
        let (w, b) = self.params();
        let mut tensors = vec![x, w];
        tensors.extend(b);
        let fused = match act.map(DenseAct::of) {
            None => DenseAct::Out(KernelAct::Identity),
            Some(fused) => fused?,
        };
        let float_weights = tensors
            .iter()
            .all(|t| t.dtype() != candle_core::DType::BF16);
        (float_weights && crate::kernel::use_kernel(true, &tensors)).then_some((w, b, fused))
    }

    /// `act2(act(x W^T + b) W2^T + b2)`: this layer, then `next`, each with
    /// the activation after it in the stack. On the CPU the two run as the
    /// linked pair of `pair.rs` (the hidden layer out of candle's graph);
    /// otherwise one after the other. With `join` (the input of the
    /// residual block the pair ends), the pair adds it in its second
    /// layer's output buffer when it can (`link.rs`'s residual join: that
    /// layer's activation the identity, its output `join`'s shape), and
    /// says so: `(join + y, true)`, else `(y, false)`.
    fn forward_pair(
        &self,
        x: &Tensor,
        act: Option<&Activation>,
        (next, act2): (&Linear, Option<&Activation>),
        join: Option<&Tensor>,
    ) -> Result<(Tensor, bool)> {
        self.check_input(x)?;
        if next.in_features() == self.out_features() {
            if let (Some(first), Some(second)) = (self.as_kernel(x, act), next.as_kernel(x, act2)) {
                let mut out = x.dims().to_vec();
                *out.last_mut().expect("checked: rank >= 2") = next.out_features();
                let join = join.filter(|r| {
                    second.2 == DenseAct::Out(KernelAct::Identity)
                        && r.dims() == out
                        && crate::kernel::use_kernel(true, &[x, r])
                });
                let y = pair::dense_pair(x, first, second, join)?;
                return Ok((y, join.is_some()));
            }
        }
        let h = self.forward_then(x, act)?;
        Ok((next.forward_then(&h, act2)?, false))
    }
}

impl Linear {
    /// Runs `stage`, which begins with this layer: `(y, joined)`, where a
    /// pair is given `join` (see [`Linear::forward_pair`]).
    fn run_stage(
        &self,
        stage: Stage,
        layers: &[Layer],
        x: &Tensor,
        join: Option<&Tensor>,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, bool)> {
        let act_at = |i| super::activation::stage_activation(layers, i);
        match stage {
            Stage::Dense { act, .. } => Ok((self.forward_then(x, act_at(act))?, false)),
            Stage::Mlp {
                act, second, act2, ..
            } => {
                let Layer::Linear(next) = &layers[second] else {
                    return Err(Error::SpecWhole(format!(
                        "the fusion plan pairs element {second} as a linear layer, which it is not"
                    )));
                };
                self.forward_pair(x, act_at(act), (next, act_at(act2)), join)
            }
            _ => Ok((ElementOps::forward(self, x, mode)?, false)),
        }
    }
}

/// `x W^T + b` by the dense kernel (CPU, f32/f64: the caller decided with
/// `kernel::use_kernel`), for attention's projections.
///
/// # Shapes
/// `x` `[..., in]` (rank at least 2), `weight` `[out, in]`, `bias` `[out]`,
/// to `[..., out]`.
pub(crate) fn kernel_product(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let identity = DenseAct::Out(KernelAct::Identity);
    Ok(kernel::dense(x, weight, bias, identity)?)
}

/// `r + (x W^T + b)` by the dense kernel with the residual join of
/// `link.rs` (the add in the product's own output buffer), for attention's
/// output projection at the end of a residual block (CPU, f32/f64: the
/// caller decided with `kernel::use_kernel`).
///
/// # Shapes
/// `x` `[..., in]` (rank at least 2), `weight` `[out, in]`, `bias` `[out]`,
/// `r` `[..., out]`.
pub(crate) fn kernel_product_joined(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    r: &Tensor,
) -> Result<Tensor> {
    let x = kernel::rows_input(x)?;
    Ok(link::dense_joined(&x, (weight, bias), r)?)
}

impl ElementOps for Linear {
    fn maps_positions(&self) -> bool {
        true
    }

    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Linear::forward(self, x)
    }

    fn forward_stage(
        &self,
        stage: Stage,
        layers: &[Layer],
        x: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        Ok(self.run_stage(stage, layers, x, None, mode)?.0)
    }

    /// A pair ending a residual block's branch adds `r` in its last
    /// product (`forward_pair`'s join).
    fn forward_stage_joined(
        &self,
        stage: Stage,
        layers: &[Layer],
        x: &Tensor,
        r: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, bool)> {
        self.run_stage(stage, layers, x, Some(r), mode)
    }

    fn state(&self) -> Vec<(String, &Var)> {
        let mut state = super::def::weight_and_bias(&self.weight, self.bias.as_ref());
        if self.tied.is_some() {
            state.retain(|(name, _)| name != "weight");
        }
        state
    }

    fn tied_var(&self) -> Option<(usize, &Var)> {
        self.tied.map(|i| (i, &self.weight))
    }

    /// The weight in bfloat16 (a tied one is its owner's, converted once).
    fn with_bf16_weights(&self, convert: &mut Convert<'_>) -> Result<Option<Layer>> {
        Ok(Some(Layer::Linear(Linear {
            weight: convert(&self.weight)?,
            bias: self.bias.clone(),
            tied: self.tied,
        })))
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Linear(LinearSpec {
            input: self.in_features(),
            output: self.out_features(),
            bias: self.bias.is_some(),
            tied: self.tied,
        })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let b = scope.named("bias");
        let w = match self.tied {
            // Element I wrote the initializer (a top-level element: `I.weight`).
            Some(i) => format!("{i}.weight"),
            None => {
                let w = scope.named("weight");
                e.float(w.clone(), self.weight.as_tensor().clone());
                w
            }
        };
        if let Some(bias) = &self.bias {
            e.float(b.clone(), bias.as_tensor().clone());
        }
        if scope.rank <= 2 {
            let mut inputs = vec![scope.input.clone(), w];
            inputs.extend(self.bias.as_ref().map(|_| b));
            let attrs = vec![Attribute::int("transB", 1)];
            e.node("Gemm", scope, inputs, vec![scope.output.clone()], attrs);
            return Ok(e);
        }
        let wt = scope.named("weight_t");
        let perm = vec![Attribute::ints("perm", &[1, 0])];
        e.node("Transpose", scope, vec![w], vec![wt.clone()], perm);
        let product = match self.bias {
            Some(_) => scope.named("product"),
            None => scope.output.clone(),
        };
        e.node(
            "MatMul",
            scope,
            vec![scope.input.clone(), wt],
            vec![product.clone()],
            vec![],
        );
        if self.bias.is_some() {
            e.node(
                "Add",
                scope,
                vec![product, b],
                vec![scope.output.clone()],
                vec![],
            );
        }
        Ok(e)
    }
}
