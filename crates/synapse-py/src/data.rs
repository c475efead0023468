//! `fit`'s data, as `synapse train` assembles it (`crates/synapse-cli/src/
//! train.rs`), from numpy arrays or from files: read and checked against
//! the stack and the loss, validation rows (`validation_data` or
//! `val_split`), class weights, and the normalisation fitted on the
//! training rows. Every rule is the library's; errors name the argument
//! (`X`, `y`, `validation_data`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use synapse_nn::{ElementSpec, Loss};
use synapse_train::{
    check_fits, check_training_data, dataset_from_arrays, load, train_val_split, Classes, Dataset,
    LoadOptions, Model, Normalizer, Rows, Targets, Text, TextWindows,
};

use crate::arrays::{read, Kind};
use crate::errors::train_error;
use crate::options::FitOptions;

/// A table of rows (arrays or a data file) or a text's windows (`text=`).
pub enum Examples {
    Table {
        train: Dataset,
        val: Option<Dataset>,
    },
    Text {
        train: TextWindows,
        val: Option<TextWindows>,
    },
}

/// The rows to train and validate on, as the stack sees them, and what
/// the model file keeps of them.
pub struct TrainData {
    pub examples: Examples,
    pub normalize: Option<Normalizer>,
    pub class_weights: Option<Vec<f64>>,
    pub labels: Option<Vec<String>>,
}

impl TrainData {
    /// The training rows.
    pub fn train(&self) -> &dyn Rows {
        match &self.examples {
            Examples::Table { train, .. } => train,
            Examples::Text { train, .. } => train,
        }
    }

    /// The validation rows, if any.
    pub fn val(&self) -> Option<&dyn Rows> {
        match &self.examples {
            Examples::Table { val, .. } => val.as_ref().map(|v| v as &dyn Rows),
            Examples::Text { val, .. } => val.as_ref().map(|v| v as &dyn Rows),
        }
    }

    /// Reads `x` and `y` (or `text=`) and everything `o` says about them.
    pub fn read(
        x: Option<&Bound<'_, PyAny>>,
        y: Option<&Bound<'_, PyAny>>,
        o: &FitOptions<'_>,
        model: &Model,
        loss: Loss,
        seed: u32,
    ) -> PyResult<Self> {
        if let Some(path) = &o.text {
            if x.is_some() || y.is_some() {
                return Err(PyValueError::new_err(
                    "text: give either X (and y) or text=FILE, not both",
                ));
            }
            return Self::text(path, o);
        }
        let Some(x) = x else {
            return Err(PyTypeError::new_err(
                "fit() needs X (and y), or text=FILE with context=T",
            ));
        };
        if o.context.is_some() || o.stride.is_some() {
            return Err(PyValueError::new_err(
                "context and stride apply to text=FILE only",
            ));
        }
        let spec = model.net.spec();
        let data = match path_of(x)? {
            Some(path) => {
                if y.is_some() {
                    return Err(PyValueError::new_err(format!(
                        "y: X is the file {}, whose targets are its own (target= names CSV columns)",
                        path.display()
                    )));
                }
                load_file(&path, o, model, loss, Classes::Infer)?
            }
            None => {
                if o.target.is_some() {
                    return Err(PyValueError::new_err(
                        "target names the columns of a data file; X is an array",
                    ));
                }
                let Some(y) = y else {
                    return Err(PyTypeError::new_err(
                        "fit() needs y (the targets) with an array X",
                    ));
                };
                let mut d = arrays(x, y, model, loss, "X")?;
                d.labels = model.labels.clone();
                d
            }
        };
        check_training_data(spec, loss, &data).map_err(|e| train_error(e, "X"))?;
        let labels = data.labels.clone().or_else(|| model.labels.clone());
        let (train, val) = match (&o.validation_data, o.val_split) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "validation_data and val_split: give one of them, not both",
                ))
            }
            (Some(v), None) => {
                let known = match (&labels, loss) {
                    (Some(l), _) => Classes::Known(l.clone()),
                    (None, Loss::CrossEntropy) => Classes::Infer,
                    _ => Classes::No,
                };
                let v = validation(v, o, model, loss, known)?;
                check_fits(spec, loss, &v).map_err(|e| train_error(e, "validation_data"))?;
                (data.clone(), Some(v))
            }
            (None, Some(f)) => {
                let (t, v) = train_val_split(&data, f, seed).map_err(|e| train_error(e, "X"))?;
                (t, Some(v))
            }
            (None, None) => (data.clone(), None),
        };
        let class_weights = match &o.class_weights {
            Some(asked) => {
                let classes = data.class_count().map_err(|e| train_error(e, "X"))?;
                Some(
                    asked
                        .resolve(loss, &train, classes)
                        .map_err(|e| train_error(e, "X"))?,
                )
            }
            None => None,
        };
        // New statistics when asked; else the model's own, if it has them,
        // so that what it learns still means what `predict` gives it.
        let normalize = if o.normalize {
            Some(Normalizer::fit(train.x()).map_err(|e| train_error(e, "X"))?)
        } else {
            model.normalize.clone()
        };
        let scaled = |d: &Dataset| -> PyResult<Dataset> {
            match &normalize {
                Some(n) => n
                    .apply(d.x())
                    .and_then(|x| d.with_x(x))
                    .map_err(|e| train_error(e, "X")),
                None => Ok(d.clone()),
            }
        };
        let (train, val) = (scaled(&train)?, val.as_ref().map(scaled).transpose()?);
        Ok(Self {
            examples: Examples::Table { train, val },
            normalize,
            class_weights,
            labels,
        })
    }

    /// `text=FILE, context=T[, stride=S]`.
    fn text(path: &Path, o: &FitOptions<'_>) -> PyResult<Self> {
        let Some(context) = o.context else {
            return Err(PyValueError::new_err(
                "text needs context=T (the characters of one window)",
            ));
        };
        let text = Arc::new(Text::load(path).map_err(|e| train_error(e, "text"))?);
        let (train, val) = Text::split(&text, context, o.stride.unwrap_or(context), o.val_split)
            .map_err(|e| train_error(e, &format!("text {}", path.display())))?;
        Ok(Self {
            examples: Examples::Text { train, val },
            normalize: None,
            class_weights: None,
            labels: None,
        })
    }
}

