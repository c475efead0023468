//! Reading an `.npz` dataset (SPEC sections 6 and 10): `x` `[N, D]` (or
//! `[N, C, H, W]`, `[N, T, F]`) floats, or `[N, T]` integer ids for a stack
//! that starts with `embedding` (`LoadOptions::ids`); `y` `[N, K]` floats,
//! or `[N]` / `[N, T]` integers for class indices (-100: does not count).

use std::path::Path;

use candle_core::DType;

use crate::dataset::{Classes, Dataset, LoadOptions, Targets};
use crate::npy::read_npz;
use crate::{Error, Result};

/// Reads `path` as an npz dataset.
pub fn load_npz(path: &Path, options: &LoadOptions) -> Result<Dataset> {
    npz_dataset(read_npz(path)?, path, options)
}

/// A dataset from npz bytes in memory; `path` only names the file in errors.
pub fn read_npz_dataset(bytes: &[u8], path: &Path, options: &LoadOptions) -> Result<Dataset> {
    npz_dataset(
        crate::npy::read_npz_from(std::io::Cursor::new(bytes), path)?,
        path,
        options,
    )
}

fn npz_dataset(
    mut arrays: Vec<(String, crate::npy::NpyArray)>,
    path: &Path,
    options: &LoadOptions,
) -> Result<Dataset> {
    let names: Vec<String> = arrays.iter().map(|(n, _)| n.clone()).collect();
    // Arrays are moved out, so that their data become tensors without a copy.
    let mut take = |name: &str| match arrays.iter().position(|(n, _)| n == name) {
        Some(i) => Ok(arrays.swap_remove(i).1),
        None => Err(Error::data(
            path,
            format!("has no array `{name}` (it has: {})", names.join(", ")),
        )),
    };
    let at = |name: &str, reason: String| Error::Data {
        path: path.to_path_buf(),
        line: None,
        column: Some(format!("array `{name}`")),
        reason,
    };
    if let Targets::Named(names) = &options.targets {
        return Err(Error::data(
            path,
            format!(
                "target columns ({}) were named, but an npz file has no columns: its targets are the array `y`",
                names.join(", ")
            ),
        ));
    }
    let fits_f32 = |name: &str, a: &crate::npy::NpyArray| {
        match a.first_too_large_for_f32() {
        Some((i, v)) if options.dtype == DType::F32 => Err(at(
            name,
            format!(
                "element {i} ({v}) does not fit in f32 (whose largest size is about 3.4e38); use the f64 dtype (--dtype f64) or rescale it"
            ),
        )),
        _ => Ok(()),
    }
    };
    let x = take("x")?;
    fits_f32("x", &x)?;
    if x.shape.len() < 2 {
        return Err(at(
            "x",
            format!(
                "must be [rows, inputs] (or [rows, C, H, W] images), got shape {:?}",
                x.shape
            ),
        ));
    }
    let rows = x.shape[0];
    if rows == 0 {
        return Err(at("x", "has no rows".into()));
    }
    if x.shape[1..].contains(&0) {
        return Err(at(
            "x",
            format!("has rows of no values: shape {:?}", x.shape),
        ));
    }
    let x_cols: usize = x.shape[1..].iter().product::<usize>().max(1);
    let x_t = match (options.ids, x.dtype.is_integer()) {
        // Ids stay whole (i64); their range is checked against the stack.
        (true, true) => candle_core::Tensor::from_vec(
            x.integers(),
            x.shape.clone(),
            &candle_core::Device::Cpu,
        )?,
        (true, false) => {
            return Err(at(
                "x",
                "holds floats, but the stack starts with embedding, which takes integer ids (an integer array: <i8, <i4, <i2, |u1, <u2 or <u4)".into(),
            ))
        }
        (false, _) => {
            let t = x.into_tensor(options.dtype)?;
            check_finite(&t).map_err(|i| {
                at(
                    "x",
                    format!(
                        "row {}, column {}: NaN or infinity is not allowed",
                        i / x_cols,
                        i % x_cols
                    ),
                )
            })?;
            t
        }
    };
    let y_t = if let Targets::None | Targets::Drop(_) = options.targets {
        candle_core::Tensor::zeros((rows, 0), options.dtype, &candle_core::Device::Cpu)?
    } else {
        let y = take("y")?;
        if y.shape.first() != Some(&rows) {
            return Err(at(
                "y",
                format!(
                    "has {} rows but x has {rows}",
                    y.shape.first().copied().unwrap_or(0)
                ),
            ));
        }
        fits_f32("y", &y)?;
        let classes = !matches!(options.classes, Classes::No);
        let y_t = match (y.shape.len(), classes) {
            (1, true) | (2, true) => {
                let values = y.values();
                let per_row = y.shape[1..].iter().product::<usize>().max(1);
                // Rows count from 0 for [rows] targets, from 1 with positions.
                let place = |i: usize| {
                    if per_row > 1 {
                        format!("row {}, position {}", i / per_row + 1, i % per_row + 1)
                    } else {
                        format!("row {i}")
                    }
                };
                if let Some((i, v)) = crate::arrays::first_bad_class(&values) {
                    return Err(at(
                        "y",
                        format!("{}: `{v}` is not a class index (a whole number 0 or more, or -100 for a position that does not count)", place(i)),
                    ));
                }
                if let Classes::Known(labels) = &options.classes {
                    if let Some((i, v)) = values
                        .iter()
                        .enumerate()
                        .find(|(_, v)| **v as usize >= labels.len() && !labels.is_empty())
                    {
                        return Err(at(
                            "y",
                            format!(
                                "{}: class index {v} is out of range for {} classes",
                                place(i),
                                labels.len()
                            ),
                        ));
                    }
                }
                let per_position = y.shape.len() == 2 && y.shape[1] > 1;
                let t = y.into_tensor(options.dtype)?;
                if per_position {
                    t
                } else {
                    t.reshape((rows, 1))?
                }
            }
            (1, false) => y.into_tensor(options.dtype)?.unsqueeze(1)?,
            (_, false) => y.into_tensor(options.dtype)?,
            (_, true) => {
                return Err(at(
                    "y",
                    format!(
                        "class targets must be [rows] or [rows, T] integers, got shape {:?}",
                        y.shape
                    ),
                ))
            }
        };
        check_finite(&y_t)
            .map_err(|i| at("y", format!("element {i}: NaN or infinity is not allowed")))?;
        y_t
    };
    let mut data = Dataset::new(x_t, y_t)?;
    if let Classes::Known(labels) = &options.classes {
        data.labels = Some(labels.clone()).filter(|l| !l.is_empty());
    }
    Ok(data)
}

/// `Err(flat index)` of the first NaN or infinity.
fn check_finite(t: &candle_core::Tensor) -> std::result::Result<(), usize> {
    crate::arrays::first_non_finite(t).map_or(Ok(()), Err)
}
