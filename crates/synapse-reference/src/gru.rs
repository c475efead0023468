//! The GRU layer, PyTorch's `nn.GRU(IN, H, batch_first=True)` with a zero
//! initial `h`, returning the whole output sequence, with its backward
//! through time written out by hand.
//!
//! Shapes: `x` `[batch, T, IN]`, `y` `[batch, T, H]` (`y[:, t] = h_t`);
//! `weight_ih_l0` `[3H, IN]`, `weight_hh_l0` `[3H, H]`, `bias_ih_l0`, `bias_hh_l0`
//! `[3H]`, gate rows in PyTorch's order r, z, n. Per sample, for `t = 0..T`
//! (backward: `t` from `T-1` down, with `dh = dy_t + dh` from step `t+1`):
//!
//! | step | forward | backward |
//! | --- | --- | --- |
//! | affine | `gi = W_ih x_t + b_ih`, `gh = W_hh h_{t-1} + b_hh`, each `[r, z, n]` parts | `dW_ih += dgi x_t^T`, `db_ih += dgi`, `dx_t = W_ih^T dgi`; `dW_hh += dgh h_{t-1}^T`, `db_hh += dgh`, `dh_{t-1} += W_hh^T dgh` |
//! | reset | `r = sigmoid(gi_r + gh_r)` | `dgi_r = dgh_r = dr r (1 - r)` |
//! | update | `z = sigmoid(gi_z + gh_z)` | `dgi_z = dgh_z = dz z (1 - z)` |
//! | new | `n = tanh(gi_n + r gh_n)` | `dgi_n = dn (1 - n^2)`, `dgh_n = dgi_n r`, `dr = dgi_n gh_n` |
//! | hidden | `h_t = (1 - z) n + z h_{t-1}` | `dn = dh (1 - z)`, `dz = dh (h_{t-1} - n)`, `dh_{t-1} = dh z` |
//!
//! ```
//! use synapse_reference::{Array, RefGru};
//! // IN = H = 1, every weight 0 and only the n bias set: r = z = 1/2, n = tanh(1)
//! let gru = RefGru::new(
//!     Array::zeros(vec![3, 1]),
//!     Array::zeros(vec![3, 1]),
//!     Array::new(vec![3], vec![0.0, 0.0, 1.0]),
//!     Array::zeros(vec![3]),
//! );
//! let y = gru.forward(&Array::zeros(vec![1, 2, 1]));
//! // h_1 = n / 2, h_2 = n / 2 + h_1 / 2
//! let n = 1f64.tanh();
//! assert_eq!(y.data, vec![n / 2.0, n / 2.0 + n / 4.0]);
//! // as torch.nn.GRU printed them
//! assert!((y.data[0] - 0.3807970779778824).abs() < 1e-15);
//! assert!((y.data[1] - 0.5711956169668236).abs() < 1e-15);
//! ```

use crate::article::sigmoid;
use crate::rnn::{RecurrentCell, RefRecurrent, StepGrads};

/// `nn.GRU(IN, H, batch_first=True)`, one layer, output sequence only: the
/// recurrent layer of `rnn.rs` with the GRU cell.
pub type RefGru = RefRecurrent<RefGruCell>;

/// The GRU cell (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefGruCell;

/// One step's values, kept for the backward.
pub struct GruKept {
    r: Vec<f64>,
    z: Vec<f64>,
    n: Vec<f64>,
    /// `W_hn h_{t-1} + b_hn`, which `r` scales.
    gh_n: Vec<f64>,
}

impl RecurrentCell for RefGruCell {
    const NAME: &'static str = "gru";
    const GATES: usize = 3;
    type Kept = GruKept;

    fn step(gi: &[f64], gh: &[f64], h_prev: &[f64], _c: &[f64]) -> (Vec<f64>, Vec<f64>, GruKept) {
        let h = h_prev.len();
        // r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z)
        let r: Vec<f64> = (0..h).map(|j| sigmoid(gi[j] + gh[j])).collect();
        let z: Vec<f64> = (0..h).map(|j| sigmoid(gi[h + j] + gh[h + j])).collect();
        // n = tanh(gi_n + r gh_n)
        let gh_n = gh[2 * h..].to_vec();
        let n: Vec<f64> = (0..h)
            .map(|j| (gi[2 * h + j] + r[j] * gh_n[j]).tanh())
            .collect();
        // h_t = (1 - z) n + z h_{t-1}
        let h_t = (0..h)
            .map(|j| (1.0 - z[j]) * n[j] + z[j] * h_prev[j])
            .collect();
        (h_t, Vec::new(), GruKept { r, z, n, gh_n })
    }

    fn step_back(
        dh: &[f64],
        _dc: &[f64],
        kept: &GruKept,
        h_prev: &[f64],
        _c_prev: &[f64],
    ) -> StepGrads {
        let GruKept { r, z, n, gh_n } = kept;
        let h = dh.len();
        let (mut dgi, mut dgh) = (vec![0.0; 3 * h], vec![0.0; 3 * h]);
        let mut dh_prev = vec![0.0; h];
        for j in 0..h {
            // h_t = (1 - z) n + z h_{t-1}
            let (dn, dz) = (dh[j] * (1.0 - z[j]), dh[j] * (h_prev[j] - n[j]));
            dh_prev[j] = dh[j] * z[j];
            // n = tanh(gi_n + r gh_n)
            let dan = dn * (1.0 - n[j] * n[j]);
            let dr = dan * gh_n[j];
            // r, z = sigmoid(gi + gh)
            let (dar, daz) = (dr * r[j] * (1.0 - r[j]), dz * z[j] * (1.0 - z[j]));
            (dgi[j], dgi[h + j], dgi[2 * h + j]) = (dar, daz, dan);
            (dgh[j], dgh[h + j], dgh[2 * h + j]) = (dar, daz, dan * r[j]);
        }
        StepGrads {
            dgi,
            dgh,
            dh_prev: Some(dh_prev),
            dc_prev: Vec::new(),
        }
    }
}
