//! The one recurrent element that `lstm` and `gru` are: [`RecurrentSpec`]
//! and [`Recurrent`], generic over the kind's [`Gates`] (its cell, gate
//! count, plain-ops step, kernel and ONNX op, in the kind's own module).
//! Here: the grammar `name(IN,H)`, the shape rule, the state names, the
//! initial draws, the build, the plain-ops sequence (the input products of
//! every step as one product, then the steps), and the ONNX node with the
//! weights reordered to ONNX's gate order. `kernel.rs`: the CPU kernel's
//! frame (the whole sequence as one op, forward and backward through
//! time) around each kind's cell.
//!
//! Shapes: `[batch, T, IN]` to `[batch, T, H]`, zero initial states.
//! State (PyTorch's `nn.LSTM`/`nn.GRU` names, `G` gates): `weight_ih_l0
//! [G H, IN]`, `weight_hh_l0 [G H, H]`, `bias_ih_l0 [G H]`, `bias_hh_l0
//! [G H]`. Init `torch`: every tensor U(-1/sqrt(H), 1/sqrt(H)); `xavier`,
//! `he`: the weights by their fans, the biases 0; `numpy-uniform`: each
//! tensor as drawn.

pub(crate) mod kernel;
mod lookup;

use std::fmt;
use std::marker::PhantomData;

use candle_core::{Tensor, Var};

use super::activation::stage_activation;
use super::def::{ElementDef, ElementOps, Emit, StateEntry, Take};
use super::embedding::Embedding;
use super::linear::link::Then;
use super::linear::Linear;
use crate::export::{Attribute, Export, Scope};
use crate::init::{constant, numpy_uniform, Draws};
use crate::kernel::plan::{self, Stage};
use crate::spec::{whole, Args, RowShape};
use crate::{Activation, ElementKind, ElementSpec, Error, Init, Layer, Mode, Result};

/// What makes one recurrent kind (`lstm`, `gru`), implemented by its cell
/// in its own module: the rest of the element is [`Recurrent`]'s.
pub trait Gates: fmt::Debug + Copy + PartialEq + Eq + Send + Sync + 'static {
    /// The kind (its spec name is `KIND.name()`).
    const KIND: ElementKind;
    /// Gates `G` per hidden unit: each tensor has `G H` rows.
    const GATES: usize;
    /// The ONNX op (`LSTM`, `GRU`).
    const ONNX: &'static str;
    /// PyTorch's gate blocks in ONNX's gate order.
    const ONNX_ORDER: &'static [usize];

    /// The ONNX node's attributes besides `hidden_size`. (mutants: `vec![]`
    /// is this very value: equivalent.)
    fn onnx_attributes() -> Vec<Attribute> {
        Vec::new()
    }

    /// The registry's variant of a spec of this kind.
    fn spec(spec: RecurrentSpec<Self>) -> ElementSpec;

    /// The registry's variant of a layer of this kind.
    fn layer(layer: Recurrent<Self>) -> Layer;

    /// One step in plain candle ops: from `gi = x_t W_ih^T + b_ih` and
    /// `gh = h_{t-1} W_hh^T + b_hh` (both `[batch, G H]`), `h_{t-1}` and
    /// the cell state `c` (`[batch, H]`, updated in place; unused where the
    /// kind has none), `h_t` `[batch, H]`.
    fn step(
        gi: &Tensor,
        gh: &Tensor,
        h_prev: &Tensor,
        c: &mut Tensor,
        h: usize,
    ) -> candle_core::Result<Tensor>;

    /// The whole sequence as the CPU kernel (`kernel.rs` around the cell),
    /// then the dense layer `then` when given, linked to it (`linear/link.rs`:
    /// the sequence out of candle's graph). `weights` are `weight_ih`,
    /// `weight_hh`, `bias_ih`, `bias_hh`; with ids `x` `[B, T]`, `weight_ih`
    /// is `E W_ih^T`'s transpose (`lookup.rs`).
    fn kernel(
        x: &Tensor,
        weights: [&Tensor; 4],
        then: Option<Then<'_>>,
    ) -> candle_core::Result<Tensor>;
}

/// The state names, in order.
const NAMES: [&str; 4] = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];

