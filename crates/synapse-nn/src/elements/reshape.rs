//! The two shape-only elements, without parameters and the same in both modes.
//!
//! - `reshape(D1,...,Dk)` (`nn.Unflatten(1, (D1, ..., Dk))`): `[batch, D1*...*Dk]`
//!   to `[batch, D1, ..., Dk]`; ONNX `Reshape` with an INT64 constant
//!   `{i}.shape` = `[0, D1, ..., Dk]` (0: keep the batch dimension);
//! - `flatten` (`nn.Flatten()`): `[batch, ...]` to `[batch, product of the rest]`;
//!   ONNX `Flatten` (`axis=1`).
//!
//! Both keep the row-major order of the values, so gradients flow back
//! unchanged (autodiff reshapes them back). No state, no kernel.

use std::fmt;

use candle_core::Tensor;

use super::def::{ElementDef, ElementOps, Take};
use crate::export::{Attribute, Export, Scope};
use crate::spec::{checked_product, whole, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Layer, Mode, Result};

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

impl fmt::Display for Reshape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.dims.iter().map(usize::to_string).collect();
        write!(f, "reshape({})", dims.join(","))
    }
}

impl ElementDef for Reshape {
    fn kind(&self) -> ElementKind {
        ElementKind::Reshape
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&[])?;
        a.count(
            1..=usize::MAX,
            name,
            "at least one size: reshape(D1,...,Dk)",
        )?;
        let dims = a
            .sizes
            .iter()
            .map(|s| whole(s, "size", 1))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(ElementSpec::Reshape(Reshape { dims }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        let dims: Vec<Option<usize>> = self.dims.iter().map(|&d| Some(d)).collect();
        Some(RowShape::new(vec![checked_product(&dims)]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        let to = &self.dims;
        let n = to
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .ok_or_else(|| format!("the product of its sizes {to:?} overflows"))?;
        match input.dims() {
            Some([Some(w)]) if *w != n => Err(format!(
                "it makes {n} values per row into {to:?} but gets {w}"
            )),
            Some([_]) => Ok(RowShape::known(to)),
            _ => Err(format!(
                "it takes flat rows but gets {input}; add flatten before it"
            )),
        }
    }

    fn build(&self, _take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::Reshape(Reshape::new(self.dims.clone())?))
    }
}

impl ElementOps for Reshape {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Reshape::forward(self, x)
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Reshape(self.clone())
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let shape = scope.named("shape");
        let values: Vec<i64> = std::iter::once(0)
            .chain(self.dims.iter().map(|&d| d as i64))
            .collect();
        e.int(shape.clone(), vec![values.len()], values);
        let inputs = vec![scope.input.clone(), shape];
        e.node("Reshape", scope, inputs, vec![scope.output.clone()], vec![]);
        Ok(e)
    }
}

/// `flatten`: `[batch, ...]` to `[batch, product of the rest]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatten;

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

impl fmt::Display for Flatten {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flatten")
    }
}

impl ElementDef for Flatten {
    fn kind(&self) -> ElementKind {
        ElementKind::Flatten
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        args.none(name)?;
        Ok(ElementSpec::Flatten(Flatten))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::any())
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        let Some(dims) = input.dims() else {
            return Ok(RowShape::new(vec![None]));
        };
        let known = dims.iter().all(Option::is_some);
        match checked_product(dims) {
            None if known => Err(format!("the product of its input sizes {input} overflows")),
            n => Ok(RowShape::new(vec![n])),
        }
    }

    fn build(&self, _take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::Flatten(Flatten))
    }
}

impl ElementOps for Flatten {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        flatten(x)
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Flatten(Flatten)
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let attrs = vec![Attribute::int("axis", 1)];
        e.node(
            "Flatten",
            scope,
            vec![scope.input.clone()],
            vec![scope.output.clone()],
            attrs,
        );
        Ok(e)
    }
}
