//! The one recurrent layer that [`RefLstm`](crate::RefLstm) and
//! [`RefGru`](crate::RefGru) are: [`RefRecurrent`], generic over the
//! kind's [`RecurrentCell`] (one step forward and back, in `lstm.rs`, `gru.rs`).
//! Here: PyTorch's four tensor names, the shape checks, reading one time
//! step, the products every step starts from, `a = W v + b`, with their
//! backward, and the walk through time both ways.
//!
//! Shapes: `x` `[batch, T, IN]`; `W_ih` `[G, IN]`, `W_hh` `[G, H]`, `b_ih`, `b_hh`
//! `[G]`, with `G = 4H` (LSTM) or `3H` (GRU) gate rows stacked in PyTorch's order.
//! Per sample, `h_0 = c_0 = 0`, for `t = 0..T` (backward: `t` from `T-1`
//! down, with `dh = dy_t + dh` and `dc` from step `t+1`):
//!
//! | step | forward | backward |
//! | --- | --- | --- |
//! | affine | `a = W v + b` (`W` `[G, K]`, `v` `[K]`) | `dW += da v^T`, `db += da`, `dv = W^T da` |
//! | products | `gi = W_ih x_t + b_ih`, `gh = W_hh h_{t-1} + b_hh` | `dx_t = W_ih^T dgi`, `dh_{t-1} = W_hh^T dgh` (+ the cell's own part) |
//! | cell | `h_t, c_t = cell(gi, gh, h_{t-1}, c_{t-1})` | `dgi, dgh, dc_{t-1}` from `dh`, `dc` ([`RecurrentCell::step_back`]) |

use std::fmt::Debug;
use std::marker::PhantomData;

use crate::element::{named, RefOps};
use crate::Array;
use crate::RefMode;

/// One step of a recurrent kind, forward and back (`lstm.rs`, `gru.rs`).
pub trait RecurrentCell: Debug + Clone + Copy + PartialEq {
    /// The kind's name, for messages (`lstm`).
    const NAME: &'static str;
    /// Gates `G` per hidden unit: each tensor has `G H` rows.
    const GATES: usize;
    /// What a step keeps for its backward.
    type Kept;

    /// `(h_t, c_t, kept)` from `gi = W_ih x_t + b_ih`, `gh = W_hh h_{t-1} +
    /// b_hh` (`[G H]` each), `h_{t-1}` and `c_{t-1}` (`[H]`; `c` is empty
    /// for a kind without a cell state).
    fn step(
        gi: &[f64],
        gh: &[f64],
        h_prev: &[f64],
        c_prev: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Self::Kept);

    /// The step's backward from `dh = dL/dh_t` (`dy_t` and step `t+1`'s)
    /// and `dc = dL/dc_t` (step `t+1`'s): `dgi`, `dgh`, the part of
    /// `dh_{t-1}` that bypasses `W_hh` (if any) and `dc_{t-1}`.
    fn step_back(
        dh: &[f64],
        dc: &[f64],
        kept: &Self::Kept,
        h_prev: &[f64],
        c_prev: &[f64],
    ) -> StepGrads;
}

/// The gradients of one step (see [`RecurrentCell::step_back`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StepGrads {
    /// `dL/dgi`, `[G H]`.
    pub dgi: Vec<f64>,
    /// `dL/dgh`, `[G H]`.
    pub dgh: Vec<f64>,
    /// The part of `dL/dh_{t-1}` that does not go through `W_hh`.
    pub dh_prev: Option<Vec<f64>>,
    /// `dL/dc_{t-1}` (empty without a cell state).
    pub dc_prev: Vec<f64>,
}

/// A one-layer recurrent module of kind `C`, PyTorch's `nn.LSTM`/`nn.GRU`
/// with `batch_first=True`, zero initial states, output sequence only.
#[derive(Debug, Clone, PartialEq)]
pub struct RefRecurrent<C> {
    /// `weight_ih_l0`, `[G H, IN]`.
    pub weight_ih: Array,
    /// `weight_hh_l0`, `[G H, H]`.
    pub weight_hh: Array,
    /// `bias_ih_l0`, `[G H]`.
    pub bias_ih: Array,
    /// `bias_hh_l0`, `[G H]`.
    pub bias_hh: Array,
    cell: PhantomData<C>,
}

