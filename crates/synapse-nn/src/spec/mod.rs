//! The architecture spec: the text form of a stack (SPEC section 1), its
//! canonical `Display`, the state names and shapes (SPEC section 2) and the
//! row shapes flowing through it.
//!
//! Grammar (whitespace ignored): `element (',' element)*`, each element as
//! `args.rs` describes, its own rules in its module under `elements/`.
//! Shapes are inferred when the spec is parsed: every size that the spec
//! fixes is checked there, and sizes that only data can give (an image's
//! height and width, a sequence's length) by [`ArchSpec::check_input`].
//!
//! ```
//! use synapse_nn::ArchSpec;
//! let spec: ArchSpec = "linear(3,4),sigmoid, linear(4,1,bias=false),sigmoid".parse()?;
//! assert_eq!(spec.to_string(), "linear(3,4), sigmoid, linear(4,1,bias=false), sigmoid");
//! assert_eq!((spec.input_dim(), spec.output_dim(), spec.parameter_count()), (3, 1, 20));
//! let cnn: ArchSpec = "reshape(1,8,8), conv2d(1,16,3,padding=1), relu, maxpool2d(2), flatten, linear(256,10)".parse()?;
//! assert_eq!(cnn.output_shapes()[3].to_string(), "[batch, 16, 4, 4]");
//! # Ok::<(), synapse_nn::Error>(())
//! ```

mod args;
mod shape;

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use crate::{ElementSpec, Error, Result};
pub use args::MAX_SPEC_DEPTH;
pub(crate) use args::{check_depth, flag, number, split_top_level, whole, Args};
pub use shape::RowShape;
pub(crate) use shape::{checked_product, image, last_dim, window};

/// A linear element's place and sizes, as [`ArchSpec::linears`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearShape {
    /// Position in the stack (activations count).
    pub index: usize,
    /// Inputs.
    pub input: usize,
    /// Outputs.
    pub output: usize,
    /// Whether it has a bias.
    pub bias: bool,
}

/// A whole stack: at least one element with parameters, every size that the
/// spec fixes agreeing with the next element's.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchSpec {
    elements: Vec<ElementSpec>,
    input: RowShape,
    shapes: Vec<RowShape>,
}