/// `(IN, H)` from `name(IN,H)`.
fn parse_sizes(name: &str, args: &Args) -> std::result::Result<(usize, usize), String> {
    let a = args.split()?;
    a.only(&[])?;
    a.count(2..=2, name, &format!("two sizes: {name}(IN,H)"))?;
    Ok((
        whole(a.sizes[0], "input size", 1)?,
        whole(a.sizes[1], "hidden size", 1)?,
    ))
}

/// `[t, IN]` to `[t, H]`.
fn output_shape(
    name: &str,
    input: &RowShape,
    (i, h): (usize, usize),
) -> std::result::Result<RowShape, String> {
    match input.dims() {
        Some([t, Some(got)]) if *got == i => Ok(RowShape::new(vec![*t, Some(h)])),
        Some([_, Some(got)]) => Err(format!(
            "its input size {i} does not match the size {got} of its input {input}"
        )),
        Some([t, None]) => Ok(RowShape::new(vec![*t, Some(h)])),
        _ => Err(format!(
            "{name} takes sequences [batch, T, {i}] but gets {input}; a flat row is one step of nothing: feed [N, T, F] data, or put embedding before it"
        )),
    }
}

/// The four state entries for `gates` gates.
fn state((i, h): (usize, usize), gates: usize) -> Vec<StateEntry> {
    let shapes = [
        vec![gates * h, i],
        vec![gates * h, h],
        vec![gates * h],
        vec![gates * h],
    ];
    NAMES
        .iter()
        .zip(shapes)
        .map(|(n, s)| StateEntry::parameter(n, s))
        .collect()
}

/// The draws of the four tensors (see the module doc).
fn draw(init: Init, draws: &mut Draws, emit: &mut Emit<'_>, sizes: (usize, usize), gates: usize) {
    let h = sizes.1;
    for entry in state(sizes, gates) {
        let shape = entry.shape.clone();
        match init {
            Init::NumpyUniform => numpy_uniform(draws, emit, &entry.name, shape),
            Init::Torch => {
                let b = 1.0 / (h as f64).sqrt();
                let n = entry.numel().unwrap_or(0);
                emit(entry.name, shape, &mut (0..n).map(|_| draws.uniform(-b, b)));
            }
            _ if shape.len() == 2 => {
                let fans = (shape[1], shape[0]);
                init.weight(draws, emit, &entry.name, shape, fans);
            }
            _ => constant(emit, &entry.name, shape, 0.0),
        }
    }
}

/// The four variables, checked: `[G H, IN]`, `[G H, H]`, `[G H]`, `[G H]`.
fn check(name: &str, vars: [&Var; 4], gates: usize) -> Result<(usize, usize)> {
    let (gh, i) = match vars[0].dims() {
        &[gh, i] if gh % gates == 0 && gh > 0 => (gh, i),
        d => {
            return Err(Error::shape(
                format!("{name} weight_ih_l0"),
                format!("[{gates}H, IN]"),
                d,
            ))
        }
    };
    let h = gh / gates;
    for (n, (v, want)) in
        NAMES.iter().zip(
            vars.iter()
                .zip([vec![gh, i], vec![gh, h], vec![gh], vec![gh]]),
        )
    {
        if v.dims() != want.as_slice() {
            return Err(Error::shape(
                format!("{name} {n}"),
                format!("{want:?}"),
                v.dims(),
            ));
        }
    }
    Ok((i, h))
}

/// `x W_ih^T + b_ih` for every step at once: `[batch, T, IN]` to `[batch, T, G H]`.
fn project(x: &Tensor, w: &Var, b: &Var) -> Result<Tensor> {
    let (batch, t, i) = x.dims3()?;
    let y = x
        .reshape((batch * t, i))?
        .matmul(&w.t()?)?
        .broadcast_add(b)?;
    Ok(y.reshape((batch, t, ()))?)
}

/// `[batch, T, IN]` checked for an element of input size `i`.
fn check_input(name: &str, x: &Tensor, i: usize) -> Result<(usize, usize)> {
    match x.dims() {
        &[b, t, got] if got == i && t > 0 => Ok((b, t)),
        d => Err(Error::shape(
            name,
            format!("[batch, T, {i}] with T >= 1"),
            d,
        )),
    }
}