/// One sample's forward: its steps' kept values, and the states with
/// `hs[0] = 0`, `cs[0] = 0`.
struct Trace<K> {
    kept: Vec<K>,
    hs: Vec<Vec<f64>>,
    cs: Vec<Vec<f64>>,
}

impl<C: RecurrentCell> RefRecurrent<C> {
    /// A layer from its four tensors, in PyTorch's order.
    pub fn new(weight_ih: Array, weight_hh: Array, bias_ih: Array, bias_hh: Array) -> Self {
        check_weights(C::GATES, &weight_ih, &weight_hh, &bias_ih, &bias_hh);
        Self {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
            cell: PhantomData,
        }
    }

    /// `(IN, H)`.
    pub fn sizes(&self) -> (usize, usize) {
        check_weights(
            C::GATES,
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        )
    }

    /// Sample `b`'s forward through its `T` steps.
    fn trace(&self, x: &Array, b: usize) -> Trace<C::Kept> {
        let h = self.sizes().1;
        let mut tr = Trace {
            kept: Vec::new(),
            hs: vec![vec![0.0; h]],
            cs: vec![vec![0.0; h]],
        };
        for t in 0..x.shape[1] {
            // gi = W_ih x_t + b_ih, gh = W_hh h_{t-1} + b_hh
            let gi = affine(&self.weight_ih, &self.bias_ih, step(x, b, t));
            let gh = affine(&self.weight_hh, &self.bias_hh, &tr.hs[t]);
            let (h_t, c_t, kept) = C::step(&gi, &gh, &tr.hs[t], &tr.cs[t]);
            tr.kept.push(kept);
            tr.hs.push(h_t);
            tr.cs.push(c_t);
        }
        tr
    }

    /// `[batch, T, IN]` to `[batch, T, H]`: every step's `h_t`.
    pub fn forward(&self, x: &Array) -> Array {
        let (input, h) = self.sizes();
        let (batch, steps) = dims(x, input);
        let data = (0..batch)
            .flat_map(|b| self.trace(x, b).hs.into_iter().skip(1).flatten())
            .collect();
        Array::new(vec![batch, steps, h], data)
    }

    /// `(dx, [dweight_ih, dweight_hh, dbias_ih, dbias_hh])` given `dy = dL/dy`.
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let (input, h) = self.sizes();
        let (batch, steps) = dims(x, input);
        assert_eq!(dy.shape, [batch, steps, h], "{} dy shape", C::NAME);
        let mut dw_ih = Array::zeros(self.weight_ih.shape.clone());
        let mut dw_hh = Array::zeros(self.weight_hh.shape.clone());
        let mut db_ih = Array::zeros(vec![C::GATES * h]);
        let mut db_hh = Array::zeros(vec![C::GATES * h]);
        let mut dx = Array::zeros(x.shape.clone());
        for b in 0..batch {
            let tr = self.trace(x, b);
            let (mut dh_next, mut dc_next) = (vec![0.0; h], vec![0.0; h]);
            for t in (0..steps).rev() {
                // h_t feeds y_t and step t+1
                let at = (b * steps + t) * h;
                let dh: Vec<f64> = (0..h).map(|j| dy.data[at + j] + dh_next[j]).collect();
                let g = C::step_back(&dh, &dc_next, &tr.kept[t], &tr.hs[t], &tr.cs[t]);
                dc_next = g.dc_prev;
                // gi = W_ih x_t + b_ih, gh = W_hh h_{t-1} + b_hh
                let dxt = affine_back(
                    &self.weight_ih,
                    step(x, b, t),
                    &g.dgi,
                    &mut dw_ih,
                    &mut db_ih,
                );
                let at = (b * steps + t) * input;
                dx.data[at..at + input].copy_from_slice(&dxt);
                let through =
                    affine_back(&self.weight_hh, &tr.hs[t], &g.dgh, &mut dw_hh, &mut db_hh);
                dh_next = match g.dh_prev {
                    Some(own) => own.iter().zip(&through).map(|(a, b)| a + b).collect(),
                    None => through,
                };
            }
        }
        (dx, vec![dw_ih, dw_hh, db_ih, db_hh])
    }

    /// The parameters with PyTorch's names, in its order.
    pub fn parameters(&self) -> Vec<(&'static str, &Array)> {
        let tensors = [
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        ];
        NAMES.into_iter().zip(tensors).collect()
    }

    /// The parameters, mutable, in [`RefRecurrent::parameters`] order.
    pub fn parameters_mut(&mut self) -> Vec<&mut Array> {
        vec![
            &mut self.weight_ih,
            &mut self.weight_hh,
            &mut self.bias_ih,
            &mut self.bias_hh,
        ]
    }
}

