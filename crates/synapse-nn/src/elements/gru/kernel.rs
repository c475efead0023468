//! The GRU cell of the recurrent CPU kernel (`recurrent/kernel.rs` runs it
//! over the sequence): one step of one sequence, forward and backward.
//!
//! Shapes: each gate block is `[H]`; the gates `[3 H]` in PyTorch's order
//! r, z, n; kept per step: `ghn = W_hn h_{t-1} + b_hn` `[H]`; nothing
//! carried besides `dh`. The cell adds `b_ih` and the r and z blocks of
//! `b_hh` to the input products; `b_hn` stays inside the product with `r`.
//! ```text
//! forward:  r = σ(A_r + U_r)   z = σ(A_z + U_z)   ghn = U_n + b_hn
//!           n = tanh(A_n + r ghn)                  h_t = (h_{t-1} - n) z + n
//!           (A = x_t W_ih^T + b_ih, and b_hh's r and z blocks)
//! backward: dh = dy_t + dh_t (through W_hh)
//!           dn = dh (1-z) (1-n²)    dz = dh (h_{t-1} - n) z (1-z)
//!           dr = dn ghn r (1-r)
//!           dA = [dr, dz, dn]       dGh = [dr, dz, dn r]
//!           dh_{t-1} = dh z + dGh W_hh     (the first part bypasses W_hh)
//! ```

use crate::elements::recurrent::kernel::{Backward, Cell, Forward};
use crate::kernel::gate::GateMath;
use crate::kernel::storage::Real;

/// The GRU cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GruCell;

impl Cell for GruCell {
    const NAME: &'static str = "gru";
    const OP: &'static str = "synapse-gru";
    const GATES: usize = 3;
    const KEPT: usize = 1;
    const CARRY: usize = 0;
    const SPLIT_GRAD: bool = true;

    fn input_bias<T: Real>(b_ih: &[T], b_hh: &[T]) -> Vec<T> {
        let n = b_ih.len() / 3;
        let mut bias = b_ih.to_vec();
        for (v, &b) in bias[..2 * n].iter_mut().zip(b_hh) {
            *v += b;
        }
        bias
    }

    #[inline(always)]
    fn forward<T: GateMath>(s: Forward<'_, T>) {
        let h = s.h.len();
        let (r, rest) = s.gates.split_at_mut(h);
        let (z, n) = rest.split_at_mut(h);
        let ins = (s.bias, s.hidden, &s.b_hh[2 * h..], s.prev.0);
        step(ins, r, z, n, s.kept, s.h);
    }

    #[inline(always)]
    fn backward<T: GateMath>(s: Backward<'_, T>) {
        let h = s.dy.len();
        let (r, rest) = s.gates.split_at_mut(h);
        let (z, n) = rest.split_at_mut(h);
        let ins = (s.kept, s.prev.0, s.dy);
        step_back(ins, [r, z, n], s.dgh, s.dh);
    }
}

// The row passes take each slice they write as a parameter of its own: a
// `&mut` parameter is known not to overlap any other, which is what lets
// the loops vectorise (fields of a struct are not).

/// What a step reads: the folded bias `[3 H]`, `U = h_{t-1} W_hh^T`
/// `[3 H]`, `b_hn` and `h_{t-1}`.
type Reads<'a, T> = (&'a [T], &'a [T], &'a [T], &'a [T]);

/// One step: the input products of `r, z, n` become the gates; `ghn` and
/// `h_t` out.
#[inline(always)]
fn step<T: GateMath>(
    (bias, u, b_hn, h_prev): Reads<'_, T>,
    r: &mut [T],
    z: &mut [T],
    n: &mut [T],
    ghn: &mut [T],
    h: &mut [T],
) {
    let k = h.len();
    let (br, bz, bn) = (&bias[..k], &bias[k..2 * k], &bias[2 * k..3 * k]);
    let (ur, uz, un) = (&u[..k], &u[k..2 * k], &u[2 * k..3 * k]);
    let (b_hn, h_prev) = (&b_hn[..k], &h_prev[..k]);
    let (r, z, n, ghn) = (&mut r[..k], &mut z[..k], &mut n[..k], &mut ghn[..k]);
    for j in 0..k {
        let rg = ((r[j] + br[j]) + ur[j]).gate_sigmoid();
        let zg = ((z[j] + bz[j]) + uz[j]).gate_sigmoid();
        let g = un[j] + b_hn[j];
        let ng = ((n[j] + bn[j]) + rg * g).gate_tanh();
        (r[j], z[j], n[j], ghn[j]) = (rg, zg, ng, g);
        h[j] = (h_prev[j] - ng) * zg + ng;
    }
}

/// One step back: from `ghn`, `h_{t-1}`, `dy_t` and `dh_t` (in; out: its
/// part `z dh` that bypasses `W_hh`), the gates `r, z, n` become `dA`, and
/// `dGh`'s n block (`dn r`; its r and z blocks are `dA`'s) out.
#[inline(always)]
fn step_back<T: GateMath>(
    (ghn, h_prev, dy): (&[T], &[T], &[T]),
    [r, z, n]: [&mut [T]; 3],
    dgn: &mut [T],
    dh: &mut [T],
) {
    let k = dy.len();
    let one = T::one();
    let (ghn, h_prev, dh) = (&ghn[..k], &h_prev[..k], &mut dh[..k]);
    let (r, z, n) = (&mut r[..k], &mut z[..k], &mut n[..k]);
    let dgn = &mut dgn[..k];
    for j in 0..k {
        let (rg, zg, ng) = (r[j], z[j], n[j]);
        let dht = dy[j] + dh[j];
        let dn = dht * (one - zg) * (one - ng * ng);
        let dz = dht * (h_prev[j] - ng) * (zg * (one - zg));
        let dr = dn * ghn[j] * (rg * (one - rg));
        (r[j], z[j], n[j]) = (dr, dz, dn);
        dgn[j] = dn * rg;
        dh[j] = dht * zg;
    }
}
