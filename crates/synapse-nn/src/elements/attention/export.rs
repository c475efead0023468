//! The ONNX form of `attention(D,HEADS)` in evaluation mode, as plain
//! nodes (every opset): with `dh = D / HEADS` and `p` the element's path,
//!
//! ```text
//! qkv = x W_in^T + b_in                                  Transpose, MatMul, Add      [batch, T, 3D]
//! q, v = transpose(reshape(slice(qkv)), 0 2 1 3)          Slice, Reshape, Transpose   [batch, H, T, dh]
//! k    = transpose(reshape(slice(qkv)), 0 2 3 1)                                      [batch, H, dh, T]
//! s = (q k) / sqrt(dh)  (+ mask)                         MatMul, Mul (Add)           [batch, H, T, T]
//! mask[i, j] = -inf if j > i else 0, from x's length     Shape, Slice, Squeeze, Range, Unsqueeze, Greater, Where
//! y = reshape(transpose(softmax(s) v)) W_out^T + b_out   Softmax, MatMul, Transpose, Reshape, Transpose, MatMul, Add
//! ```
//! Values are named `"{p}.{what}"`, the weights by their state names; the
//! node order is the order of the lines above, so every value is written
//! before it is read.

use super::{Attention, NAMES};
use crate::export::{Attribute, Export, Scope};
use crate::Result;

/// The nodes and constants being written, in one element's scope.
struct Graph<'a> {
    e: Export,
    scope: &'a Scope,
}

impl Graph<'_> {
    /// The value `what` of this element: `"{p}.{what}"`.
    fn v(&self, what: &str) -> String {
        self.scope.named(what)
    }

    /// A node reading and writing values of this element (by `what`).
    fn node(&mut self, op: &'static str, inputs: &[&str], out: &str, attrs: Vec<Attribute>) {
        let inputs = inputs.iter().map(|s| self.v(s)).collect();
        let out = vec![self.v(out)];
        self.e.node(op, self.scope, inputs, out, attrs);
    }

    /// An INT64 constant `what`.
    fn int(&mut self, what: &str, dims: Vec<usize>, values: Vec<i64>) {
        let name = self.v(what);
        self.e.int(name, dims, values);
    }

    /// A scalar constant `what` of the model's float type.
    fn scalar(&mut self, what: &str, value: f64) -> Result<()> {
        let name = self.v(what);
        self.e.float(name, self.scope.scalar(value)?);
        Ok(())
    }
}

/// A transpose of a matrix.
fn t2() -> Vec<Attribute> {
    vec![Attribute::ints("perm", &[1, 0])]
}

impl Attention {
    /// The element's nodes (see the module doc).
    pub(super) fn export_nodes(&self, scope: &Scope) -> Result<Export> {
        let mut g = Graph {
            e: Export::default(),
            scope,
        };
        for (name, var) in NAMES.iter().zip(&self.vars) {
            let name = g.v(name);
            g.e.float(name, var.as_tensor().clone());
        }
        self.export_heads(&mut g);
        let scores = self.export_scores(&mut g)?;
        self.export_output(&mut g, scores);
        Ok(g.e)
    }

