//! `residual(E1,...,Ek)`: a block, SPEC section 10's `Residual(E1, ...,
//! Ek)`: `x + nn.Sequential(E1, ..., Ek)(x)`.
//!
//! ```text
//! y = x + f(x)          dx = dy + df/dx^T dy
//! ```
//! Shapes: the inner stack's output row must equal its input's (checked
//! when the spec is parsed). State: inner element `j` owns `"{j}.weight"`
//! and so on, so a block at stack index `i` gives PyTorch's `"{i}.{j}.weight"`;
//! blocks nest. Init: the inner elements' draws, in order. The inner stack
//! has its own fusion plan (its kernels); on the CPU a branch that ends in
//! a linked pair of linear layers (a transformer's MLP block) or in
//! attention adds `x` in that last product's own output buffer
//! (`linear/link.rs`'s residual join: the branch's output is never a
//! tensor beside the sum). ONNX: the inner nodes, then `Add`.
//! Reference: `synapse_reference::RefResidual`.
//!
//! ```
//! use synapse_nn::ArchSpec;
//! let spec: ArchSpec = "linear(4,4), residual(layernorm(4), linear(4,8), relu, linear(8,4))".parse()?;
//! let names: Vec<String> = spec.parameter_shapes().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.1.weight", "1.1.bias", "1.3.weight", "1.3.bias"]);
//! assert!("residual(linear(4,3))".parse::<ArchSpec>().unwrap_err().to_string().contains("keep"));
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::fmt;

use candle_core::{Tensor, Var};

use super::def::{Convert, ElementDef, ElementOps, Emit, StateEntry, Take};
use crate::export::{Export, Scope};
use crate::init::Draws;
use crate::spec::{split_top_level, Args, RowShape};
use crate::stack::{export_chain, Stack};
use crate::{ElementKind, ElementSpec, Init, Layer, Mode, Result};

/// The spec of a block: its inner elements.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualSpec {
    /// The inner elements, in order.
    pub elements: Vec<ElementSpec>,
}

impl fmt::Display for ResidualSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner: Vec<String> = self.elements.iter().map(|e| e.to_string()).collect();
        write!(f, "residual({})", inner.join(", "))
    }
}

/// The inner shapes from `input`, each misfit named by its inner position.
fn inner_shapes(
    elements: &[ElementSpec],
    input: &RowShape,
) -> std::result::Result<RowShape, String> {
    let mut shape = input.clone();
    for (j, e) in elements.iter().enumerate() {
        shape = e
            .output_shape(&shape)
            .map_err(|reason| format!("its element {j} `{e}`: {reason}"))?;
    }
    Ok(shape)
}