impl ArchSpec {
    /// Checks and wraps a list of elements: sizes, and shapes through the stack.
    pub fn new(elements: Vec<ElementSpec>) -> Result<Self> {
        if let Some((index, e)) = elements
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, e)| e.takes_ids())
        {
            return Err(Error::Spec {
                index,
                element: e.to_string(),
                reason: "it takes integer ids, which come from the data: only the stack's first element can take them".into(),
            });
        }
        check_ties(&elements)?;
        let (input, shapes) = first_fit(&elements)?;
        let mut total = Some(0usize);
        for (index, e) in elements.iter().enumerate() {
            let count = e.checked_parameter_count();
            total = total.zip(count).and_then(|(t, c)| t.checked_add(c));
            if total.is_none() {
                return Err(Error::Spec {
                    index,
                    element: e.to_string(),
                    reason: "the parameter count overflows".into(),
                });
            }
        }
        if !elements.iter().any(|e| e.parameter_count() > 0) {
            return Err(Error::SpecWhole(
                "a stack needs at least one element with parameters: linear(IN,OUT), conv2d, a norm, embedding, lstm, gru, attention, ..."
                    .into(),
            ));
        }
        Ok(Self {
            elements,
            input,
            shapes,
        })
    }

    /// Whether the stack takes integer ids `[batch, T]` rather than numbers:
    /// its first element does (`embedding`), and only the first may.
    pub fn takes_ids(&self) -> bool {
        self.elements.first().is_some_and(ElementSpec::takes_ids)
    }

    /// `Some(V)` when the stack takes integer ids `0..V` (see
    /// [`ArchSpec::takes_ids`]).
    pub fn ids(&self) -> Option<usize> {
        self.elements.first().and_then(ElementSpec::ids)
    }

    /// The elements in order.
    pub fn elements(&self) -> &[ElementSpec] {
        &self.elements
    }

    /// The shape of an input row as far as the spec fixes it: `[3]` for a
    /// stack that starts with `linear(3,4)`, `[1, ?, ?]` for one that starts
    /// with `conv2d(1,8,3)`.
    pub fn input_shape(&self) -> &RowShape {
        &self.input
    }

    /// The output row of every element, for [`ArchSpec::input_shape`].
    pub fn output_shapes(&self) -> &[RowShape] {
        &self.shapes
    }

    /// The output row of every element for a given input row (e.g. the
    /// data's), or an error naming the first element that does not fit.
    pub fn shapes_for(&self, input: &RowShape) -> Result<Vec<RowShape>> {
        infer(&self.elements, input)
    }

    /// The output row of the stack.
    pub fn output_shape(&self) -> &RowShape {
        self.shapes.last().unwrap_or(&self.input)
    }

    /// Checks a concrete input row (the dims of a data row, batch left out)
    /// and returns the concrete output row; the error names the element and
    /// the sizes that disagree.
    pub fn check_input(&self, row: &[usize]) -> Result<Vec<usize>> {
        let shapes = self
            .shapes_for(&RowShape::known(row))
            .map_err(|e| match e {
                Error::Spec {
                    index,
                    element,
                    reason,
                } => Error::Spec {
                    index,
                    element,
                    reason: format!("for input rows {}: {reason}", RowShape::known(row)),
                },
                e => e,
            })?;
        let out = shapes
            .last()
            .cloned()
            .unwrap_or_else(|| RowShape::known(row));
        out.concrete().ok_or_else(|| {
            Error::SpecWhole(format!(
                "the output shape {out} is not fully known for input rows of {row:?}"
            ))
        })
    }

    /// Values per input row, when the spec fixes them all (`None` for a
    /// stack that starts with `conv2d`: the image size comes with the data).
    pub fn input_width(&self) -> Option<usize> {
        self.input.width()
    }

    /// Values per output row, when the spec fixes them all.
    pub fn output_width(&self) -> Option<usize> {
        self.output_shape().width()
    }

    /// Width of the input, or 0 when only data can tell (see [`ArchSpec::input_width`]).
    pub fn input_dim(&self) -> usize {
        self.input_width().unwrap_or(0)
    }

    /// Width of the output, or 0 when only data can tell (see [`ArchSpec::output_width`]).
    pub fn output_dim(&self) -> usize {
        self.output_width().unwrap_or(0)
    }

    /// Values that one input row of shape `row` makes flow through the stack
    /// in a forward pass: the row itself, every element's output row, and the
    /// unfolded windows of each convolution (`IN*K*K*OH*OW`). What a training
    /// step keeps per row is about this (times two with the gradients): the
    /// basis of a memory check before anything is allocated. An error names
    /// the element whose shape does not fit or whose size overflows.
    pub fn activation_values(&self, row: &[usize]) -> Result<usize> {
        let shapes = self.shapes_for(&RowShape::known(row))?;
        let width = |dims: &[usize]| dims.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let overflow = |index: usize| Error::Spec {
            index,
            element: self.elements[index].to_string(),
            reason: format!(
                "for input rows {}: its activations overflow",
                RowShape::known(row)
            ),
        };
        let mut total = width(row).ok_or_else(|| overflow(0))?;
        let mut input = row.to_vec();
        for (index, (e, shape)) in self.elements.iter().zip(&shapes).enumerate() {
            let out = shape.concrete().unwrap_or_default();
            let values = width(&out)
                .zip(e.kept_values(&input, &out))
                .and_then(|(a, b)| a.checked_add(b));
            total = values
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| overflow(index))?;
            input = out;
        }
        Ok(total)
    }

    /// Total number of trainable numbers (saturating at `usize::MAX`).
    pub fn parameter_count(&self) -> usize {
        self.elements
            .iter()
            .map(ElementSpec::parameter_count)
            .fold(0, usize::saturating_add)
    }

    /// Total number of buffer values (running statistics; saturating).
    pub fn buffer_count(&self) -> usize {
        self.buffer_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>().max(1))
            .fold(0, usize::saturating_add)
    }

    /// Each top-level linear layer with its position in the stack.
    pub fn linears(&self) -> impl Iterator<Item = LinearShape> + '_ {
        self.elements
            .iter()
            .enumerate()
            .filter_map(|(index, e)| match *e {
                ElementSpec::Linear(l) => Some(LinearShape {
                    index,
                    input: l.input,
                    output: l.output,
                    bias: l.bias,
                }),
                _ => None,
            })
    }

    /// The elements that run as one CPU kernel (see `kernel/plan.rs`), as
    /// ranges of positions; a stage of one element is left out. `summary`
    /// prints them (`fused: 0-1, 3-5`).
    pub fn fused(&self) -> Vec<Range<usize>> {
        crate::kernel::plan::plan(&self.elements)
            .into_iter()
            .map(|s| s.span())
            .filter(|r| r.len() > 1)
            .collect()
    }

    /// The parameter names and shapes in their stable order (SPEC section 2):
    /// for each element `i`, `"{i}.weight"` then `"{i}.bias"` (blocks nest:
    /// `"{i}.{j}.weight"`).
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.named(|e| e.parameter_shapes())
    }

    /// The buffer names and shapes: for each batchnorm `i`, `"{i}.running_mean"`,
    /// `"{i}.running_var"` (model dtype) and `"{i}.num_batches_tracked"` (I64, `[]`).
    pub fn buffer_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.named(|e| e.buffer_shapes())
    }

    /// Parameters and buffers in PyTorch's state_dict order: element by
    /// element, its parameters then its buffers.
    pub fn state_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.named(|e| e.state().into_iter().map(|s| (s.name, s.shape)).collect())
    }

    /// Every state entry with its kind, named as [`ArchSpec::state_shapes`].
    pub fn state(&self) -> Vec<crate::StateEntry> {
        let mut out = Vec::new();
        for (i, e) in self.elements.iter().enumerate() {
            out.extend(e.state().into_iter().map(|s| s.under(i)));
        }
        out
    }

    fn named(
        &self,
        of: impl Fn(&ElementSpec) -> Vec<(String, Vec<usize>)>,
    ) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for (i, e) in self.elements.iter().enumerate() {
            out.extend(of(e).into_iter().map(|(n, s)| (format!("{i}.{n}"), s)));
        }
        out
    }
}

