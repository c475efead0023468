//! Multi-head self-attention, PyTorch's `nn.MultiheadAttention(D, HEADS,
//! batch_first=True)` called with query = key = value = x, returning the output
//! only (dropout 0), optionally causal, with its hand-written backward.
//!
//! Shapes: `x`, `y` `[batch, T, D]`; `in_proj_weight` `[3D, D]`, `in_proj_bias`
//! `[3D]`, `out_proj.weight` `[D, D]`, `out_proj.bias` `[D]`. Head `h` of `HEADS`
//! takes features `h*dh..(h+1)*dh` of q, k, v, with `dh = D / HEADS`. Per sample
//! and head (`q`, `k`, `v`, `o` `[T, dh]`, `s`, `a` `[T, T]`):
//!
//! | step | forward | backward (given the next row's gradient) |
//! | --- | --- | --- |
//! | in projection | `[q, k, v] = x W_in^T + b_in`, q first | dense: `dW_in = dqkv^T x`, `db_in = sum_rows dqkv`, `dx = dqkv W_in` |
//! | scores | `s = q k^T / sqrt(dh)`, plus `-inf` where `j > i` when causal | `dq = ds k / sqrt(dh)`, `dk = ds^T q / sqrt(dh)` |
//! | softmax | `a_i = softmax(s_i)` over keys | `ds_ij = a_ij (da_ij - sum_k da_ik a_ik)` |
//! | mix | `o = a v`, heads concatenated | `da = do v^T`, `dv = a^T do` |
//! | out projection | `y = o W_out^T + b_out` | dense: `dW_out = dy^T o`, `db_out = sum_rows dy`, `do = dy W_out` |
//!
//! The causal mask is `nn.Transformer.generate_square_subsequent_mask(T)`:
//! position `i` attends to `j <= i`; a masked weight is exactly 0.
//!
//! ```
//! use synapse_reference::{Array, RefAttention};
//! // D = 1, one head, q = k = v = x, output projection the identity
//! let att = |causal| RefAttention::new(
//!     Array::new(vec![3, 1], vec![1.0; 3]),
//!     Array::zeros(vec![3]),
//!     Array::new(vec![1, 1], vec![1.0]),
//!     Array::zeros(vec![1]),
//!     1,
//!     causal,
//! );
//! let x = Array::new(vec![1, 2, 1], vec![1.0, 2.0]);
//! // position 1 weighs x = [1, 2] by softmax([2, 4]); causal position 0 sees itself only
//! let e2 = 2f64.exp();
//! let y = att(true).forward(&x);
//! assert_eq!(y.data[0], 1.0);
//! assert!((y.data[1] - (1.0 + e2 / (1.0 + e2))).abs() < 1e-15);
//! // without the mask position 0 weighs x by softmax([1, 2])
//! let y = att(false).forward(&x);
//! assert!((y.data[0] - (1.0 + 1f64.exp() / (1.0 + 1f64.exp()))).abs() < 1e-15);
//! ```

use crate::element::{named, RefOps};
use crate::RefMode;
use crate::{Array, Matrix, RefActivation, RefDense};

/// `nn.MultiheadAttention(D, heads, batch_first=True)` on `(x, x, x)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefAttention {
    /// `in_proj_weight`, `[3D, D]`: the q, k, v projections stacked.
    pub in_proj_weight: Array,
    /// `in_proj_bias`, `[3D]`.
    pub in_proj_bias: Array,
    /// `out_proj.weight`, `[D, D]`.
    pub out_proj_weight: Array,
    /// `out_proj.bias`, `[D]`.
    pub out_proj_bias: Array,
    /// The number of heads; `D` is a multiple of it.
    pub heads: usize,
    /// Whether position `i` only sees positions `j <= i`.
    pub causal: bool,
}

/// Columns `off..off + w` of sample `b` of `a` `[batch, T, C]`, as a `[T, w]` matrix.
fn cols(a: &Array, b: usize, off: usize, w: usize) -> Matrix {
    let (t, c) = (a.shape[1], a.shape[2]);
    let data = (0..t)
        .flat_map(|i| a.data[(b * t + i) * c + off..][..w].iter().copied())
        .collect();
    Matrix::new(t, w, data)
}

/// Writes `m` `[T, w]` into columns `off..off + w` of sample `b` of `a`.
fn set_cols(a: &mut Array, b: usize, off: usize, m: &Matrix) {
    let (t, c) = (a.shape[1], a.shape[2]);
    for i in 0..t {
        a.data[(b * t + i) * c + off..][..m.cols].copy_from_slice(&m.data[i * m.cols..][..m.cols]);
    }
}

impl RefAttention {
    /// Attention from its four tensors (PyTorch's order), head count and mask choice.
    pub fn new(
        in_proj_weight: Array,
        in_proj_bias: Array,
        out_proj_weight: Array,
        out_proj_bias: Array,
        heads: usize,
        causal: bool,
    ) -> Self {
        let att = Self {
            in_proj_weight,
            in_proj_bias,
            out_proj_weight,
            out_proj_bias,
            heads,
            causal,
        };
        att.dim();
        att
    }

