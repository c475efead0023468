//! Reshapes that keep the batch dimension: PyTorch's `nn.Unflatten(1, dims)`
//! and `nn.Flatten()`. The data never moves; the gradient takes the input's shape back.
//!
//! | element | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | reshape(D1..Dk) | `[N, D1*...*Dk]` to `[N, D1, ..., Dk]` | `dx = dy` reshaped to `x`'s shape |
//! | flatten | `[N, ...]` to `[N, product of the rest]` | `dx = dy` reshaped to `x`'s shape |

use crate::element::RefOps;
use crate::Array;
use crate::RefMode;

/// A reshape of everything after the batch dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefReshape {
    /// `nn.Unflatten(1, dims)`: the sizes after the batch dimension.
    Unflatten(Vec<usize>),
    /// `nn.Flatten()`.
    Flatten,
}

impl RefReshape {
    /// The same data under the new shape, the batch dimension kept.
    pub fn forward(&self, x: &Array) -> Array {
        assert!(x.rank() >= 1, "reshape input has a batch dimension");
        let n = x.shape[0];
        let rest: usize = x.shape[1..].iter().product();
        let shape = match self {
            RefReshape::Unflatten(dims) => {
                assert_eq!(x.rank(), 2, "unflatten input is [N, D]");
                assert_eq!(dims.iter().product::<usize>(), rest, "unflatten sizes");
                std::iter::once(n).chain(dims.iter().copied()).collect()
            }
            RefReshape::Flatten => vec![n, rest],
        };
        x.reshape(shape)
    }

    /// `dx`: `dy` under `x`'s shape.
    pub fn backward(&self, x: &Array, dy: &Array) -> Array {
        dy.reshape(x.shape.clone())
    }
}

impl RefOps for RefReshape {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefReshape::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        (RefReshape::backward(self, x, dy), vec![])
    }
}