/// The input row of a stack and every element's output row. The input is
/// the first sized element's requirement; a stack that starts with an
/// element acting on the last dimension (`linear`, `layernorm`) takes flat
/// rows `[IN]`, or sequences `[T, IN]` when what follows needs them
/// (`linear(6,8), positional(5,8)`). Of two misfits, the one found later in
/// the stack is reported (it is the one the writer meant).
fn first_fit(elements: &[ElementSpec]) -> Result<(RowShape, Vec<RowShape>)> {
    let input = elements
        .iter()
        .find_map(ElementSpec::input_requirement)
        .unwrap_or_else(RowShape::any);
    let flat = match infer(elements, &input) {
        Ok(shapes) => return Ok((input, shapes)),
        Err(e) => e,
    };
    let first = elements.iter().find(|e| e.input_requirement().is_some());
    let Some(n) = first.and_then(ElementSpec::last_dim) else {
        return Err(flat);
    };
    let sequence = RowShape::new(vec![None, Some(n)]);
    match infer(elements, &sequence) {
        Ok(shapes) => Ok((sequence, shapes)),
        Err(e) => match (&flat, &e) {
            (Error::Spec { index: a, .. }, Error::Spec { index: b, .. }) if b > a => Err(e),
            _ => Err(flat),
        },
    }
}

/// The output row of every element from `input`, or the first misfit.
fn infer(elements: &[ElementSpec], input: &RowShape) -> Result<Vec<RowShape>> {
    let mut shape = input.clone();
    let mut shapes = Vec::with_capacity(elements.len());
    for (index, e) in elements.iter().enumerate() {
        shape = e.output_shape(&shape).map_err(|reason| Error::Spec {
            index,
            element: e.to_string(),
            reason,
        })?;
        shapes.push(shape.clone());
    }
    Ok(shapes)
}

impl fmt::Display for ArchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.elements.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl FromStr for ArchSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let text: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if text.is_empty() {
            return Err(Error::SpecWhole("the spec is empty".into()));
        }
        check_depth(&text).map_err(Error::SpecWhole)?;
        let parts = split_top_level(&text).map_err(|(index, element)| Error::Spec {
            index,
            element,
            reason: "unbalanced parentheses".into(),
        })?;
        let elements = parts
            .into_iter()
            .enumerate()
            .map(|(index, element)| {
                ElementSpec::parse(element).map_err(|reason| Error::Spec {
                    index,
                    element: element.to_string(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(elements)
    }
}

/// Each tie ([`crate::Tie`], `linear(...,tied=I)`) names an element before
/// it at the top level whose parameter has the shape it needs; no element
/// inside a block ties (a block's elements are numbered inside it).
fn check_ties(elements: &[ElementSpec]) -> Result<()> {
    fn tied_inside(e: &ElementSpec) -> Option<&ElementSpec> {
        e.inner().iter().find_map(|i| {
            if i.tied().is_some() {
                Some(i)
            } else {
                tied_inside(i)
            }
        })
    }
    for (index, e) in elements.iter().enumerate() {
        let fail = |reason: String| Error::Spec {
            index,
            element: e.to_string(),
            reason,
        };
        if let Some(inner) = tied_inside(e) {
            return Err(fail(format!(
                "`{inner}` inside it: tied=I is for an element of the stack itself, not of a block"
            )));
        }
        let Some(tie) = e.tied() else { continue };
        if tie.element >= index {
            return Err(fail(format!(
                "tied={} must name an element before it (0..{})",
                tie.element,
                index.saturating_sub(1)
            )));
        }
        let owner = &elements[tie.element];
        let owned = owner
            .state()
            .into_iter()
            .find(|s| s.name == tie.name && s.kind == crate::StateKind::Parameter);
        match owned {
            Some(s) if s.shape == tie.shape => {}
            Some(s) => {
                return Err(fail(format!(
                    "it needs a {} of shape {:?}, but element {} `{owner}` has {:?}",
                    tie.name, tie.shape, tie.element, s.shape
                )))
            }
            None => {
                return Err(fail(format!(
                    "element {} `{owner}` has no {} to share (tied=I names an embedding(OUT,IN))",
                    tie.element, tie.name
                )))
            }
        }
    }
    Ok(())
}
