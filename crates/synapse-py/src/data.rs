//! `fit`'s data as the training job takes them (`synapse_train::job`):
//! `X` and `y` arrays or a data file, `validation_data` as a tuple of
//! arrays or a file, or `text=`. The rows are read, checked, split,
//! weighted and normalised by the job itself (`TrainData::assemble`), as
//! for `synapse train`; here is only how Python's arguments become its
//! inputs, with the argument named in errors (`X`, `y`, `validation_data`).

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use synapse_train::job::Input;
use synapse_train::Model;

use crate::arrays::{read, Kind};
use crate::options::FitOptions;

/// `obj` as a path, when it is one (`str` or `os.PathLike`).
pub fn path_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    let os = obj.py().import("os")?;
    if obj.is_instance(&os.getattr("PathLike")?)? || obj.is_instance_of::<pyo3::types::PyString>() {
        return Ok(Some(obj.extract::<PathBuf>()?));
    }
    Ok(None)
}

/// What the model's stack reads: ids or floats of its type.
pub fn kind_of(model: &Model) -> Kind {
    if model.net.takes_ids() {
        Kind::Ids
    } else {
        Kind::Floats(model.net.dtype())
    }
}

/// `X` and `y` (or `text=`) and `validation_data` as the job's inputs.
pub fn inputs(
    x: Option<&Bound<'_, PyAny>>,
    y: Option<&Bound<'_, PyAny>>,
    o: &mut FitOptions<'_>,
    model: &Model,
) -> PyResult<()> {
    if o.job.text.is_some() {
        if x.is_some() || y.is_some() {
            return Err(PyValueError::new_err(
                "text: give either X (and y) or text=FILE, not both",
            ));
        }
    } else {
        let Some(x) = x else {
            return Err(PyTypeError::new_err(
                "fit() needs X (and y), or text=FILE with context=T",
            ));
        };
        o.job.data = Some(input(x, y, model, "X")?);
    }
    if let Some(v) = &o.validation_data {
        let val = match path_of(v)? {
            Some(path) => Input::File(path),
            None => {
                let pair = v
                    .cast::<PyTuple>()
                    .ok()
                    .filter(|t| t.len() == 2)
                    .ok_or_else(|| {
                        PyTypeError::new_err(
                            "validation_data: expected a tuple (X_val, y_val) or a data file",
                        )
                    })?;
                input(
                    &pair.get_item(0)?,
                    Some(&pair.get_item(1)?),
                    model,
                    "validation_data",
                )?
            }
        };
        o.job.val = Some(val);
    }
    Ok(())
}

/// A data file, or arrays `x` and `y` (`name`: the argument `x` is).
fn input(
    x: &Bound<'_, PyAny>,
    y: Option<&Bound<'_, PyAny>>,
    model: &Model,
    name: &str,
) -> PyResult<Input> {
    if let Some(path) = path_of(x)? {
        if y.is_some() {
            return Err(PyValueError::new_err(format!(
                "y: {name} is the file {}, whose targets are its own (target= names CSV columns)",
                path.display()
            )));
        }
        return Ok(Input::File(path));
    }
    let Some(y) = y else {
        return Err(PyTypeError::new_err(
            "fit() needs y (the targets) with an array X",
        ));
    };
    let dtype = model.net.dtype();
    Ok(Input::Arrays {
        x: read(x, name, kind_of(model))?.tensor,
        y: read(y, "y", Kind::Floats(dtype))?.tensor,
    })
}
