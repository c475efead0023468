//! In-memory arrays to a [`Dataset`] (what Python's numpy arrays become),
//! with the checks the npz loader makes on its arrays: inputs and targets
//! finite, values that fit the dtype, class targets whole numbers 0 or more
//! (-100: a position that does not count).
//!
//! `x` is `[N, ...]` floats (f32 or f64), or integer ids (`i64`, `u32`,
//! `u8`) for a stack that starts with `embedding`; `y` is `[N]`, `[N, K]` or
//! `[N, T]`. A strided view (transposed, narrowed, broadcast) is taken as
//! its values in order. Other number types numpy has (f16, bf16, i16, i32)
//! are converted; candle's 8-bit and smaller floats are refused. Errors are
//! [`Error::Config`] named `x` or `y`, so a caller puts its own name for the
//! array in front: `row 3, column 2: NaN or infinity is not allowed`. Rows
//! and columns are [`synapse_nn::index`] marks: `message(e, Naming::Keywords)`
//! counts them from 0, as numpy indexes them (Python's messages); `Display`
//! counts from 1.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use synapse_train::dataset_from_arrays;
//! let x = Tensor::new(&[[0f64, 1.], [2., f64::NAN]], &Device::Cpu)?;
//! let y = Tensor::new(&[0f64, 1.], &Device::Cpu)?;
//! let e = dataset_from_arrays(x, Some(y.clone()), true, DType::F32).unwrap_err();
//! use synapse_train::job::{message, Naming};
//! assert_eq!(message(&e, Naming::Keywords), "invalid x: row 1, column 1: NaN or infinity is not allowed");
//! let x = Tensor::new(&[[0f64, 1.], [2., 3.]], &Device::Cpu)?;
//! let data = dataset_from_arrays(x, Some(y), true, DType::F32)?;
//! assert_eq!((data.rows(), data.y().dims()), (2, &[2, 1][..]));
//! # Ok::<(), synapse_train::Error>(())
//! ```

use candle_core::{DType, Tensor};

use crate::dataset::MAX_CLASSES;
use crate::{Dataset, Error, Result};

/// A dataset of `x` and `y` (none: prediction inputs, no targets). With
/// `classes`, `y` holds class indices (`[N]`, or `[N, T]` one per position);
/// floats are stored in `dtype`.
pub fn dataset_from_arrays(
    x: Tensor,
    y: Option<Tensor>,
    classes: bool,
    dtype: DType,
) -> Result<Dataset> {
    readable(&x, "x")?;
    if x.rank() < 2 {
        return Err(Error::config(
            "x",
            format!(
                "must be [rows, inputs] (or [rows, C, H, W] images, [rows, T] ids), got shape {:?}",
                x.dims()
            ),
        ));
    }
    let rows = x.dims()[0];
    if rows == 0 {
        return Err(Error::config("x", "has no rows"));
    }
    if x.dims()[1..].contains(&0) {
        return Err(Error::config(
            "x",
            format!("has rows of no values: shape {:?}", x.dims()),
        ));
    }
    let x = if x.dtype().is_float() {
        let width = x.dims()[1..].iter().product::<usize>().max(1);
        check_fits_dtype(&x, dtype).map_err(|(i, v)| {
            Error::config(
                "x",
                format!(
                    "row {}, column {}: {v} {}",
                    synapse_nn::index(i / width),
                    synapse_nn::index(i % width),
                    TOO_LARGE
                ),
            )
        })?;
        let x = x.to_dtype(dtype)?;
        first_non_finite(&x).map_or(Ok(()), |i| {
            Err(Error::config(
                "x",
                format!(
                    "row {}, column {}: NaN or infinity is not allowed",
                    synapse_nn::index(i / width),
                    synapse_nn::index(i % width)
                ),
            ))
        })?;
        x
    } else {
        x.to_dtype(DType::I64)?
    };
    let y = match y {
        None => Tensor::zeros((rows, 0), dtype, x.device())?,
        Some(y) => targets(y, rows, classes, dtype)?,
    };
    // A strided view (transposed, narrowed, broadcast) becomes rows in order:
    // batches are cut with `index_select`, which reads contiguous tensors only.
    Dataset::new(x.contiguous()?, y.contiguous()?)
}

const TOO_LARGE: &str =
    "does not fit in f32 (whose largest size is about 3.4e38); use the f64 dtype or rescale it";

