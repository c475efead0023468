//! Row shapes: the dims of one row (the batch dimension left out), some of
//! which may be known only when data arrives, and how each element maps them.
//!
//! | element | input row | output row |
//! | --- | --- | --- |
//! | activations, `dropout` | any | the same |
//! | `linear(IN,OUT)` | `[IN]` | `[OUT]` |
//! | `batchnorm(N)` | `[N]` | `[N]` |
//! | `batchnorm2d(C)` | `[C, H, W]` | the same |
//! | `layernorm(N)` | `[..., N]` | the same |
//! | `reshape(D1,...,Dk)` | `[D1*...*Dk]` | `[D1, ..., Dk]` |
//! | `flatten` | `[D1, ..., Dk]` | `[D1*...*Dk]` |
//! | `conv2d(IN,OUT,K,stride=S,padding=P)` | `[IN, H, W]` | `[OUT, (H+2P-K)/S+1, (W+2P-K)/S+1]` |
//! | `maxpool2d(K,stride=S)`, `avgpool2d` | `[C, H, W]` | `[C, (H-K)/S+1, (W-K)/S+1]` |
//!
//! Divisions round down (PyTorch's default `ceil_mode=False`). Sizes are
//! multiplied with checked arithmetic: a size that would overflow is an error
//! naming the element, never a wrapped or saturated number.

use std::fmt;

use super::ElementSpec;

/// The dims of one row: `None` for the whole when even the rank is unknown
/// (a stack that starts with `flatten`), else one entry per dim, `None` where
/// that size comes from the data (the height and width of images).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowShape(Option<Vec<Option<usize>>>);

impl RowShape {
    /// A shape whose rank and sizes are unknown.
    pub fn any() -> Self {
        Self(None)
    }

    /// A shape from dims, `None` where unknown.
    pub fn new(dims: Vec<Option<usize>>) -> Self {
        Self(Some(dims))
    }

    /// A fully known shape, e.g. the dims of a data row.
    pub fn known(dims: &[usize]) -> Self {
        Self(Some(dims.iter().map(|&d| Some(d)).collect()))
    }

    /// The dims, or `None` when even the rank is unknown.
    pub fn dims(&self) -> Option<&[Option<usize>]> {
        self.0.as_deref()
    }

    /// The number of values per row when every size is known (saturating).
    pub fn width(&self) -> Option<usize> {
        self.concrete()
            .map(|d| d.iter().fold(1usize, |a, &b| a.saturating_mul(b)))
    }

    /// The dims when every size is known.
    pub fn concrete(&self) -> Option<Vec<usize>> {
        self.0.as_ref()?.iter().copied().collect()
    }
}

impl fmt::Display for RowShape {
    /// `[batch, 16, 8, 8]`; unknown sizes print as `?`, an unknown rank as `[batch, ...]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => write!(f, "[batch, ...]"),
            Some(dims) => {
                write!(f, "[batch")?;
                for d in dims {
                    match d {
                        Some(d) => write!(f, ", {d}")?,
                        None => write!(f, ", ?")?,
                    }
                }
                write!(f, "]")
            }
        }
    }
}

/// The product of known sizes, `None` if any is unknown or it overflows.
fn checked_product(dims: &[Option<usize>]) -> Option<usize> {
    dims.iter().try_fold(1usize, |a, d| a.checked_mul((*d)?))
}

/// One spatial size through a window: `(size + 2 pad - k) / stride + 1`, or an
/// error when the window is larger than the (padded) input.
fn window(
    size: Option<usize>,
    k: usize,
    stride: usize,
    pad: usize,
) -> Result<Option<usize>, String> {
    let Some(size) = size else { return Ok(None) };
    let padded = pad
        .checked_mul(2)
        .and_then(|p| size.checked_add(p))
        .ok_or_else(|| format!("its padded input size {size} + 2*{pad} overflows"))?;
    if padded < k {
        return Err(if pad == 0 {
            format!("its kernel {k} is larger than its input size {size}")
        } else {
            format!("its kernel {k} is larger than its padded input size {padded}")
        });
    }
    Ok(Some((padded - k) / stride + 1))
}

