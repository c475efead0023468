//! `last` and `seqmean`: a sequence to one row, SPEC section 10's `Last()`
//! (`x[:, -1]`) and `SeqMean()` (`x.mean(1)`).
//!
//! ```text
//! last:    y = x[:, T-1, :]               dx[:, T-1, :] = dy, 0 elsewhere
//! seqmean: y = sum_t x[:, t, :] / T        dx[:, t, :] = dy / T
//! ```
//! Shapes: `[batch, T, D]` to `[batch, D]`; a flat row (rank 2) is an error.
//! No state. ONNX: `Gather` (index -1, axis 1), `ReduceMean` (axis 1, not
//! kept; an attribute before opset 18, an input from 18). No kernel.
//! Reference: `synapse_reference::RefSeqReduce`.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use synapse_nn::Reduce;
//! let x = Tensor::new(&[[[1.0f64, 2.0], [3.0, 6.0]]], &Device::Cpu)?;
//! assert_eq!(Reduce::Last.forward(&x)?.to_vec2::<f64>()?, [[3.0, 6.0]]);
//! assert_eq!(Reduce::Mean.forward(&x)?.to_vec2::<f64>()?, [[2.0, 4.0]]);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::fmt;

use candle_core::Tensor;

use super::def::{ElementDef, ElementOps, Take};
use crate::export::{Attribute, Export, Scope};
use crate::spec::{Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Layer, Mode, Result};

/// How a sequence becomes one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// The last position (`last`).
    Last,
    /// The mean over the positions (`seqmean`).
    Mean,
}

impl Reduce {
    fn name(self) -> &'static str {
        match self {
            Reduce::Last => "last",
            Reduce::Mean => "seqmean",
        }
    }

    /// One row per sequence.
    ///
    /// # Shapes
    /// `x` `[batch, T, D]` (T at least 1) to `[batch, D]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let t = match x.dims() {
            &[_, t, _] if t > 0 => t,
            d => {
                return Err(Error::shape(
                    self.name(),
                    "sequences [batch, T, D] with T >= 1",
                    d,
                ))
            }
        };
        Ok(match self {
            Reduce::Last => x.narrow(1, t - 1, 1)?.squeeze(1)?,
            Reduce::Mean => x.mean(1)?,
        })
    }
}

impl fmt::Display for Reduce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}

impl ElementDef for Reduce {
    fn kind(&self) -> ElementKind {
        match self {
            Reduce::Last => ElementKind::Last,
            Reduce::Mean => ElementKind::SeqMean,
        }
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        args.none(name)?;
        Ok(ElementSpec::Sequence(if name == "last" {
            Reduce::Last
        } else {
            Reduce::Mean
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        None
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        match input.dims() {
            Some([_, d]) => Ok(RowShape::new(vec![*d])),
            None => Ok(RowShape::any()),
            _ => Err(format!(
                "{} takes sequences [batch, T, D] but gets {input}",
                self.name()
            )),
        }
    }

    fn build(&self, _take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::Sequence(*self))
    }
}

impl ElementOps for Reduce {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Reduce::forward(self, x)
    }

    /// `last` is the last of the new positions (what comes before a step is
    /// causal); `seqmean` cannot step (it reads every position).
    fn step(&self, x: &Tensor, _state: &mut crate::StepState) -> Result<Option<Tensor>> {
        match self {
            Reduce::Last => Ok(Some(Reduce::forward(self, x)?)),
            Reduce::Mean => Ok(None),
        }
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Sequence(*self)
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let (x, out) = (scope.input.clone(), vec![scope.output.clone()]);
        match self {
            Reduce::Last => {
                e.int(scope.named("index"), vec![], vec![-1]);
                let attrs = vec![Attribute::int("axis", 1)];
                e.node("Gather", scope, vec![x, scope.named("index")], out, attrs);
            }
            Reduce::Mean if scope.opset >= 18 => {
                e.int(scope.named("axes"), vec![1], vec![1]);
                let attrs = vec![Attribute::int("keepdims", 0)];
                e.node(
                    "ReduceMean",
                    scope,
                    vec![x, scope.named("axes")],
                    out,
                    attrs,
                );
            }
            Reduce::Mean => {
                let attrs = vec![Attribute::ints("axes", &[1]), Attribute::int("keepdims", 0)];
                e.node("ReduceMean", scope, vec![x], out, attrs);
            }
        }
        Ok(e)
    }
}
