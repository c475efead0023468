//! A list of built elements with its fusion plan: what [`crate::Sequential`]
//! runs, and what a `residual` block runs inside itself.
//!
//! Element `i` owns the names `"{i}.{name}"` (its inner elements nest:
//! `"{i}.{j}.weight"`); the state is listed element by element, each
//! element's parameters then its buffers (PyTorch's state_dict order).

use candle_core::{DType, Tensor, Var};

use crate::export::{Export, Scope};
use crate::kernel::plan::{self, Stage};
use crate::spec::RowShape;
use crate::{ElementSpec, Layer, Mode, Result};

/// Built elements and their plan.
#[derive(Debug, Clone)]
pub(crate) struct Stack {
    layers: Vec<Layer>,
    plan: Vec<Stage>,
}

impl Stack {
    /// The elements, planned once.
    pub(crate) fn new(layers: Vec<Layer>) -> Self {
        let specs: Vec<ElementSpec> = layers.iter().map(Layer::spec).collect();
        Self {
            plan: plan::plan(&specs),
            layers,
        }
    }

    /// The elements in order.
    pub(crate) fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Runs every stage in order.
    pub(crate) fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        let mut y = x.clone();
        for stage in &self.plan {
            y = plan::run(*stage, &self.layers, &y, mode)?;
        }
        Ok(y)
    }

    /// `r + ` [`Stack::forward`], the add inside the last stage's kernel
    /// when it has one (`linear/link.rs`'s residual join), else after it.
    /// The caller checks the shapes of an unjoined sum: `(y, false)` is the
    /// stack's output alone, `(r + y, true)` the sum.
    pub(crate) fn forward_joined(
        &self,
        x: &Tensor,
        r: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, bool)> {
        let Some((last, first)) = self.plan.split_last() else {
            return Ok((x.clone(), false));
        };
        let mut y = x.clone();
        for stage in first {
            y = plan::run(*stage, &self.layers, &y, mode)?;
        }
        plan::run_joined(*last, &self.layers, &y, r, mode)
    }

    /// Every parameter and buffer, `"{i}.{name}"`, in state_dict order.
    pub(crate) fn state(&self) -> Vec<(String, &Var)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            out.extend(
                layer
                    .state()
                    .into_iter()
                    .map(|(n, v)| (format!("{i}.{n}"), v)),
            );
        }
        out
    }
}

/// The ONNX nodes of `layers` in order, element `j` at path `{prefix}{j}`,
/// from the value `input` (of rank `rank`, 0 if unknown) to `output`. An
/// element that is nothing in evaluation passes its input on; when it is the
/// last one, an `Identity` writes `output`.
pub(crate) fn export_chain(
    layers: &[Layer],
    prefix: &str,
    (input, output): (&str, &str),
    rank: usize,
    (dtype, opset): (DType, i64),
) -> Result<Export> {
    let mut e = Export::default();
    let mut current = input.to_string();
    // The rank flowing through, from the elements' own shape rules.
    let mut shape = (rank > 0).then(|| RowShape::new(vec![None; rank - 1]));
    for (j, layer) in layers.iter().enumerate() {
        let name = format!("{prefix}{j}");
        let last = j + 1 == layers.len();
        let out = if last {
            output.to_string()
        } else {
            format!("{name}.output")
        };
        let rank = shape
            .as_ref()
            .and_then(|s| s.dims())
            .map_or(0, |d| d.len() + 1);
        let scope = Scope::new(&name, &current, &out, rank).with(dtype, opset);
        let piece = layer.export(&scope)?;
        if piece.nodes.is_empty() {
            if last {
                e.node(
                    "Identity",
                    &scope,
                    vec![current.clone()],
                    vec![out.clone()],
                    vec![],
                );
                current = out;
            }
        } else {
            current = out;
        }
        e.extend(piece);
        shape = shape.and_then(|s| layer.spec().output_shape(&s).ok());
    }
    Ok(e)
}
