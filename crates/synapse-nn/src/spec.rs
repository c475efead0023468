//! The architecture spec: the text form of a stack (SPEC section 1).
//!
//! Grammar (whitespace ignored): `element (',' element)*` where an element is
//! `linear(IN,OUT)`, `linear(IN,OUT,bias=false)`, `sigmoid`, `tanh`, `relu`,
//! `identity`, `softmax`, `leaky_relu` or `leaky_relu(SLOPE)`. The canonical
//! form joins elements with `", "`; parsing it gives the same spec back.
//!
//! ```
//! use synapse_nn::ArchSpec;
//! let spec: ArchSpec = "linear(3,4),sigmoid, linear(4,1,bias=false),sigmoid".parse()?;
//! assert_eq!(spec.to_string(), "linear(3,4), sigmoid, linear(4,1,bias=false), sigmoid");
//! assert_eq!((spec.input_dim(), spec.output_dim(), spec.parameter_count()), (3, 1, 20));
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::DEFAULT_LEAKY_SLOPE;
use crate::{Activation, Error, Result};

/// One element of a stack, as written in a spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ElementSpec {
    /// A dense layer `linear(input, output[, bias=false])`.
    Linear {
        /// Inputs.
        input: usize,
        /// Outputs.
        output: usize,
        /// Whether the layer has a bias.
        bias: bool,
    },
    /// An activation.
    Activation(Activation),
}

impl ElementSpec {
    /// Number of trainable numbers in the element (saturating at `usize::MAX`).
    pub fn parameter_count(&self) -> usize {
        match *self {
            ElementSpec::Linear {
                input,
                output,
                bias,
            } => output
                .saturating_mul(input)
                .saturating_add(if bias { output } else { 0 }),
            ElementSpec::Activation(_) => 0,
        }
    }
}

impl fmt::Display for ElementSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElementSpec::Linear {
                input,
                output,
                bias: true,
            } => write!(f, "linear({input},{output})"),
            ElementSpec::Linear {
                input,
                output,
                bias: false,
            } => write!(f, "linear({input},{output},bias=false)"),
            ElementSpec::Activation(a) => write!(f, "{a}"),
        }
    }
}

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

/// A whole stack: at least one linear layer, consecutive sizes agreeing.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchSpec {
    elements: Vec<ElementSpec>,
}

impl ArchSpec {
    /// Checks and wraps a list of elements.
    pub fn new(elements: Vec<ElementSpec>) -> Result<Self> {
        let mut width: Option<usize> = None;
        for (index, e) in elements.iter().enumerate() {
            if let ElementSpec::Linear { input, output, .. } = *e {
                let fail = |reason: String| Error::Spec {
                    index,
                    element: e.to_string(),
                    reason,
                };
                if input == 0 || output == 0 {
                    return Err(fail("sizes must be at least 1".into()));
                }
                if let Some(w) = width {
                    if w != input {
                        return Err(fail(format!(
                            "its input size {input} does not match the previous linear's output size {w}"
                        )));
                    }
                }
                width = Some(output);
            }
        }
        if width.is_none() {
            return Err(Error::SpecWhole(
                "a stack needs at least one linear(IN,OUT) layer".into(),
            ));
        }
        Ok(Self { elements })
    }

    /// The elements in order.
    pub fn elements(&self) -> &[ElementSpec] {
        &self.elements
    }

    /// Width of the input (of the first linear layer).
    pub fn input_dim(&self) -> usize {
        self.linears().next().map_or(0, |l| l.input)
    }

    /// Width of the output (of the last linear layer).
    pub fn output_dim(&self) -> usize {
        self.linears().last().map_or(0, |l| l.output)
    }

    /// Total number of trainable numbers (saturating at `usize::MAX`).
    pub fn parameter_count(&self) -> usize {
        self.elements
            .iter()
            .map(ElementSpec::parameter_count)
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
                ElementSpec::Activation(_) => None,
            })
    }

    /// The parameter names and shapes in their stable order (SPEC section 2):
    /// for each linear element `i`, `"{i}.weight"` `[out, in]` then `"{i}.bias"` `[out]`.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        for l in self.linears() {
            shapes.push((format!("{}.weight", l.index), vec![l.output, l.input]));
            if l.bias {
                shapes.push((format!("{}.bias", l.index), vec![l.output]));
            }
        }
        shapes
    }
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
            .map(|(index, element)| parse_element(index, element))
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

const EXPECTED: &str = "expected one of linear(IN,OUT), linear(IN,OUT,bias=false), \
    sigmoid, tanh, relu, leaky_relu(SLOPE), softmax, identity";

fn parse_element(index: usize, element: &str) -> Result<ElementSpec> {
    let fail = |reason: String| Error::Spec {
        index,
        element: element.to_string(),
        reason,
    };
    if element.is_empty() {
        return Err(fail(format!("empty element; {EXPECTED}")));
    }
    let (name, args) = match element.split_once('(') {
        Some((name, rest)) => match rest.strip_suffix(')') {
            Some(args) if !args.contains(['(', ')']) => (name, Some(args)),
            _ => return Err(fail("text after the closing parenthesis".into())),
        },
        None => (element, None),
    };
    let activation = |a: Activation| match args {
        None => Ok(ElementSpec::Activation(a)),
        Some(_) => Err(fail(format!("`{name}` takes no arguments"))),
    };
    match name {
        "sigmoid" => activation(Activation::Sigmoid),
        "tanh" => activation(Activation::Tanh),
        "relu" => activation(Activation::Relu),
        "softmax" => activation(Activation::Softmax),
        "identity" => activation(Activation::Identity),
        "leaky_relu" => {
            let slope = match args {
                None => DEFAULT_LEAKY_SLOPE,
                Some(a) => match a.parse::<f64>() {
                    Ok(v) if v.is_finite() => v,
                    _ => return Err(fail(format!("`{a}` is not a finite number (the slope)"))),
                },
            };
            Ok(ElementSpec::Activation(Activation::LeakyRelu(slope)))
        }
        "linear" => parse_linear(args.unwrap_or(""), fail),
        _ => Err(fail(format!("unknown element `{name}`; {EXPECTED}"))),
    }
}

fn parse_linear(args: &str, fail: impl Fn(String) -> Error) -> Result<ElementSpec> {
    let args: Vec<&str> = args.split(',').collect();
    let bias = match args.len() {
        2 => true,
        3 => match args[2] {
            "bias=false" => false,
            "bias=true" => true,
            other => return Err(fail(format!("`{other}`: expected bias=false or bias=true"))),
        },
        _ => {
            return Err(fail(
                "linear needs two sizes: linear(IN,OUT) or linear(IN,OUT,bias=false)".into(),
            ))
        }
    };
    let size = |text: &str, what: &str| match text.parse::<usize>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(fail(format!(
            "`{text}` is not a positive whole number ({what} size)"
        ))),
    };
    Ok(ElementSpec::Linear {
        input: size(args[0], "input")?,
        output: size(args[1], "output")?,
        bias,
    })
}