impl ElementSpec {
    /// The input row this element fixes when it comes first (after
    /// activations or dropout), or `None` when it takes any shape.
    pub(crate) fn input_requirement(&self) -> Option<RowShape> {
        Some(match self {
            ElementSpec::Activation(_) | ElementSpec::Dropout(_) => return None,
            ElementSpec::Linear { input, .. } => RowShape::known(&[*input]),
            ElementSpec::BatchNorm { features, .. } | ElementSpec::LayerNorm { features, .. } => {
                RowShape::known(&[*features])
            }
            ElementSpec::BatchNorm2d { channels, .. } => {
                RowShape::new(vec![Some(*channels), None, None])
            }
            ElementSpec::Reshape(dims) => RowShape::new(vec![checked_product(
                &dims.iter().map(|&d| Some(d)).collect::<Vec<_>>(),
            )]),
            ElementSpec::Flatten => RowShape::any(),
            ElementSpec::Conv2d { input, .. } => RowShape::new(vec![Some(*input), None, None]),
            ElementSpec::MaxPool2d { .. } | ElementSpec::AvgPool2d { .. } => {
                RowShape::new(vec![None, None, None])
            }
        })
    }

    /// The output row for an input row, or why the input does not fit.
    pub(crate) fn output_shape(&self, input: &RowShape) -> Result<RowShape, String> {
        let dims = match input.dims() {
            Some(d) => d,
            // Unknown rank: only the first sized element can see this, and
            // its own requirement then describes the input.
            None => match self.input_requirement() {
                Some(r) if r != RowShape::any() => return self.output_shape(&r),
                _ => {
                    return Ok(match self {
                        ElementSpec::Flatten => RowShape::new(vec![None]),
                        _ => RowShape::any(),
                    })
                }
            },
        };
        let flat = |what: &str, n: usize| -> Result<Option<usize>, String> {
            match dims {
                [w] => match w {
                    Some(w) if *w != n => Err(format!(
                        "its input size {n} does not match the output size {w} before it"
                    )),
                    _ => Ok(Some(n)),
                },
                _ => Err(format!(
                    "{what} takes flat rows [batch, {n}] but gets {input}; add flatten before it"
                )),
            }
        };
        let image = |channels: Option<usize>| -> Result<[Option<usize>; 3], String> {
            match dims {
                [c, h, w] => {
                    if let (Some(want), Some(got)) = (channels, c) {
                        if want != *got {
                            return Err(format!(
                                "it takes {want} channels but its input {input} has {got}"
                            ));
                        }
                    }
                    Ok([*c, *h, *w])
                }
                _ => Err(format!(
                    "it takes images [batch, C, H, W] but gets {input}; a flat row needs reshape(C,H,W) before it"
                )),
            }
        };
        Ok(match self {
            ElementSpec::Activation(_) | ElementSpec::Dropout(_) => input.clone(),
            ElementSpec::Linear {
                input: n, output, ..
            } => {
                flat("linear", *n)?;
                RowShape::known(&[*output])
            }
            ElementSpec::BatchNorm { features, .. } => {
                flat("batchnorm", *features)?;
                input.clone()
            }
            ElementSpec::BatchNorm2d { channels, .. } => {
                image(Some(*channels))?;
                input.clone()
            }
            ElementSpec::LayerNorm { features, .. } => match dims.last() {
                Some(Some(last)) if last != features => {
                    return Err(format!(
                        "it normalises {features} values but its input {input} ends in {last}"
                    ))
                }
                Some(_) => input.clone(),
                None => return Err(format!("it normalises {features} values but gets {input}")),
            },
            ElementSpec::Reshape(to) => {
                let n = to
                    .iter()
                    .try_fold(1usize, |a, &b| a.checked_mul(b))
                    .ok_or_else(|| format!("the product of its sizes {to:?} overflows"))?;
                match dims {
                    [Some(w)] if *w != n => {
                        return Err(format!(
                            "it makes {n} values per row into {to:?} but gets {w}"
                        ))
                    }
                    [_] => RowShape::known(to),
                    _ => {
                        return Err(format!(
                            "it takes flat rows but gets {input}; add flatten before it"
                        ))
                    }
                }
            }
            ElementSpec::Flatten => {
                let known = dims.iter().all(Option::is_some);
                match checked_product(dims) {
                    None if known => {
                        return Err(format!("the product of its input sizes {input} overflows"))
                    }
                    n => RowShape::new(vec![n]),
                }
            }
            ElementSpec::Conv2d {
                input: c_in,
                output,
                kernel,
                stride,
                padding,
                ..
            } => {
                let [_, h, w] = image(Some(*c_in))?;
                RowShape::new(vec![
                    Some(*output),
                    window(h, *kernel, *stride, *padding)?,
                    window(w, *kernel, *stride, *padding)?,
                ])
            }
            ElementSpec::MaxPool2d { kernel, stride }
            | ElementSpec::AvgPool2d { kernel, stride } => {
                let [c, h, w] = image(None)?;
                RowShape::new(vec![
                    c,
                    window(h, *kernel, *stride, 0)?,
                    window(w, *kernel, *stride, 0)?,
                ])
            }
        })
    }
}
