//! Row shapes: the dims of one row (the batch dimension left out), some of
//! which may be known only when data arrives, and the helpers the element
//! kinds' shape rules share (each kind's rule is in its own module, under
//! `elements/`).
//!
//! Divisions round down (PyTorch's default `ceil_mode=False`). Sizes are
//! multiplied with checked arithmetic: a size that would overflow is an error
//! naming the element, never a wrapped or saturated number.

use std::fmt;

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
pub(crate) fn checked_product(dims: &[Option<usize>]) -> Option<usize> {
    dims.iter().try_fold(1usize, |a, d| a.checked_mul((*d)?))
}

/// One spatial size through a window: `(size + 2 pad - k) / stride + 1`, or an
/// error when the window is larger than the (padded) input.
pub(crate) fn window(
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

/// The dims `[C, H, W]` of an image row, checking C against `channels`.
pub(crate) fn image(
    input: &RowShape,
    channels: Option<usize>,
) -> Result<[Option<usize>; 3], String> {
    match input.dims() {
        Some([c, h, w]) => {
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
}

/// A row whose last size must be `n` (an element acting on the last
/// dimension: linear, layernorm): the dims, or why not. `what` names what
/// `n` is (`"its input size"`); a flat row says so when the sizes differ,
/// and an image row whose values number `n` suggests `flatten`.
pub(crate) fn last_dim<'a>(
    input: &'a RowShape,
    n: usize,
    what: &str,
) -> Result<&'a [Option<usize>], String> {
    let Some(dims) = input.dims() else {
        return Err(format!(
            "{what} {n} needs rows of a known rank, got {input}"
        ));
    };
    match dims.last() {
        None => Err(format!(
            "{what} {n} needs rows of at least one size, got {input}"
        )),
        Some(Some(last)) if *last != n => {
            if dims.len() == 1 {
                Err(format!(
                    "{what} {n} does not match the output size {last} before it"
                ))
            } else if checked_product(dims) == Some(n) {
                Err(format!(
                    "{what} {n} is the size of its whole input {input}, but it acts on the last dimension ({last}); add flatten before it"
                ))
            } else {
                Err(format!(
                    "{what} {n} does not match the last size {last} of its input {input}"
                ))
            }
        }
        Some(_) => Ok(dims),
    }
}