/// The ONNX `op` (`LSTM` or `GRU`) of the layer: the weights with their
/// gate blocks taken in `order` (ONNX's gate order, from PyTorch's), the
/// input and output turned between batch first and ONNX's sequence first.
fn export(
    scope: &Scope,
    op: &'static str,
    vars: [&Var; 4],
    h: usize,
    order: &[usize],
    extra: Vec<Attribute>,
) -> Result<Export> {
    let mut e = Export::default();
    let v = |what: &str| scope.named(what);
    let reorder = |t: &Tensor| -> Result<Tensor> {
        let blocks = order
            .iter()
            .map(|&k| t.narrow(0, k * h, h))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&blocks, 0)?)
    };
    let w = reorder(vars[0].as_tensor())?.unsqueeze(0)?;
    let r = reorder(vars[1].as_tensor())?.unsqueeze(0)?;
    let bias = Tensor::cat(
        &[reorder(vars[2].as_tensor())?, reorder(vars[3].as_tensor())?],
        0,
    )?
    .unsqueeze(0)?;
    e.float(v("W"), w);
    e.float(v("R"), r);
    e.float(v("B"), bias);
    e.int(v("axis1"), vec![1], vec![1]);
    let swap = || vec![Attribute::ints("perm", &[1, 0, 2])];
    e.node(
        "Transpose",
        scope,
        vec![scope.input.clone()],
        vec![v("x_tbi")],
        swap(),
    );
    let mut attrs = vec![Attribute::int("hidden_size", h as i64)];
    attrs.extend(extra);
    let inputs = vec![v("x_tbi"), v("W"), v("R"), v("B")];
    e.node(op, scope, inputs, vec![v("y_t1bh")], attrs);
    e.node(
        "Squeeze",
        scope,
        vec![v("y_t1bh"), v("axis1")],
        vec![v("y_tbh")],
        vec![],
    );
    e.node(
        "Transpose",
        scope,
        vec![v("y_tbh")],
        vec![scope.output.clone()],
        swap(),
    );
    Ok(e)
}

/// The spec of a recurrent layer of kind `G`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecurrentSpec<G> {
    /// Input size IN.
    pub input: usize,
    /// Hidden size H.
    pub hidden: usize,
    gates: PhantomData<G>,
}

impl<G> RecurrentSpec<G> {
    /// `name(IN,H)`.
    pub fn new(input: usize, hidden: usize) -> Self {
        Self {
            input,
            hidden,
            gates: PhantomData,
        }
    }
}

impl<G: Gates> fmt::Display for RecurrentSpec<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({},{})", G::KIND.name(), self.input, self.hidden)
    }
}

impl<G: Gates> ElementDef for RecurrentSpec<G> {
    fn kind(&self) -> ElementKind {
        G::KIND
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let (input, hidden) = parse_sizes(name, args)?;
        Ok(G::spec(RecurrentSpec::new(input, hidden)))
    }

    /// The kernel takes the linear layer after it, if one follows (and
    /// that layer's activation), the two linked (`linear/link.rs`).
    fn stage(&self, elements: &[ElementSpec], i: usize) -> Stage {
        match elements.get(i + 1) {
            Some(ElementSpec::Linear(_)) => Stage::Linked {
                element: i,
                linear: i + 1,
                act: plan::dense_act(elements, i + 2),
            },
            _ => Stage::One(i),
        }
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::new(vec![None, Some(self.input)]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        output_shape(G::KIND.name(), input, (self.input, self.hidden))
    }

    fn state(&self) -> Vec<StateEntry> {
        state((self.input, self.hidden), G::GATES)
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        draw(init, draws, emit, (self.input, self.hidden), G::GATES)
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let mut vars = Vec::with_capacity(4);
        for e in ElementDef::state(self) {
            vars.push(take(&e.name, &e.shape)?);
        }
        let [a, b, c, d]: [Var; 4] = vars.try_into().expect("four tensors");
        Ok(G::layer(Recurrent::new(a, b, c, d)?))
    }
}

/// A recurrent layer of kind `G` built from given tensors (PyTorch's layout
/// and gate order).
#[derive(Debug, Clone)]
pub struct Recurrent<G> {
    weight_ih: Var,
    weight_hh: Var,
    bias_ih: Var,
    bias_hh: Var,
    gates: PhantomData<G>,
}

impl<G: Gates> Recurrent<G> {
    /// From `weight_ih [G H, IN]`, `weight_hh [G H, H]`, `bias_ih [G H]`,
    /// `bias_hh [G H]`.
    pub fn new(weight_ih: Var, weight_hh: Var, bias_ih: Var, bias_hh: Var) -> Result<Self> {
        let vars = [&weight_ih, &weight_hh, &bias_ih, &bias_hh];
        check(G::KIND.name(), vars, G::GATES)?;
        Ok(Self {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
            gates: PhantomData,
        })
    }

