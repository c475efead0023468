//! Reading an `.npz` dataset (SPEC sections 6 and 10): `x` `[N, D]` (or
//! `[N, C, H, W]`, `[N, T, F]`) floats, or `[N, T]` integer ids for a stack
//! that starts with `embedding` (`LoadOptions::ids`); `y` `[N, K]` floats,
//! or `[N]` / `[N, T]` integers for class indices (-100: does not count).

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::dataset::{Classes, Dataset, LoadOptions, Targets};
use crate::npy::{read_npz, NpyArray};
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

/// The arrays of one npz file, taken by name (moved out, so that their data
/// become tensors without a copy), and errors that name the file and array.
struct Arrays<'a> {
    arrays: Vec<(String, NpyArray)>,
    names: Vec<String>,
    path: &'a Path,
    options: &'a LoadOptions,
}

impl Arrays<'_> {
    /// The array `name`, or an error listing the arrays the file has.
    fn take(&mut self, name: &str) -> Result<NpyArray> {
        match self.arrays.iter().position(|(n, _)| n == name) {
            Some(i) => Ok(self.arrays.swap_remove(i).1),
            None => Err(Error::data(
                self.path,
                format!("has no array `{name}` (it has: {})", self.names.join(", ")),
            )),
        }
    }

    /// An error about the array `name`.
    fn at(&self, name: &str, reason: String) -> Error {
        Error::Data {
            path: self.path.to_path_buf(),
            line: None,
            column: Some(format!("array `{name}`")),
            reason,
        }
    }

    /// Every value of `a` fits the dtype asked for (f32's range).
    fn fits_dtype(&self, name: &str, a: &NpyArray) -> Result<()> {
        match a.first_too_large_for_f32() {
            Some((i, v)) if self.options.dtype == DType::F32 => Err(self.at(
                name,
                format!(
                    "element {i} ({v}) does not fit in f32 (whose largest size is about 3.4e38); use the f64 dtype (--dtype f64) or rescale it"
                ),
            )),
            _ => Ok(()),
        }
    }
}

fn npz_dataset(
    arrays: Vec<(String, NpyArray)>,
    path: &Path,
    options: &LoadOptions,
) -> Result<Dataset> {
    if let Targets::Named(names) = &options.targets {
        return Err(Error::data(
            path,
            format!(
                "target columns ({}) were named, but an npz file has no columns: its targets are the array `y`",
                names.join(", ")
            ),
        ));
    }
    let names = arrays.iter().map(|(n, _)| n.clone()).collect();
    let mut arrays = Arrays {
        arrays,
        names,
        path,
        options,
    };
    let x = inputs(&mut arrays)?;
    let rows = x.dims()[0];
    let y = match options.targets {
        Targets::None | Targets::Drop(_) => Tensor::zeros((rows, 0), options.dtype, &Device::Cpu)?,
        _ => targets(&mut arrays, rows)?,
    };
    let mut data = Dataset::new(x, y)?;
    if let Classes::Known(labels) = &options.classes {
        data.labels = Some(labels.clone()).filter(|l| !l.is_empty());
    }
    Ok(data)
}

/// `x`: at least `[rows, values]`, with rows and values; integer ids kept
/// whole for a stack that starts with `embedding`, else finite floats.
fn inputs(arrays: &mut Arrays<'_>) -> Result<Tensor> {
    let x = arrays.take("x")?;
    arrays.fits_dtype("x", &x)?;
    if x.shape.len() < 2 {
        return Err(arrays.at(
            "x",
            format!(
                "must be [rows, inputs] (or [rows, C, H, W] images), got shape {:?}",
                x.shape
            ),
        ));
    }
    if x.shape[0] == 0 {
        return Err(arrays.at("x", "has no rows".into()));
    }
    if x.shape[1..].contains(&0) {
        return Err(arrays.at("x", format!("has rows of no values: shape {:?}", x.shape)));
    }
    let x_cols: usize = x.shape[1..].iter().product::<usize>();
    match (arrays.options.ids, x.dtype.is_integer()) {
        // Ids stay whole (i64); their range is checked against the stack.
        (true, true) => Ok(Tensor::from_vec(
            x.integers(),
            x.shape.clone(),
            &Device::Cpu,
        )?),
        (true, false) => Err(arrays.at(
            "x",
            "holds floats, but the stack starts with embedding, which takes integer ids (an integer array: <i8, <i4, <i2, |u1, <u2 or <u4)".into(),
        )),
        (false, _) => {
            let t = x.into_tensor(arrays.options.dtype)?;
            check_finite(&t).map_err(|i| {
                arrays.at(
                    "x",
                    format!(
                        "row {}, column {}: NaN or infinity is not allowed",
                        i / x_cols,
                        i % x_cols
                    ),
                )
            })?;
            Ok(t)
        }
    }
}

/// `y`: `rows` rows of finite targets; class indices when the loss wants
/// classes (see [`class_targets`]), else floats (`[rows]` becomes `[rows, 1]`).
fn targets(arrays: &mut Arrays<'_>, rows: usize) -> Result<Tensor> {
    let y = arrays.take("y")?;
    if y.shape.first() != Some(&rows) {
        return Err(arrays.at(
            "y",
            format!(
                "has {} rows but x has {rows}",
                y.shape.first().copied().unwrap_or(0)
            ),
        ));
    }
    arrays.fits_dtype("y", &y)?;
    let dtype = arrays.options.dtype;
    let classes = !matches!(arrays.options.classes, Classes::No);
    let y = match (y.shape.len(), classes) {
        (1, true) | (2, true) => class_targets(arrays, y, rows)?,
        (1, false) => y.into_tensor(dtype)?.unsqueeze(1)?,
        (_, false) => y.into_tensor(dtype)?,
        (_, true) => {
            return Err(arrays.at(
                "y",
                format!(
                    "class targets must be [rows] or [rows, T] integers, got shape {:?}",
                    y.shape
                ),
            ))
        }
    };
    check_finite(&y)
        .map_err(|i| arrays.at("y", format!("element {i}: NaN or infinity is not allowed")))?;
    Ok(y)
}

/// Class indices `[rows]` (as `[rows, 1]`) or `[rows, T]` (one per
/// position): whole numbers 0 or more, or -100 (does not count), and below
/// the number of known labels.
fn class_targets(arrays: &Arrays<'_>, y: NpyArray, rows: usize) -> Result<Tensor> {
    let values = y.values();
    let per_row = y.shape[1..].iter().product::<usize>().max(1);
    // Rows count from 0 for [rows] targets; with positions, as the
    // interface counts (index marks: from 1 on the command line).
    let place = |i: usize| {
        if per_row > 1 {
            format!(
                "row {}, position {}",
                synapse_nn::index(i / per_row),
                synapse_nn::index(i % per_row)
            )
        } else {
            format!("row {i}")
        }
    };
    if let Some((i, v)) = crate::arrays::first_bad_class(&values) {
        return Err(arrays.at(
            "y",
            format!("{}: `{v}` is not a class index (a whole number 0 or more, or -100 for a position that does not count)", place(i)),
        ));
    }
    if let Classes::Known(labels) = &arrays.options.classes {
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| **v as usize >= labels.len() && !labels.is_empty())
        {
            return Err(arrays.at(
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
    let t = y.into_tensor(arrays.options.dtype)?;
    Ok(if per_position {
        t
    } else {
        t.reshape((rows, 1))?
    })
}

/// `Err(flat index)` of the first NaN or infinity.
fn check_finite(t: &Tensor) -> std::result::Result<(), usize> {
    crate::arrays::first_non_finite(t).map_or(Ok(()), Err)
}
