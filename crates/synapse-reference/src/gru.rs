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
use crate::rnn::{affine, affine_back, check_weights, dims, step, NAMES};
use crate::Array;

/// `nn.GRU(IN, H, batch_first=True)`, one layer, output sequence only.
#[derive(Debug, Clone, PartialEq)]
pub struct RefGru {
    /// `weight_ih_l0`, `[3H, IN]`.
    pub weight_ih: Array,
    /// `weight_hh_l0`, `[3H, H]`.
    pub weight_hh: Array,
    /// `bias_ih_l0`, `[3H]`.
    pub bias_ih: Array,
    /// `bias_hh_l0`, `[3H]`.
    pub bias_hh: Array,
}

/// One step's values, kept for the backward.
struct Gates {
    r: Vec<f64>,
    z: Vec<f64>,
    n: Vec<f64>,
    /// `W_hn h_{t-1} + b_hn`, which `r` scales.
    gh_n: Vec<f64>,
}

impl RefGru {
    /// A GRU from its four tensors, in PyTorch's order.
    pub fn new(weight_ih: Array, weight_hh: Array, bias_ih: Array, bias_hh: Array) -> Self {
        check_weights(3, &weight_ih, &weight_hh, &bias_ih, &bias_hh);
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
            3,
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        )
    }

    /// Sample `b`'s forward: each step's gates, and `hs` with `hs[0] = 0`.
    fn trace(&self, x: &Array, b: usize) -> (Vec<Gates>, Vec<Vec<f64>>) {
        let h = self.sizes().1;
        let (mut gates, mut hs) = (Vec::new(), vec![vec![0.0; h]]);
        for t in 0..x.shape[1] {
            let h_prev = &hs[t];
            // gi = W_ih x_t + b_ih, gh = W_hh h_{t-1} + b_hh
            let gi = affine(&self.weight_ih, &self.bias_ih, step(x, b, t));
            let gh = affine(&self.weight_hh, &self.bias_hh, h_prev);
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
            gates.push(Gates { r, z, n, gh_n });
            hs.push(h_t);
        }
        (gates, hs)
    }

    /// `[batch, T, IN]` to `[batch, T, H]`: every step's `h_t`.
    pub fn forward(&self, x: &Array) -> Array {
        let (input, h) = self.sizes();
        let (batch, steps) = dims(x, input);
        let data = (0..batch)
            .flat_map(|b| self.trace(x, b).1.into_iter().skip(1).flatten())
            .collect();
        Array::new(vec![batch, steps, h], data)
    }

    /// `(dx, [dweight_ih, dweight_hh, dbias_ih, dbias_hh])` given `dy = dL/dy`.
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let (input, h) = self.sizes();
        let (batch, steps) = dims(x, input);
        assert_eq!(dy.shape, [batch, steps, h], "gru dy shape");
        let mut dw_ih = Array::zeros(self.weight_ih.shape.clone());
        let mut dw_hh = Array::zeros(self.weight_hh.shape.clone());
        let mut db_ih = Array::zeros(vec![3 * h]);
        let mut db_hh = Array::zeros(vec![3 * h]);
        let mut dx = Array::zeros(x.shape.clone());
        for b in 0..batch {
            let (gates, hs) = self.trace(x, b);
            let mut dh_next = vec![0.0; h];
            for t in (0..steps).rev() {
                let Gates { r, z, n, gh_n } = &gates[t];
                let (mut dgi, mut dgh) = (vec![0.0; 3 * h], vec![0.0; 3 * h]);
                let mut dh_prev = vec![0.0; h];
                for j in 0..h {
                    // h_t feeds y_t and step t+1
                    let dh = dy.data[(b * steps + t) * h + j] + dh_next[j];
                    // h_t = (1 - z) n + z h_{t-1}
                    let (dn, dz) = (dh * (1.0 - z[j]), dh * (hs[t][j] - n[j]));
                    dh_prev[j] = dh * z[j];
                    // n = tanh(gi_n + r gh_n)
                    let dan = dn * (1.0 - n[j] * n[j]);
                    let dr = dan * gh_n[j];
                    // r, z = sigmoid(gi + gh)
                    let (dar, daz) = (dr * r[j] * (1.0 - r[j]), dz * z[j] * (1.0 - z[j]));
                    (dgi[j], dgi[h + j], dgi[2 * h + j]) = (dar, daz, dan);
                    (dgh[j], dgh[h + j], dgh[2 * h + j]) = (dar, daz, dan * r[j]);
                }
                // gi = W_ih x_t + b_ih, gh = W_hh h_{t-1} + b_hh
                let dxt = affine_back(&self.weight_ih, step(x, b, t), &dgi, &mut dw_ih, &mut db_ih);
                let at = (b * steps + t) * input;
                dx.data[at..at + input].copy_from_slice(&dxt);
                let through = affine_back(&self.weight_hh, &hs[t], &dgh, &mut dw_hh, &mut db_hh);
                dh_next = dh_prev.iter().zip(&through).map(|(a, b)| a + b).collect();
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

    /// The parameters, mutable, in [`RefGru::parameters`] order.
    pub fn parameters_mut(&mut self) -> Vec<&mut Array> {
        vec![
            &mut self.weight_ih,
            &mut self.weight_hh,
            &mut self.bias_ih,
            &mut self.bias_hh,
        ]
    }
}