    /// The in-projection, cut into the heads' `q`, `k` (transposed) and `v`.
    fn export_heads(&self, g: &mut Graph<'_>) {
        let (d, heads) = (self.dim() as i64, self.heads as i64);
        let x = g.scope.input.clone();
        g.node("Transpose", &[NAMES[0]], "w_in_t", t2());
        let (w_in_t, qkv_raw) = (g.v("w_in_t"), g.v("qkv_raw"));
        g.e.node("MatMul", g.scope, vec![x, w_in_t], vec![qkv_raw], vec![]);
        g.node("Add", &["qkv_raw", NAMES[1]], "qkv", vec![]);
        g.int("axis2", vec![1], vec![2]);
        g.int("heads_shape", vec![4], vec![0, 0, heads, d / heads]);
        g.int("merged_shape", vec![3], vec![0, 0, d]);
        for (k, (part, perm)) in [
            ("q", [0, 2, 1, 3]),
            ("k", [0, 2, 3, 1]),
            ("v", [0, 2, 1, 3]),
        ]
        .into_iter()
        .enumerate()
        {
            let k = k as i64;
            let (start, end) = (format!("{part}_start"), format!("{part}_end"));
            let (flat, split) = (format!("{part}_flat"), format!("{part}_split"));
            g.int(&start, vec![1], vec![k * d]);
            g.int(&end, vec![1], vec![(k + 1) * d]);
            g.node("Slice", &["qkv", &start, &end, "axis2"], &flat, vec![]);
            g.node("Reshape", &[&flat, "heads_shape"], &split, vec![]);
            let perm = vec![Attribute::ints("perm", &perm)];
            g.node("Transpose", &[&split], part, perm);
        }
    }

    /// The scaled scores `q k / sqrt(dh)`, masked when causal; returns the
    /// name (`what`) of the value holding them.
    fn export_scores(&self, g: &mut Graph<'_>) -> Result<&'static str> {
        let dh = self.dim() / self.heads;
        g.scalar("scale", 1.0 / (dh as f64).sqrt())?;
        g.node("MatMul", &["q", "k"], "scores_raw", vec![]);
        g.node("Mul", &["scores_raw", "scale"], "scores", vec![]);
        if !self.causal {
            return Ok("scores");
        }
        export_mask(g)?;
        g.node("Add", &["scores", "mask"], "masked", vec![]);
        Ok("masked")
    }

    /// The softmax over the keys, the product by `v`, the heads merged, and
    /// the out-projection into the scope's output.
    fn export_output(&self, g: &mut Graph<'_>, scores: &str) {
        let axis = vec![Attribute::int("axis", -1)];
        g.node("Softmax", &[scores], "weights", axis);
        g.node("MatMul", &["weights", "v"], "heads", vec![]);
        let perm = vec![Attribute::ints("perm", &[0, 2, 1, 3])];
        g.node("Transpose", &["heads"], "heads_t", perm);
        g.node("Reshape", &["heads_t", "merged_shape"], "merged", vec![]);
        g.node("Transpose", &[NAMES[2]], "w_out_t", t2());
        g.node("MatMul", &["merged", "w_out_t"], "out_raw", vec![]);
        let inputs = vec![g.v("out_raw"), g.v(NAMES[3])];
        let out = vec![g.scope.output.clone()];
        g.e.node("Add", g.scope, inputs, out, vec![]);
    }
}

/// `mask[i, j] = -inf` where `j > i`, else 0, for the input's own length
/// (symbolic): `[T, T]`, broadcast over batch and heads.
fn export_mask(g: &mut Graph<'_>) -> Result<()> {
    g.int("zero", vec![], vec![0]);
    g.int("one", vec![], vec![1]);
    g.int("axis0", vec![1], vec![0]);
    g.int("axis1", vec![1], vec![1]);
    g.int("index1", vec![1], vec![1]);
    g.int("index2", vec![1], vec![2]);
    g.scalar("neg_inf", f64::NEG_INFINITY)?;
    g.scalar("no_mask", 0.0)?;
    let (x, shape) = (g.scope.input.clone(), g.v("shape"));
    g.e.node("Shape", g.scope, vec![x], vec![shape], vec![]);
    g.node(
        "Slice",
        &["shape", "index1", "index2", "axis0"],
        "t1",
        vec![],
    );
    g.node("Squeeze", &["t1", "axis0"], "t", vec![]);
    g.node("Range", &["zero", "t", "one"], "pos", vec![]);
    g.node("Unsqueeze", &["pos", "axis1"], "rows", vec![]);
    g.node("Unsqueeze", &["pos", "axis0"], "cols", vec![]);
    g.node("Greater", &["cols", "rows"], "later", vec![]);
    g.node("Where", &["later", "neg_inf", "no_mask"], "mask", vec![]);
    Ok(())
}
