//! The embedding table, PyTorch's `nn.Embedding(V, D)`: each id picks a row.
//!
//! Shapes: ids `x` `[batch, T]` (any shape; whole numbers `0..V` carried as
//! `f64`), `weight` `[V, D]`, `y` `[batch, T, D]` (the ids' shape and `D`).
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | embedding | `y[p] = weight[x[p]]` for each position `p` | `dweight[v] = sum of dy[p] over the positions with x[p] = v` (scatter-add); `dx = 0` (ids have no gradient) |
//!
//! ```
//! use synapse_reference::{Array, RefEmbedding};
//! let e = RefEmbedding::new(Array::new(vec![3, 2], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
//! let ids = Array::new(vec![1, 3], vec![2.0, 0.0, 2.0]);
//! assert_eq!(e.forward(&ids).data, vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
//! let (dx, dw) = e.backward(&ids, &Array::new(vec![1, 3, 2], vec![1.0; 6]));
//! assert_eq!(dx.data, vec![0.0; 3]);
//! // row 2 is used twice, row 1 never
//! assert_eq!(dw[0].data, vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
//! ```

use crate::element::{weight_bias, RefOps};
use crate::Array;
use crate::RefMode;

/// `nn.Embedding(V, D)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefEmbedding {
    /// The table, `[V, D]`: row `v` is id `v`'s vector.
    pub weight: Array,
}

impl RefEmbedding {
    /// An embedding from its table `[V, D]`.
    pub fn new(weight: Array) -> Self {
        assert_eq!(weight.rank(), 2, "embedding weight is [V, D]");
        Self { weight }
    }

    /// The ids of `x` as row indices; asserts whole numbers in `0..V`.
    fn ids(&self, x: &Array) -> Vec<usize> {
        let v = self.weight.shape[0];
        x.data
            .iter()
            .map(|&id| {
                assert!(
                    id >= 0.0 && id.fract() == 0.0 && (id as usize) < v,
                    "embedding id {id} outside 0..{v}"
                );
                id as usize
            })
            .collect()
    }

    /// `y[p] = weight[x[p]]`: the ids' shape followed by `D`.
    pub fn forward(&self, x: &Array) -> Array {
        let d = self.weight.shape[1];
        let mut shape = x.shape.clone();
        shape.push(d);
        let data = self
            .ids(x)
            .into_iter()
            .flat_map(|id| self.weight.data[id * d..(id + 1) * d].iter().copied())
            .collect();
        Array::new(shape, data)
    }

    /// `(dx, [dweight])` given `dy = dL/dy`; `dx` is zero (ids are not differentiable).
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let d = self.weight.shape[1];
        assert_eq!(dy.numel(), x.numel() * d, "embedding dy shape");
        let mut dw = Array::zeros(self.weight.shape.clone());
        for (id, dyr) in self.ids(x).into_iter().zip(dy.data.chunks(d)) {
            // y[p] = weight[id] picks the row: its gradient adds into that row
            for (g, v) in dw.data[id * d..(id + 1) * d].iter_mut().zip(dyr) {
                *g += v;
            }
        }
        (Array::zeros(x.shape.clone()), vec![dw])
    }
}

impl RefOps for RefEmbedding {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefEmbedding::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        RefEmbedding::backward(self, x, dy)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        weight_bias(&self.weight, None)
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        std::iter::once(&mut self.weight).chain(None).collect()
    }
}
