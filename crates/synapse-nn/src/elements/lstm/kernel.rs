//! The LSTM cell of the recurrent CPU kernel (`recurrent/kernel.rs` runs it
//! over the sequence): one step of one sequence, forward and backward.
//!
//! Shapes: each gate block is `[H]`; the gates `[4 H]` in PyTorch's order
//! i, f, g, o; kept per step: `c_t` `[H]` (the backward takes `tanh c_t`
//! again, the same bits, rather than keep `[B T, H]` more); carried back:
//! `dc` `[H]`. The cell adds `b = b_ih + b_hh` (both biases) to the input
//! products.
//! ```text
//! forward:  a = (A_t + b) + U  (A_t = x_t W_ih^T,  U = h_{t-1} W_hh^T)
//!           i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)
//!           c_t = f c_{t-1} + i g        h_t = o tanh(c_t)
//! backward: dh = dy_t + dh_t (through W_hh)      dc = dc_{t+1} f_{t+1} + dh o (1 - tanh² c_t)
//!           da_i = dc g i (1-i)   da_f = dc c_{t-1} f (1-f)   da_g = dc i (1-g²)
//!           da_o = dh tanh(c_t) o (1-o)                       carried: dc f
//! ```
//! `dGh = dA` (both biases sit outside the gates' products), and no part of
//! `dh_{t-1}` bypasses `W_hh`.

use crate::elements::recurrent::kernel::{Backward, Cell, Forward};
use crate::kernel::gate::GateMath;
use crate::kernel::storage::Real;

/// The LSTM cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LstmCell;

impl Cell for LstmCell {
    const NAME: &'static str = "lstm";
    const OP: &'static str = "synapse-lstm";
    const GATES: usize = 4;
    const KEPT: usize = 1;
    const CARRY: usize = 1;
    const SPLIT_GRAD: bool = false;

    fn input_bias<T: Real>(b_ih: &[T], b_hh: &[T]) -> Vec<T> {
        b_ih.iter().zip(b_hh).map(|(&a, &b)| a + b).collect()
    }

    #[inline(always)]
    fn forward<T: GateMath>(s: Forward<'_, T>) {
        let h = s.h.len();
        for ((a, &b), &u) in s.gates.iter_mut().zip(s.bias).zip(s.hidden) {
            *a = (*a + b) + u;
        }
        let (ai, rest) = s.gates.split_at_mut(h);
        let (af, rest) = rest.split_at_mut(h);
        let (ag, ao) = rest.split_at_mut(h);
        step(ai, af, ag, ao, &s.prev.1[..h], s.kept, s.h);
    }

    #[inline(always)]
    fn backward<T: GateMath>(s: Backward<'_, T>) {
        let h = s.dy.len();
        let (i, rest) = s.gates.split_at_mut(h);
        let (f, rest) = rest.split_at_mut(h);
        let (g, o) = rest.split_at_mut(h);
        let ins = (s.kept, &s.prev.1[..h], s.dy, &*s.dh);
        step_back(ins, i, f, g, o, s.carry);
    }
}

// The row passes take each slice they write as a parameter of its own: a
// `&mut` parameter is known not to overlap any other, which is what lets
// the loops vectorise (fields of a struct are not).

/// One step: the pre-activations `i, f, g, o` become the gates; `c_t` and
/// `h_t` from `c_{t-1}`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step<T: GateMath>(
    i: &mut [T],
    f: &mut [T],
    g: &mut [T],
    o: &mut [T],
    c_prev: &[T],
    c: &mut [T],
    h: &mut [T],
) {
    let n = h.len();
    let (i, f, g, o, c_prev) = (
        &mut i[..n],
        &mut f[..n],
        &mut g[..n],
        &mut o[..n],
        &c_prev[..n],
    );
    let c = &mut c[..n];
    for j in 0..n {
        let (ig, fg) = (i[j].gate_sigmoid(), f[j].gate_sigmoid());
        let (gg, og) = (g[j].gate_tanh(), o[j].gate_sigmoid());
        let cell = fg * c_prev[j] + ig * gg;
        let t = cell.gate_tanh();
        (i[j], f[j], g[j], o[j]) = (ig, fg, gg, og);
        (c[j], h[j]) = (cell, og * t);
    }
}

/// What a step back reads: the kept `c_t`, `c_{t-1}`, `dy_t` and `dh_t`.
type Reads<'a, T> = (&'a [T], &'a [T], &'a [T], &'a [T]);

/// One step back: the gates `i, f, g, o` become the gradients of their
/// pre-activations; `dc` in from t+1 and out to t-1.
#[inline(always)]
fn step_back<T: GateMath>(
    (kept, c_prev, dy, dh): Reads<'_, T>,
    i: &mut [T],
    f: &mut [T],
    g: &mut [T],
    o: &mut [T],
    dc: &mut [T],
) {
    let n = dy.len();
    let one = T::one();
    let (c, c_prev, dh) = (&kept[..n], &c_prev[..n], &dh[..n]);
    let (i, f, g, o, dc) = (
        &mut i[..n],
        &mut f[..n],
        &mut g[..n],
        &mut o[..n],
        &mut dc[..n],
    );
    for j in 0..n {
        let (ig, fg, gg, og, t) = (i[j], f[j], g[j], o[j], c[j].gate_tanh());
        let dht = dy[j] + dh[j];
        let d = dc[j] + dht * og * (one - t * t);
        i[j] = d * gg * (ig * (one - ig));
        f[j] = d * c_prev[j] * (fg * (one - fg));
        g[j] = d * ig * (one - gg * gg);
        o[j] = dht * t * (og * (one - og));
        dc[j] = d * fg;
    }
}