/// `obj` as a path, when it is one (`str` or `os.PathLike`).
pub fn path_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    let os = obj.py().import("os")?;
    if obj.is_instance(&os.getattr("PathLike")?)? || obj.is_instance_of::<pyo3::types::PyString>() {
        return Ok(Some(obj.extract::<PathBuf>()?));
    }
    Ok(None)
}

/// A data file, read as `synapse train --data` reads it.
fn load_file(
    path: &Path,
    o: &FitOptions<'_>,
    model: &Model,
    loss: Loss,
    classes: Classes,
) -> PyResult<Dataset> {
    if o.target.is_some() && synapse_train::is_npz(path) {
        return Err(PyValueError::new_err(format!(
            "target: {} is an npz file, whose targets are its array `y`; target names CSV columns",
            path.display()
        )));
    }
    let options = LoadOptions {
        targets: match &o.target {
            Some(cols) => Targets::Named(cols.clone()),
            None => Targets::Last,
        },
        classes: if loss.is_classification() {
            classes
        } else {
            Classes::No
        },
        dtype: model.net.dtype(),
        ids: matches!(
            model.net.spec().elements().first(),
            Some(ElementSpec::Embedding(_))
        ),
    };
    load(path, &options).map_err(|e| train_error(e, "X"))
}

/// `X` and `y` arrays as a dataset (`name` is `X` or `validation_data`).
pub fn arrays(
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    model: &Model,
    loss: Loss,
    name: &str,
) -> PyResult<Dataset> {
    let dtype = model.net.dtype();
    let kind = if model.net.takes_ids() {
        Kind::Ids
    } else {
        Kind::Floats(dtype)
    };
    let xs = read(x, name, kind)?.tensor;
    let ys = read(y, "y", Kind::Floats(dtype))?.tensor;
    dataset_from_arrays(xs, Some(ys), loss.is_classification(), dtype)
        .map_err(|e| train_error(e, name))
}

/// `validation_data`: a data file, or a tuple `(X_val, y_val)`.
fn validation(
    v: &Bound<'_, PyAny>,
    o: &FitOptions<'_>,
    model: &Model,
    loss: Loss,
    known: Classes,
) -> PyResult<Dataset> {
    if let Some(path) = path_of(v)? {
        return load_file(&path, o, model, loss, known)
            .map_err(|e| prefix(e, "validation_data", v.py()));
    }
    let pair = v
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 2)
        .ok_or_else(|| {
            PyTypeError::new_err("validation_data: expected a tuple (X_val, y_val) or a data file")
        })?;
    let mut d = arrays(
        &pair.get_item(0)?,
        &pair.get_item(1)?,
        model,
        loss,
        "validation_data",
    )?;
    if let Classes::Known(l) = known {
        d.labels = Some(l);
    }
    Ok(d)
}

/// `e` with `name: ` in front of its message (same type).
fn prefix(e: PyErr, name: &str, py: Python<'_>) -> PyErr {
    let text = format!("{name}: {}", e.value(py));
    match e.get_type(py).call1((text,)) {
        Ok(new) => PyErr::from_value(new),
        Err(_) => e,
    }
}