    /// `D`, after checking every shape.
    fn dim(&self) -> usize {
        let d = self.out_proj_bias.numel();
        assert_eq!(self.out_proj_bias.shape, [d], "out_proj.bias is [D]");
        assert_eq!(
            self.out_proj_weight.shape,
            [d, d],
            "out_proj.weight is [D, D]"
        );
        assert_eq!(
            self.in_proj_weight.shape,
            [3 * d, d],
            "in_proj_weight is [3D, D]"
        );
        assert_eq!(self.in_proj_bias.shape, [3 * d], "in_proj_bias is [3D]");
        assert!(
            self.heads > 0 && d.is_multiple_of(self.heads),
            "D = {d} is not a multiple of heads"
        );
        d
    }

    fn in_proj(&self) -> RefDense {
        RefDense::new(self.in_proj_weight.clone(), Some(self.in_proj_bias.clone()))
    }

    fn out_proj(&self) -> RefDense {
        RefDense::new(
            self.out_proj_weight.clone(),
            Some(self.out_proj_bias.clone()),
        )
    }

    /// `(s, a)` of one head: `s = q k^T / sqrt(dh)` (masked), `a = softmax(s)` per row.
    fn weights(&self, q: &Matrix, k: &Matrix) -> (Array, Array) {
        let scale = (q.cols as f64).sqrt();
        let mut s = q.matmul(&k.t()).map(|v| v / scale);
        if self.causal {
            for i in 0..s.rows {
                for j in i + 1..s.cols {
                    s.data[i * s.cols + j] = f64::NEG_INFINITY;
                }
            }
        }
        let s = Array::from(s);
        let a = RefActivation::Softmax.forward(&s);
        (s, a)
    }

    /// `o` `[batch, T, D]`: every head's `a v`, concatenated, from `qkv` `[batch, T, 3D]`.
    fn attend(&self, qkv: &Array) -> Array {
        let d = self.dim();
        let dh = d / self.heads;
        let mut o = Array::zeros(vec![qkv.shape[0], qkv.shape[1], d]);
        for b in 0..qkv.shape[0] {
            for h in 0..self.heads {
                let [q, k, v] = [0, 1, 2].map(|part| cols(qkv, b, part * d + h * dh, dh));
                let (_, a) = self.weights(&q, &k);
                // o = a v
                set_cols(&mut o, b, h * dh, &a.to_matrix().matmul(&v));
            }
        }
        o
    }

    /// `[batch, T, D]` to `[batch, T, D]`.
    pub fn forward(&self, x: &Array) -> Array {
        assert_eq!(x.rank(), 3, "attention input is [batch, T, D]");
        let qkv = self.in_proj().forward(x);
        self.out_proj().forward(&self.attend(&qkv))
    }

    /// `(dx, [d in_proj_weight, d in_proj_bias, d out_proj.weight, d out_proj.bias])`
    /// given `dy = dL/dy`.
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let d = self.dim();
        let dh = d / self.heads;
        let qkv = self.in_proj().forward(x);
        let o = self.attend(&qkv);
        // y = o W_out^T + b_out
        let (d_o, out_grads) = self.out_proj().backward(&o, dy);
        let mut dqkv = Array::zeros(qkv.shape.clone());
        let scale = (dh as f64).sqrt();
        for b in 0..x.shape[0] {
            for h in 0..self.heads {
                let [q, k, v] = [0, 1, 2].map(|part| cols(&qkv, b, part * d + h * dh, dh));
                let (s, a) = self.weights(&q, &k);
                let d_oh = cols(&d_o, b, h * dh, dh);
                // o = a v
                let da = d_oh.matmul(&v.t());
                let dv = a.to_matrix().t().matmul(&d_oh);
                // a = softmax(s)
                let ds = RefActivation::Softmax
                    .backward(&s, &a, &Array::from(da))
                    .to_matrix();
                // s = q k^T / sqrt(dh)
                let dq = ds.matmul(&k).map(|v| v / scale);
                let dk = ds.t().matmul(&q).map(|v| v / scale);
                set_cols(&mut dqkv, b, h * dh, &dq);
                set_cols(&mut dqkv, b, d + h * dh, &dk);
                set_cols(&mut dqkv, b, 2 * d + h * dh, &dv);
            }
        }
        // [q, k, v] = x W_in^T + b_in
        let (dx, in_grads) = self.in_proj().backward(x, &dqkv);
        (dx, in_grads.into_iter().chain(out_grads).collect())
    }

    /// The parameters with PyTorch's names, in its order.
    pub fn parameters(&self) -> Vec<(&'static str, &Array)> {
        vec![
            ("in_proj_weight", &self.in_proj_weight),
            ("in_proj_bias", &self.in_proj_bias),
            ("out_proj.weight", &self.out_proj_weight),
            ("out_proj.bias", &self.out_proj_bias),
        ]
    }

    /// The parameters, mutable, in [`RefAttention::parameters`] order.
    pub fn parameters_mut(&mut self) -> Vec<&mut Array> {
        vec![
            &mut self.in_proj_weight,
            &mut self.in_proj_bias,
            &mut self.out_proj_weight,
            &mut self.out_proj_bias,
        ]
    }
}

impl RefOps for RefAttention {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefAttention::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        RefAttention::backward(self, x, dy)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        named(RefAttention::parameters(self))
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        RefAttention::parameters_mut(self)
    }
}
