//! What the recurrent layers ([`RefLstm`](crate::RefLstm), [`RefGru`](crate::RefGru))
//! share: PyTorch's four tensor names, the shape checks, reading one time step,
//! and the step every gate starts from, `a = W v + b`, with its backward.
//!
//! Shapes: `x` `[batch, T, IN]`; `W_ih` `[G, IN]`, `W_hh` `[G, H]`, `b_ih`, `b_hh`
//! `[G]`, with `G = 4H` (LSTM) or `3H` (GRU) gate rows stacked in PyTorch's order.
//!
//! | step | forward | backward (given `da`) |
//! | --- | --- | --- |
//! | affine | `a = W v + b` (`W` `[G, K]`, `v` `[K]`) | `dW += da v^T`, `db += da`, `dv = W^T da` |

use crate::Array;

/// PyTorch's names for a one-layer recurrent module's parameters, in order.
pub(crate) const NAMES: [&str; 4] = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];

/// `(IN, H)` after checking the four tensors of a layer with `gates` gates.
pub(crate) fn check_weights(
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
pub(crate) fn dims(x: &Array, input: usize) -> (usize, usize) {
    assert_eq!(x.rank(), 3, "recurrent input is [batch, T, IN]");
    assert_eq!(x.shape[2], input, "recurrent input features");
    (x.shape[0], x.shape[1])
}

/// `x[b, t]`, the `IN` inputs of sample `b` at step `t`.
pub(crate) fn step(x: &Array, b: usize, t: usize) -> &[f64] {
    let (steps, input) = (x.shape[1], x.shape[2]);
    let at = (b * steps + t) * input;
    &x.data[at..at + input]
}

/// `a = W v + b`: `W` `[G, K]`, `v` `[K]`, `b` `[G]`.
pub(crate) fn affine(w: &Array, b: &Array, v: &[f64]) -> Vec<f64> {
    w.data
        .chunks(v.len())
        .zip(&b.data)
        .map(|(row, bias)| row.iter().zip(v).map(|(w, v)| w * v).sum::<f64>() + bias)
        .collect()
}

/// The backward of [`affine`]: adds `da v^T` to `dw` and `da` to `db`, returns `dv = W^T da`.
pub(crate) fn affine_back(
    w: &Array,
    v: &[f64],
    da: &[f64],
    dw: &mut Array,
    db: &mut Array,
) -> Vec<f64> {
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