/// PyTorch's names for a one-layer recurrent module's parameters, in order.
const NAMES: [&str; 4] = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];

/// `(IN, H)` after checking the four tensors of a layer with `gates` gates.
fn check_weights(
    gates: usize,
    w_ih: &Array,
    w_hh: &Array,
    b_ih: &Array,
    b_hh: &Array,
) -> (usize, usize) {
    assert_eq!(w_hh.rank(), 2, "weight_hh is [{gates}H, H]");
    let h = w_hh.shape[1];
    assert_eq!(w_hh.shape, [gates * h, h], "weight_hh is [{gates}H, H]");
    assert_eq!(w_ih.rank(), 2, "weight_ih is [{gates}H, IN]");
    assert_eq!(w_ih.shape[0], gates * h, "weight_ih is [{gates}H, IN]");
    assert_eq!(b_ih.shape, [gates * h], "bias_ih is [{gates}H]");
    assert_eq!(b_hh.shape, [gates * h], "bias_hh is [{gates}H]");
    (w_ih.shape[1], h)
}

/// `(batch, T)` of a sequence batch `[batch, T, input]`.
fn dims(x: &Array, input: usize) -> (usize, usize) {
    assert_eq!(x.rank(), 3, "recurrent input is [batch, T, IN]");
    assert_eq!(x.shape[2], input, "recurrent input features");
    (x.shape[0], x.shape[1])
}

/// `x[b, t]`, the `IN` inputs of sample `b` at step `t`.
fn step(x: &Array, b: usize, t: usize) -> &[f64] {
    let (steps, input) = (x.shape[1], x.shape[2]);
    let at = (b * steps + t) * input;
    &x.data[at..at + input]
}

/// `a = W v + b`: `W` `[G, K]`, `v` `[K]`, `b` `[G]`.
fn affine(w: &Array, b: &Array, v: &[f64]) -> Vec<f64> {
    w.data
        .chunks(v.len())
        .zip(&b.data)
        .map(|(row, bias)| row.iter().zip(v).map(|(w, v)| w * v).sum::<f64>() + bias)
        .collect()
}

/// The backward of [`affine`]: adds `da v^T` to `dw` and `da` to `db`, returns `dv = W^T da`.
fn affine_back(w: &Array, v: &[f64], da: &[f64], dw: &mut Array, db: &mut Array) -> Vec<f64> {
    let k = v.len();
    let mut dv = vec![0.0; k];
    for (g, &d) in da.iter().enumerate() {
        db.data[g] += d;
        for j in 0..k {
            dw.data[g * k + j] += d * v[j];
            dv[j] += w.data[g * k + j] * d;
        }
    }
    dv
}

impl<C: RecurrentCell> RefOps for RefRecurrent<C> {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefRecurrent::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        RefRecurrent::backward(self, x, dy)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        named(RefRecurrent::parameters(self))
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        RefRecurrent::parameters_mut(self)
    }
}
