//! The LSTM layer, PyTorch's `nn.LSTM(IN, H, batch_first=True)` with zero
//! initial `h` and `c`, returning the whole output sequence, with its
//! backward through time written out by hand.
//!
//! Shapes: `x` `[batch, T, IN]`, `y` `[batch, T, H]` (`y[:, t] = h_t`);
//! `weight_ih_l0` `[4H, IN]`, `weight_hh_l0` `[4H, H]`, `bias_ih_l0`, `bias_hh_l0`
//! `[4H]`, gate rows in PyTorch's order i, f, g, o. Per sample, for `t = 0..T`
//! (backward: `t` from `T-1` down, with `dh = dy_t + dh` from step `t+1`, and `dc` from step `t+1`):
//!
//! | step | forward | backward |
//! | --- | --- | --- |
//! | gates | `a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh` = `[a_i, a_f, a_g, a_o]` | `dW_ih += da x_t^T`, `dW_hh += da h_{t-1}^T`, `db_ih += da`, `db_hh += da`, `dx_t = W_ih^T da`, `dh_{t-1} = W_hh^T da` |
//! | i, f, o | `sigmoid(a_i)`, `sigmoid(a_f)`, `sigmoid(a_o)` | `da_i = di i (1 - i)`, likewise f, o |
//! | g | `tanh(a_g)` | `da_g = dg (1 - g^2)` |
//! | cell | `c_t = f c_{t-1} + i g` | `df = dc c_{t-1}`, `di = dc g`, `dg = dc i`, `dc_{t-1} = dc f` |
//! | hidden | `h_t = o tanh(c_t)` | `do = dh tanh(c_t)`, `dc += dh o (1 - tanh(c_t)^2)` |
//!
//! ```
//! use synapse_reference::{Array, RefLstm};
//! // IN = H = 1, every weight 0 and only the g bias set: i = f = o = 1/2, g = tanh(1)
//! let lstm = RefLstm::new(
//!     Array::zeros(vec![4, 1]),
//!     Array::zeros(vec![4, 1]),
//!     Array::new(vec![4], vec![0.0, 0.0, 1.0, 0.0]),
//!     Array::zeros(vec![4]),
//! );
//! let y = lstm.forward(&Array::zeros(vec![1, 2, 1]));
//! // c_1 = g / 2, h_1 = tanh(c_1) / 2; c_2 = c_1 / 2 + g / 2
//! let (g, c1) = (1f64.tanh(), 1f64.tanh() / 2.0);
//! assert_eq!(y.data, vec![c1.tanh() / 2.0, (c1 / 2.0 + g / 2.0).tanh() / 2.0]);
//! // as torch.nn.LSTM printed them
//! assert!((y.data[0] - 0.18169974219452623).abs() < 1e-15);
//! assert!((y.data[1] - 0.25811840186952106).abs() < 1e-15);
//! ```

use crate::article::sigmoid;
use crate::rnn::{RecurrentCell, RefRecurrent, StepGrads};

/// `nn.LSTM(IN, H, batch_first=True)`, one layer, output sequence only:
/// the recurrent layer of `rnn.rs` with the LSTM cell.
pub type RefLstm = RefRecurrent<RefLstmCell>;

/// The LSTM cell (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefLstmCell;

/// One step's gate values, kept for the backward.
pub struct LstmKept {
    i: Vec<f64>,
    f: Vec<f64>,
    g: Vec<f64>,
    o: Vec<f64>,
    tanh_c: Vec<f64>,
}

impl RecurrentCell for RefLstmCell {
    const NAME: &'static str = "lstm";
    const GATES: usize = 4;
    type Kept = LstmKept;

    fn step(
        ax: &[f64],
        ah: &[f64],
        _h_prev: &[f64],
        c_prev: &[f64],
    ) -> (Vec<f64>, Vec<f64>, LstmKept) {
        let h = c_prev.len();
        // a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        let a: Vec<f64> = ax.iter().zip(ah).map(|(u, v)| u + v).collect();
        let part = |k: usize, f: fn(f64) -> f64| -> Vec<f64> {
            a[k * h..(k + 1) * h].iter().map(|&v| f(v)).collect()
        };
        // i, f, o = sigmoid, g = tanh
        let (i, f, g, o) = (
            part(0, sigmoid),
            part(1, sigmoid),
            part(2, f64::tanh),
            part(3, sigmoid),
        );
        // c_t = f c_{t-1} + i g
        let c: Vec<f64> = (0..h).map(|j| f[j] * c_prev[j] + i[j] * g[j]).collect();
        // h_t = o tanh(c_t)
        let tanh_c: Vec<f64> = c.iter().map(|v| v.tanh()).collect();
        let h_t: Vec<f64> = o.iter().zip(&tanh_c).map(|(o, tc)| o * tc).collect();
        (h_t, c, LstmKept { i, f, g, o, tanh_c })
    }

    fn step_back(
        dh: &[f64],
        dc_next: &[f64],
        kept: &LstmKept,
        _h_prev: &[f64],
        c_prev: &[f64],
    ) -> StepGrads {
        let LstmKept { i, f, g, o, tanh_c } = kept;
        let h = dh.len();
        let mut da = vec![0.0; 4 * h];
        let mut dc_prev = vec![0.0; h];
        for j in 0..h {
            // h_t = o tanh(c_t)
            let d_o = dh[j] * tanh_c[j];
            let dc = dc_next[j] + dh[j] * o[j] * (1.0 - tanh_c[j] * tanh_c[j]);
            // c_t = f c_{t-1} + i g
            let (di, df, dg) = (dc * g[j], dc * c_prev[j], dc * i[j]);
            dc_prev[j] = dc * f[j];
            // i, f, o = sigmoid(a), g = tanh(a)
            da[j] = di * i[j] * (1.0 - i[j]);
            da[h + j] = df * f[j] * (1.0 - f[j]);
            da[2 * h + j] = dg * (1.0 - g[j] * g[j]);
            da[3 * h + j] = d_o * o[j] * (1.0 - o[j]);
        }
        // a = gi + gh: both products get da; h_{t-1} only through W_hh
        StepGrads {
            dgi: da.clone(),
            dgh: da,
            dh_prev: None,
            dc_prev,
        }
    }
}
