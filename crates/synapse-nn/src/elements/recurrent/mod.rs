//! What `lstm` and `gru` share (each is in its own module): the spec's sizes
//! and grammar, the shape rule, the state names, the initial draws, the
//! input products for every step at once, and the ONNX node with its
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

use candle_core::{Tensor, Var};

use super::def::{Emit, StateEntry};
use crate::export::{Attribute, Export, Scope};
use crate::init::{constant, numpy_uniform, Draws};
use crate::spec::{whole, Args, RowShape};
use crate::{Error, Init, Result};

/// The state names, in order.
pub(crate) const NAMES: [&str; 4] = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];

/// `(IN, H)` from `name(IN,H)`.
pub(crate) fn parse_sizes(name: &str, args: &Args) -> std::result::Result<(usize, usize), String> {
    let a = args.split()?;
    a.only(&[])?;
    a.count(2..=2, name, &format!("two sizes: {name}(IN,H)"))?;
    Ok((
        whole(a.sizes[0], "input size", 1)?,
        whole(a.sizes[1], "hidden size", 1)?,
    ))
}

/// `[t, IN]` to `[t, H]`.
pub(crate) fn output_shape(
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
pub(crate) fn state((i, h): (usize, usize), gates: usize) -> Vec<StateEntry> {
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
pub(crate) fn draw(
    init: Init,
    draws: &mut Draws,
    emit: &mut Emit<'_>,
    sizes: (usize, usize),
    gates: usize,
) {
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
pub(crate) fn check(name: &str, vars: [&Var; 4], gates: usize) -> Result<(usize, usize)> {
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
pub(crate) fn project(x: &Tensor, w: &Var, b: &Var) -> Result<Tensor> {
    let (batch, t, i) = x.dims3()?;
    let y = x
        .reshape((batch * t, i))?
        .matmul(&w.t()?)?
        .broadcast_add(b)?;
    Ok(y.reshape((batch, t, ()))?)
}

/// `[batch, T, IN]` checked for an element of input size `i`.
pub(crate) fn check_input(name: &str, x: &Tensor, i: usize) -> Result<(usize, usize)> {
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
pub(crate) fn export(
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