impl ElementDef for ResidualSpec {
    fn kind(&self) -> ElementKind {
        ElementKind::Residual
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let Some(text) = args.text().filter(|t| !t.is_empty()) else {
            return Err(format!("{name} needs its elements: residual(E1,...,Ek)"));
        };
        let parts = split_top_level(text)
            .map_err(|(j, e)| format!("its element {j} `{e}`: unbalanced parentheses"))?;
        let elements = parts
            .into_iter()
            .enumerate()
            .map(|(j, part)| {
                ElementSpec::parse(part)
                    .map_err(|reason| format!("its element {j} `{part}`: {reason}"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(ElementSpec::Residual(ResidualSpec { elements }))
    }

    fn inner(&self) -> &[ElementSpec] {
        &self.elements
    }

    fn input_requirement(&self) -> Option<RowShape> {
        self.elements
            .iter()
            .find_map(ElementSpec::input_requirement)
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        if let Some((j, e)) = self
            .elements
            .iter()
            .enumerate()
            .find(|(_, e)| e.takes_ids())
        {
            return Err(format!(
                "its element {j} `{e}` takes integer ids, which only the stack's first element can take (ids come from the data), never one inside a block"
            ));
        }
        let out = inner_shapes(&self.elements, input)?;
        let same = match (input.dims(), out.dims()) {
            (Some(a), Some(b)) => {
                a.len() == b.len()
                    // mutants: `y.is_none() || x == y` -> `&&` is equivalent
                    // today: no kind yields an unknown size from a known one.
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x.is_none() || y.is_none() || x == y)
            }
            (None, _) | (_, None) => true,
        };
        if !same {
            return Err(format!(
                "its elements change {input} into {out}; a residual block must keep its input's shape (it adds its input to its output)"
            ));
        }
        Ok(input.clone())
    }

    fn state(&self) -> Vec<StateEntry> {
        self.elements
            .iter()
            .enumerate()
            .flat_map(|(j, e)| e.state().into_iter().map(move |s| s.under(j)))
            .collect()
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        for (j, e) in self.elements.iter().enumerate() {
            e.draw(init, draws, &mut |name, shape, values| {
                emit(format!("{j}.{name}"), shape, values)
            });
        }
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let mut layers = Vec::with_capacity(self.elements.len());
        for (j, e) in self.elements.iter().enumerate() {
            layers.push(e.build(&mut |name, shape| take(&format!("{j}.{name}"), shape))?);
        }
        Ok(Layer::Residual(Residual {
            stack: Stack::new(layers),
        }))
    }
}

/// A block built from its inner elements.
#[derive(Debug, Clone)]
pub struct Residual {
    stack: Stack,
}

impl Residual {
    /// A block of `layers` (their shapes must keep the input's; the stack's
    /// spec checks it when the block is part of one).
    pub fn new(layers: Vec<Layer>) -> Self {
        Self {
            stack: Stack::new(layers),
        }
    }

    /// The inner elements.
    pub fn layers(&self) -> &[Layer] {
        self.stack.layers()
    }

    /// `x + f(x)`.
    ///
    /// # Shapes
    /// Any shape the inner elements keep; `y` like `x`.
    pub fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        // A branch ending in a linked pair adds `x` in its last kernel.
        let (inner, joined) = self.stack.forward_joined(x, x, mode)?;
        if joined {
            return Ok(inner);
        }
        if inner.dims() != x.dims() {
            return Err(crate::Error::shape(
                "residual",
                format!("its inner elements to keep the shape {:?}", x.dims()),
                inner.dims(),
            ));
        }
        Ok((x + inner)?)
    }
}

impl ElementOps for Residual {
    fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        Residual::forward(self, x, mode)
    }

    /// `x + f(x)` with `f` its inner elements stepped (their states in
    /// `state.inner`); `None` when one of them cannot step.
    fn step(&self, x: &Tensor, state: &mut crate::StepState) -> Result<Option<Tensor>> {
        let Some(inner) = crate::decode::step_chain(self.layers(), x, &mut state.inner)? else {
            return Ok(None);
        };
        if inner.dims() != x.dims() {
            return Err(crate::Error::shape(
                "residual",
                format!("its inner elements to keep the shape {:?}", x.dims()),
                inner.dims(),
            ));
        }
        state.position += x.dim(1)?;
        Ok(Some((x + inner)?))
    }

    fn state(&self) -> Vec<(String, &Var)> {
        self.stack.state()
    }

    /// Its inner elements' matrices in bfloat16.
    fn with_bf16_weights(&self, convert: &mut Convert<'_>) -> Result<Option<Layer>> {
        let layers = self
            .layers()
            .iter()
            .map(|l| l.with_bf16_weights(convert))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Layer::Residual(Residual::new(layers))))
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Residual(ResidualSpec {
            elements: self.layers().iter().map(Layer::spec).collect(),
        })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let inner = scope.named("inner");
        let prefix = format!("{}.", scope.name);
        let mut e = export_chain(
            self.layers(),
            &prefix,
            (&scope.input, &inner),
            scope.rank,
            (scope.dtype, scope.opset),
        )?;
        let add = vec![scope.input.clone(), inner];
        e.node("Add", scope, add, vec![scope.output.clone()], vec![]);
        Ok(e)
    }
}