    /// `(IN, H)`.
    pub fn sizes(&self) -> (usize, usize) {
        let d = self.weight_ih.dims();
        (d[1], d[0] / G::GATES)
    }

    fn vars(&self) -> [&Var; 4] {
        [
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        ]
    }

    /// The output sequence.
    ///
    /// # Shapes
    /// `x` `[batch, T, IN]` to `[batch, T, H]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (i, h) = self.sizes();
        let (batch, t) = check_input(&format!("{}({i},{h})", G::KIND.name()), x, i)?;
        if self.runs_kernel(x) {
            return Ok(G::kernel(x, self.vars().map(Var::as_tensor), None)?);
        }
        let xw = project(x, &self.weight_ih, &self.bias_ih)?;
        let whh = self.weight_hh.t()?;
        let mut hs = Tensor::zeros((batch, h), x.dtype(), x.device())?;
        let mut cs = hs.clone();
        let mut ys = Vec::with_capacity(t);
        for s in 0..t {
            let gi = xw.narrow(1, s, 1)?.squeeze(1)?;
            let gh = hs.matmul(&whh)?.broadcast_add(&self.bias_hh)?;
            hs = G::step(&gi, &gh, &hs, &mut cs, h)?;
            ys.push(hs.clone());
        }
        Ok(Tensor::stack(&ys, 1)?)
    }
}

impl<G: Gates> Recurrent<G> {
    /// Whether the kernel runs on `x` (CPU, f32/f64, kernels on).
    fn runs_kernel(&self, x: &Tensor) -> bool {
        let mut tensors = vec![x];
        tensors.extend(self.vars().map(|v| v.as_tensor()));
        crate::kernel::use_kernel(true, &tensors)
    }

    /// `act(forward(x) W^T + b)`: this layer, then `next` and the
    /// activation after it, linked when both run their kernels
    /// (`linear/link.rs`), else one after the other.
    fn forward_into(
        &self,
        x: &Tensor,
        (next, act): (&Linear, Option<&Activation>),
    ) -> Result<Tensor> {
        let (i, h) = self.sizes();
        check_input(&format!("{}({i},{h})", G::KIND.name()), x, i)?;
        if next.in_features() == h && self.runs_kernel(x) {
            if let Some(dense) = next.as_kernel(x, act) {
                return Ok(G::kernel(
                    x,
                    self.vars().map(Var::as_tensor),
                    Some(Then(dense)),
                )?);
            }
        }
        next.forward_then(&self.forward(x)?, act)
    }

    /// This layer alone, or then `next` and its activation.
    fn forward_then(
        &self,
        x: &Tensor,
        then: Option<(&Linear, Option<&Activation>)>,
    ) -> Result<Tensor> {
        match then {
            Some(next) => self.forward_into(x, next),
            None => Recurrent::forward(self, x),
        }
    }

    /// The plan's `Lookup` stage: `table`'s rows of `ids` `[B, T]` into
    /// this layer (then `next`, if any). When the kernel runs and the
    /// lookup pays (`lookup.rs`), the input product is a lookup in `E
    /// W_ih^T`: the op takes the ids, and candle's graph the small product
    /// `W_ih E^T` (through which `W_ih` and the table get their gradients);
    /// else the elements one after the other.
    fn forward_looked_up(
        &self,
        ids: &Tensor,
        table: &Embedding,
        then: Option<(&Linear, Option<&Activation>)>,
    ) -> Result<Tensor> {
        let ((vocab, d), (i, h)) = (table.sizes(), self.sizes());
        let e = table.weight().as_tensor();
        let runs = match *ids.dims() {
            [b, t] => d == i && lookup::pays(vocab, b * t) && self.runs_kernel(e),
            _ => false,
        };
        if !runs {
            return self.forward_then(&table.forward(ids)?, then);
        }
        crate::kernel::count_call("recurrent-lookup");
        let ids = table.checked_ids(ids)?;
        let p = self.weight_ih.matmul(&e.t()?)?;
        let weights = [
            &p,
            self.weight_hh.as_tensor(),
            self.bias_ih.as_tensor(),
            self.bias_hh.as_tensor(),
        ];
        Ok(match then {
            Some((next, act)) => match next.as_kernel(e, act) {
                Some(dense) if next.in_features() == h => {
                    G::kernel(&ids, weights, Some(Then(dense)))?
                }
                _ => next.forward_then(&G::kernel(&ids, weights, None)?, act)?,
            },
            None => G::kernel(&ids, weights, None)?,
        })
    }
}