/// The targets, checked: `[rows, ...]`, finite, class indices when `classes`.
fn targets(y: Tensor, rows: usize, classes: bool, dtype: DType) -> Result<Tensor> {
    readable(&y, "y")?;
    // An empty view of an empty array keeps an offset past its storage's end,
    // where candle reads (a panic): made afresh, it has no offset.
    let y = if y.elem_count() == 0 {
        Tensor::zeros(y.shape(), y.dtype(), y.device())?
    } else {
        y
    };
    if y.rank() == 0 || y.dims()[0] != rows {
        return Err(Error::config(
            "y",
            format!(
                "has {} rows but x has {rows}",
                y.dims().first().copied().unwrap_or(0)
            ),
        ));
    }
    let per_row = y.dims()[1..].iter().product::<usize>().max(1);
    let at = |i: usize| match (y.rank(), per_row) {
        (1, _) => format!("row {}", synapse_nn::index(i)),
        (_, k) => format!(
            "row {}, column {}",
            synapse_nn::index(i / k),
            synapse_nn::index(i % k)
        ),
    };
    if classes {
        if y.rank() > 2 {
            return Err(Error::config(
                "y",
                format!(
                    "class targets must be [rows] or [rows, T] integers, got shape {:?}",
                    y.dims()
                ),
            ));
        }
        let values = y.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        if let Some((i, v)) = first_bad_class(&values) {
            return Err(Error::config(
                "y",
                format!("{}: `{v}` is not a class index (a whole number 0 or more, or -100 for a position that does not count)", at(i)),
            ));
        }
    } else if y.dtype().is_float() {
        check_fits_dtype(&y, dtype)
            .map_err(|(i, v)| Error::config("y", format!("{}: {v} {TOO_LARGE}", at(i))))?;
    }
    let y = y.to_dtype(dtype)?;
    if let Some(i) = first_non_finite(&y) {
        return Err(Error::config(
            "y",
            format!("{}: NaN or infinity is not allowed", at(i)),
        ));
    }
    Ok(if y.rank() == 1 { y.unsqueeze(1)? } else { y })
}

/// An array of numpy's number types: candle's 8-bit and smaller floats
/// (F8E4M3, F6, F4, F8E8M0) are none of them.
fn readable(t: &Tensor, name: &str) -> Result<()> {
    match t.dtype() {
        DType::U8 | DType::U32 | DType::I16 | DType::I32 | DType::I64 => Ok(()),
        DType::BF16 | DType::F16 | DType::F32 | DType::F64 => Ok(()),
        other => Err(Error::config(
            name,
            format!(
                "holds {} values; give floats (16, 32 or 64 bits) or integers",
                other.as_str()
            ),
        )),
    }
}

/// `Err((flat index, value))` of the first finite value of an f64 `t`
/// beyond f32's range, when `dtype` is f32.
fn check_fits_dtype(t: &Tensor, dtype: DType) -> std::result::Result<(), (usize, f64)> {
    if dtype != DType::F32 || t.dtype() != DType::F64 {
        return Ok(());
    }
    let largest = t
        .abs()
        .and_then(|a| a.flatten_all())
        .and_then(|a| a.max(0))
        .and_then(|m| m.to_scalar::<f64>());
    if matches!(largest, Ok(m) if !(m.is_finite() && m > f32::MAX as f64)) {
        return Ok(());
    }
    let values = t
        .flatten_all()
        .and_then(|f| f.to_vec1::<f64>())
        .unwrap_or_default();
    match values
        .iter()
        .position(|v| v.is_finite() && v.abs() > f32::MAX as f64)
    {
        Some(i) => Err((i, values[i])),
        None => Ok(()),
    }
}

/// The flat index of the first NaN or infinity of a float tensor.
pub(crate) fn first_non_finite(t: &Tensor) -> Option<usize> {
    // Fast path without a copy: a finite sum means every element is finite.
    let sum = t
        .sum_all()
        .and_then(|s| s.to_dtype(DType::F64))
        .and_then(|s| s.to_scalar::<f64>());
    if matches!(sum, Ok(v) if v.is_finite()) {
        return None;
    }
    let values = t
        .flatten_all()
        .and_then(|f| f.to_dtype(DType::F64))
        .and_then(|f| f.to_vec1::<f64>())
        .unwrap_or_default();
    values.iter().position(|v| !v.is_finite())
}

/// The first value (flat index, value) that is neither a class index
/// ([`synapse_nn::class_index`]) nor -100 (a position that does not count).
pub(crate) fn first_bad_class(values: &[f64]) -> Option<(usize, f64)> {
    let ignored = synapse_nn::IGNORE_INDEX as f64;
    values
        .iter()
        .enumerate()
        .find(|(_, v)| **v != ignored && synapse_nn::class_index(**v, MAX_CLASSES).is_err())
        .map(|(i, v)| (i, *v))
}
