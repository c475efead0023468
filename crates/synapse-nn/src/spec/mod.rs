//! The architecture spec: the text form of a stack (SPEC section 1), its
//! canonical `Display`, the state names and shapes (SPEC section 2) and the
//! row shapes flowing through it.
//!
//! Grammar (whitespace ignored): `element (',' element)*`; the elements are
//! listed in [`element`]. Shapes are inferred when the spec is parsed: every
//! size that the spec fixes is checked there, and sizes that only data can
//! give (an image's height and width) are checked by [`ArchSpec::check_input`].
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

mod element;
mod shape;

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};
pub use element::{ElementKind, ElementSpec, DEFAULT_BN_MOMENTUM, DEFAULT_NORM_EPS};
pub use shape::RowShape;

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
        let input = elements
            .iter()
            .find_map(ElementSpec::input_requirement)
            .unwrap_or_else(RowShape::any);
        let shapes = infer(&elements, &input)?;
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
                "a stack needs at least one linear(IN,OUT), conv2d, batchnorm or layernorm layer"
                    .into(),
            ));
        }
        Ok(Self {
            elements,
            input,
            shapes,
        })
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
            let mut values = width(&out);
            if let (ElementSpec::Conv2d { kernel, .. }, [_, oh, ow]) = (e, out.as_slice()) {
                let windows = input
                    .first()
                    .and_then(|c| c.checked_mul(*kernel)?.checked_mul(*kernel))
                    .and_then(|v| v.checked_mul(*oh)?.checked_mul(*ow));
                values = values.zip(windows).and_then(|(a, b)| a.checked_add(b));
            }
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

    /// Each linear layer with its position in the stack.
    pub fn linears(&self) -> impl Iterator<Item = LinearShape> + '_ {
        self.elements
            .iter()
            .enumerate()
            .filter_map(|(index, e)| match *e {
                ElementSpec::Linear {
                    input,
                    output,
                    bias,
                } => Some(LinearShape {
                    index,
                    input,
                    output,
                    bias,
                }),
                _ => None,
            })
    }

    /// The parameter names and shapes in their stable order (SPEC section 2):
    /// for each element `i`, `"{i}.weight"` then `"{i}.bias"`.
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
        self.named(|e| {
            let mut all = e.parameter_shapes();
            all.extend(e.buffer_shapes());
            all
        })
    }

    fn named(
        &self,
        of: impl Fn(&ElementSpec) -> Vec<(&'static str, Vec<usize>)>,
    ) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for (i, e) in self.elements.iter().enumerate() {
            out.extend(of(e).into_iter().map(|(n, s)| (format!("{i}.{n}"), s)));
        }
        out
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
        let elements = split_top_level(&text)?
            .into_iter()
            .enumerate()
            .map(|(index, element)| element::parse_element(index, element))
            .collect::<Result<Vec<_>>>()?;
        Self::new(elements)
    }
}

/// Splits at commas outside parentheses; rejects unbalanced parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (pos, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Err(unbalanced(parts.len(), &text[start..])),
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..pos]);
                start = pos + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(unbalanced(parts.len(), &text[start..]));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn unbalanced(index: usize, element: &str) -> Error {
    Error::Spec {
        index,
        element: element.to_string(),
        reason: "unbalanced parentheses".into(),
    }
}
