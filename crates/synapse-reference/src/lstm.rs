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
use crate::rnn::{affine, affine_back, check_weights, dims, step, NAMES};
use crate::Array;

/// `nn.LSTM(IN, H, batch_first=True)`, one layer, output sequence only.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLstm {
    /// `weight_ih_l0`, `[4H, IN]`.
    pub weight_ih: Array,
    /// `weight_hh_l0`, `[4H, H]`.
    pub weight_hh: Array,
    /// `bias_ih_l0`, `[4H]`.
    pub bias_ih: Array,
    /// `bias_hh_l0`, `[4H]`.
    pub bias_hh: Array,
}

/// One step's gate values, kept for the backward.
struct Gates {
    i: Vec<f64>,
    f: Vec<f64>,
    g: Vec<f64>,
    o: Vec<f64>,
    tanh_c: Vec<f64>,
}

/// One sample's forward: its steps' gates, and the states with `hs[0] = cs[0] = 0`.
struct Trace {
    gates: Vec<Gates>,
    hs: Vec<Vec<f64>>,
    cs: Vec<Vec<f64>>,
}

impl RefLstm {
    /// An LSTM from its four tensors, in PyTorch's order.
    pub fn new(weight_ih: Array, weight_hh: Array, bias_ih: Array, bias_hh: Array) -> Self {
        check_weights(4, &weight_ih, &weight_hh, &bias_ih, &bias_hh);
        Self {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
        }
    }

    /// `(IN, H)`.
    pub fn sizes(&self) -> (usize, usize) {
        check_weights(
            4,
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        )
    }

    /// Sample `b`'s forward through its `T` steps.
    fn trace(&self, x: &Array, b: usize) -> Trace {
        let h = self.sizes().1;
        let mut tr = Trace {
            gates: Vec::new(),
            hs: vec![vec![0.0; h]],
            cs: vec![vec![0.0; h]],
        };
        for t in 0..x.shape[1] {
            let (h_prev, c_prev) = (&tr.hs[t], &tr.cs[t]);
            // a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
            let ax = affine(&self.weight_ih, &self.bias_ih, step(x, b, t));
            let ah = affine(&self.weight_hh, &self.bias_hh, h_prev);
            let a: Vec<f64> = ax.iter().zip(&ah).map(|(u, v)| u + v).collect();
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
            tr.gates.push(Gates { i, f, g, o, tanh_c });
            tr.hs.push(h_t);
            tr.cs.push(c);
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
        assert_eq!(dy.shape, [batch, steps, h], "lstm dy shape");
        let mut dw_ih = Array::zeros(self.weight_ih.shape.clone());
        let mut dw_hh = Array::zeros(self.weight_hh.shape.clone());
        let mut db_ih = Array::zeros(vec![4 * h]);
        let mut db_hh = Array::zeros(vec![4 * h]);
        let mut dx = Array::zeros(x.shape.clone());
        for b in 0..batch {
            let tr = self.trace(x, b);
            let (mut dh_next, mut dc_next) = (vec![0.0; h], vec![0.0; h]);
            for t in (0..steps).rev() {
                let Gates { i, f, g, o, tanh_c } = &tr.gates[t];
                let mut da = vec![0.0; 4 * h];
                for j in 0..h {
                    // h_t feeds y_t and step t+1
                    let dh = dy.data[(b * steps + t) * h + j] + dh_next[j];
                    // h_t = o tanh(c_t)
                    let d_o = dh * tanh_c[j];
                    let dc = dc_next[j] + dh * o[j] * (1.0 - tanh_c[j] * tanh_c[j]);
                    // c_t = f c_{t-1} + i g
                    let (di, df, dg) = (dc * g[j], dc * tr.cs[t][j], dc * i[j]);
                    dc_next[j] = dc * f[j];
                    // i, f, o = sigmoid(a), g = tanh(a)
                    da[j] = di * i[j] * (1.0 - i[j]);
                    da[h + j] = df * f[j] * (1.0 - f[j]);
                    da[2 * h + j] = dg * (1.0 - g[j] * g[j]);
                    da[3 * h + j] = d_o * o[j] * (1.0 - o[j]);
                }
                // a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
                let dxt = affine_back(&self.weight_ih, step(x, b, t), &da, &mut dw_ih, &mut db_ih);
                let at = (b * steps + t) * input;
                dx.data[at..at + input].copy_from_slice(&dxt);
                dh_next = affine_back(&self.weight_hh, &tr.hs[t], &da, &mut dw_hh, &mut db_hh);
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

    /// The parameters, mutable, in [`RefLstm::parameters`] order.
    pub fn parameters_mut(&mut self) -> Vec<&mut Array> {
        vec![
            &mut self.weight_ih,
            &mut self.weight_hh,
            &mut self.bias_ih,
            &mut self.bias_hh,
        ]
    }
}