impl<G: Gates> ElementOps for Recurrent<G> {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Recurrent::forward(self, x)
    }

    fn forward_stage(
        &self,
        stage: Stage,
        layers: &[Layer],
        x: &Tensor,
        _mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        match stage {
            Stage::Linked { linear, act, .. } => {
                let Some(Layer::Linear(next)) = layers.get(linear) else {
                    return Err(Error::SpecWhole(format!(
                        "the fusion plan links element {linear} as a linear layer, which it is not"
                    )));
                };
                self.forward_into(x, (next, stage_activation(layers, act)))
            }
            Stage::Lookup {
                embedding,
                linear,
                act,
                ..
            } => {
                let Some(Layer::Embedding(table)) = layers.get(embedding) else {
                    return Err(Error::SpecWhole(format!(
                        "the fusion plan feeds this layer from element {embedding} as an embedding, which it is not"
                    )));
                };
                let next = match linear.map(|l| layers.get(l)) {
                    None => None,
                    Some(Some(Layer::Linear(next))) => Some((next, stage_activation(layers, act))),
                    Some(_) => {
                        return Err(Error::SpecWhole(format!(
                            "the fusion plan links element {linear:?} as a linear layer, which it is not"
                        )))
                    }
                };
                self.forward_looked_up(x, table, next)
            }
            _ => Recurrent::forward(self, x),
        }
    }

    /// Carries the hidden and cell state (`state.tensors` `[h, c]`, each
    /// `[batch, H]`) from one call to the next: one cell step per new position.
    fn step(&self, x: &Tensor, state: &mut crate::StepState) -> Result<Option<Tensor>> {
        let (i, h) = self.sizes();
        let (batch, t) = check_input(&format!("{}({i},{h})", G::KIND.name()), x, i)?;
        let (mut hs, mut cs) = match &state.tensors[..] {
            [hs, cs] => (hs.clone(), cs.clone()),
            _ => {
                let zero = Tensor::zeros((batch, h), x.dtype(), x.device())?;
                (zero.clone(), zero)
            }
        };
        let xw = project(x, &self.weight_ih, &self.bias_ih)?;
        let whh = self.weight_hh.t()?;
        let mut ys = Vec::with_capacity(t);
        for s in 0..t {
            let gi = xw.narrow(1, s, 1)?.squeeze(1)?;
            let gh = hs.matmul(&whh)?.broadcast_add(&self.bias_hh)?;
            hs = G::step(&gi, &gh, &hs, &mut cs, h)?;
            ys.push(hs.clone());
        }
        state.tensors = vec![hs, cs];
        state.position += t;
        Ok(Some(Tensor::stack(&ys, 1)?))
    }

    fn state(&self) -> Vec<(String, &Var)> {
        NAMES
            .iter()
            .map(|n| n.to_string())
            .zip(self.vars())
            .collect()
    }

    fn spec(&self) -> ElementSpec {
        let (input, hidden) = self.sizes();
        G::spec(RecurrentSpec::new(input, hidden))
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        export(
            scope,
            G::ONNX,
            self.vars(),
            self.sizes().1,
            G::ONNX_ORDER,
            G::onnx_attributes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    use super::check_input;

    /// `[batch, T, IN]` with `T >= 1` and `IN` the layer's input size.
    #[test]
    fn input_must_be_a_nonempty_sequence_of_rows_of_the_input_size() {
        let x = |dims: &[usize]| Tensor::zeros(dims, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(check_input("lstm(4,3)", &x(&[2, 5, 4]), 4).unwrap(), (2, 5));
        assert_eq!(check_input("lstm(4,3)", &x(&[0, 1, 4]), 4).unwrap(), (0, 1));
        for dims in [
            &[2, 0, 4][..],
            &[2, 5, 3],
            &[2, 5, 5],
            &[5, 4],
            &[1, 2, 5, 4],
        ] {
            let e = check_input("lstm(4,3)", &x(dims), 4)
                .unwrap_err()
                .to_string();
            assert!(e.contains("[batch, T, 4] with T >= 1"), "{dims:?}: {e}");
        }
    }
}
