//! The two shape-only elements, without parameters and the same in both modes.
//!
//! - `reshape(D1,...,Dk)` (`nn.Unflatten(1, (D1, ..., Dk))`): `[batch, D1*...*Dk]`
//!   to `[batch, D1, ..., Dk]`;
//! - `flatten` (`nn.Flatten()`): `[batch, ...]` to `[batch, product of the rest]`.
//!
//! Both keep the row-major order of the values, so gradients flow back
//! unchanged (autodiff reshapes them back). No kernel.

use candle_core::Tensor;

use crate::{Error, Result};

/// `reshape(D1,...,Dk)`: each row of `D1*...*Dk` values becomes `[D1, ..., Dk]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reshape {
    dims: Vec<usize>,
}

impl Reshape {
    /// The reshape to `dims` (each at least 1).
    pub fn new(dims: Vec<usize>) -> Result<Self> {
        if dims.is_empty() || dims.contains(&0) {
            return Err(Error::config(
                "reshape",
                format!("{dims:?}: sizes must be at least 1"),
            ));
        }
        Ok(Self { dims })
    }

    /// The dims of an output row.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// `[batch, D1*...*Dk]` to `[batch, D1, ..., Dk]`.
    ///
    /// # Shapes
    /// `x` `[batch, D1*...*Dk]`; `y` `[batch, D1, ..., Dk]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let width: usize = self.dims.iter().product();
        match x.dims() {
            &[batch, w] if w == width => {
                let mut shape = vec![batch];
                shape.extend(&self.dims);
                Ok(x.reshape(shape)?)
            }
            d => Err(Error::shape(
                format!("reshape{:?}", self.dims),
                format!("[batch, {width}]"),
                d,
            )),
        }
    }
}

/// `[batch, ...]` to `[batch, product of the rest]`.
///
/// # Shapes
/// `x` `[batch, D1, ..., Dk]` (k >= 0); `y` `[batch, D1*...*Dk]`.
pub fn flatten(x: &Tensor) -> Result<Tensor> {
    match x.dims() {
        [] => Err(Error::shape("flatten", "[batch, ...]", x.dims())),
        [_] => Ok(x.unsqueeze(1)?),
        _ => Ok(x.flatten_from(1)?),
    }
}
