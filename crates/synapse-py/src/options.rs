//! `fit`'s keyword arguments: the command line's training flags, spelt as
//! Python keywords (`--batch-size` is `batch_size`, `--no-shuffle` is
//! `shuffle=False`), turned into the library's settings. The values' rules
//! are the library's (`SgdConfig::check`, `BatchSize`, `Schedule`,
//! `ClassWeights`, `Trainer::new`); this file only reads the keywords.

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use synapse_nn::{AdamConfig, Loss, SgdConfig};
use synapse_train::{BatchSize, ClassWeights, EarlyStopping, Schedule};

use crate::errors::{nn_error, train_error};

/// Every keyword `fit` takes, in the order of `synapse train --help`.
pub const KEYWORDS: &[&str] = &[
    "loss",
    "target",
    "text",
    "context",
    "stride",
    "optimizer",
    "lr",
    "momentum",
    "nesterov",
    "weight_decay",
    "beta1",
    "beta2",
    "eps",
    "epochs",
    "batch_size",
    "shuffle",
    "seed",
    "normalize",
    "validation_data",
    "val_split",
    "early_stop",
    "checkpoint",
    "resume",
    "lr_schedule",
    "clip_grad_norm",
    "class_weights",
    "save_best",
    "allow_large",
    "verbose",
    "warm_start",
];

/// The optimizer and its hyperparameters, checked.
#[derive(Debug, Clone, Copy)]
pub enum OptimizerChoice {
    Sgd(SgdConfig),
    Adam(AdamConfig),
}

/// `fit`'s settings, read from its keywords.
pub struct FitOptions<'py> {
    pub loss: Option<Loss>,
    pub target: Option<Vec<String>>,
    pub text: Option<PathBuf>,
    pub context: Option<usize>,
    pub stride: Option<usize>,
    pub optimizer: OptimizerChoice,
    pub epochs: usize,
    pub batch_size: BatchSize,
    pub shuffle: bool,
    pub seed: Option<u32>,
    pub normalize: bool,
    pub validation_data: Option<Bound<'py, PyAny>>,
    pub val_split: Option<f64>,
    pub early_stopping: Option<EarlyStopping>,
    pub checkpoint: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub schedule: Schedule,
    pub clip_norm: Option<f64>,
    pub class_weights: Option<ClassWeights>,
    pub allow_large: bool,
    pub verbose: bool,
    /// Python only: start from the optimizer's state at the end of the
    /// previous `fit` (its moments and step count), as `partial_fit` does.
    pub warm_start: bool,
}

/// The keyword arguments, looked up by name; each taken once.
struct Keywords<'a, 'py>(Option<&'a Bound<'py, PyDict>>);

impl<'py> Keywords<'_, 'py> {
    fn get(&self, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.0 {
            Some(d) => Ok(d.get_item(name)?.filter(|v| !v.is_none())),
            None => Ok(None),
        }
    }

    fn value<T: FromPyObjectOwned<'py>>(&self, name: &str) -> PyResult<Option<T>> {
        self.get(name)?
            .map(|v| {
                v.extract::<T>().map_err(|e| {
                    let e: PyErr = e.into();
                    PyTypeError::new_err(format!("{name}: {e}"))
                })
            })
            .transpose()
    }

    /// A count (epochs, context, stride) for the library to check: a
    /// negative one is given as 0, which the library refuses with its
    /// message (`epochs must be at least 1`).
    fn count(&self, name: &str) -> PyResult<Option<usize>> {
        Ok(self
            .value::<i64>(name)?
            .map(|n| usize::try_from(n).unwrap_or(0)))
    }
}

/// `early_stop`'s patience: the command line's rule for `--early-stop`
/// (the library would take 0: stop at the first epoch without improvement).
fn patience(n: i64) -> PyResult<usize> {
    usize::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
        PyValueError::new_err(format!(
            "early_stop {n}: expected a whole number of at least 1"
        ))
    })
}

/// A string, or each string of a list, as column names.
fn names(v: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<String>> {
    if v.is_instance_of::<PyString>() {
        return Ok(v
            .extract::<String>()?
            .split(',')
            .map(|c| c.trim().to_string())
            .collect());
    }
    v.extract::<Vec<String>>().map_err(|_| {
        PyTypeError::new_err(format!("{name}: expected a column name or a list of them"))
    })
}

impl<'py> FitOptions<'py> {
    /// Reads `kwargs`; an unknown keyword is a `TypeError`, as Python's own.
    pub fn read(kwargs: Option<&Bound<'py, PyDict>>) -> PyResult<Self> {
        if let Some(d) = kwargs {
            for key in d.keys() {
                let key: String = key.extract()?;
                if !KEYWORDS.contains(&key.as_str()) {
                    return Err(PyTypeError::new_err(format!(
                        "fit() got an unexpected keyword argument '{key}'"
                    )));
                }
            }
        }
        let k = Keywords(kwargs);
        let loss = k
            .value::<String>("loss")?
            .map(|l| l.parse::<Loss>().map_err(nn_error))
            .transpose()?;
        let epochs = k.count("epochs")?.unwrap_or(10);
        let batch_size = match k.get("batch_size")? {
            None => BatchSize::default(),
            Some(v) => v
                .str()?
                .extract::<String>()?
                .parse::<BatchSize>()
                .map_err(|e| train_error(e, "X"))?,
        };
        let early_stop = k.value::<i64>("early_stop")?.map(patience).transpose()?;
        let save_best = k.value::<bool>("save_best")?.unwrap_or(false);
        let early_stopping = EarlyStopping::from_options(early_stop, save_best);
        let validation_data = k.get("validation_data")?;
        let val_split = k.value::<f64>("val_split")?;
        if save_best && validation_data.is_none() && val_split.is_none() {
            return Err(PyValueError::new_err(
                "save_best needs validation rows: give validation_data or val_split",
            ));
        }
        let schedule = k
            .value::<String>("lr_schedule")?
            .unwrap_or_else(|| "constant".into())
            .parse::<Schedule>()
            .map_err(|e| train_error(e, "X"))?;
        let class_weights = match k.get("class_weights")? {
            None => None,
            Some(v) => Some(match v.extract::<String>() {
                Ok(text) => text
                    .parse::<ClassWeights>()
                    .map_err(|e| train_error(e, "X"))?,
                Err(_) => ClassWeights::Given(v.extract::<Vec<f64>>().map_err(|_| {
                    PyTypeError::new_err("class_weights: expected 'auto' or a list of numbers")
                })?),
            }),
        };
        let context = k.count("context")?;
        let stride = k.count("stride")?;
        let verbose = match k.get("verbose")? {
            None => false,
            Some(v) => v.is_truthy()?,
        };
        Ok(Self {
            loss,
            target: k.get("target")?.map(|v| names(&v, "target")).transpose()?,
            text: k.value::<PathBuf>("text")?,
            context,
            stride,
            optimizer: optimizer(&k)?,
            epochs,
            batch_size,
            shuffle: k.value::<bool>("shuffle")?.unwrap_or(true),
            seed: k.value::<u32>("seed")?,
            normalize: k.value::<bool>("normalize")?.unwrap_or(false),
            validation_data,
            val_split,
            early_stopping,
            checkpoint: k.value::<PathBuf>("checkpoint")?,
            resume: k.value::<PathBuf>("resume")?,
            schedule,
            clip_norm: k.value::<f64>("clip_grad_norm")?,
            class_weights,
            allow_large: k.value::<bool>("allow_large")?.unwrap_or(false),
            verbose,
            warm_start: k.value::<bool>("warm_start")?.unwrap_or(false),
        })
    }
}

/// `optimizer` and its hyperparameters: PyTorch's defaults (SPEC section
/// 5), each checked by the optimizer's own `check`. A hyperparameter of
/// another optimizer is refused rather than ignored.
fn optimizer(k: &Keywords<'_, '_>) -> PyResult<OptimizerChoice> {
    let kind = k
        .value::<String>("optimizer")?
        .unwrap_or_else(|| "sgd".into());
    let given = |names: &[&'static str]| -> PyResult<Option<&'static str>> {
        for n in names {
            if k.get(n)?.is_some() {
                return Ok(Some(n));
            }
        }
        Ok(None)
    };
    let lr = k.value::<f64>("lr")?;
    let weight_decay = k.value::<f64>("weight_decay")?;
    match kind.as_str() {
        "sgd" => {
            if let Some(n) = given(&["beta1", "beta2", "eps"])? {
                return Err(PyValueError::new_err(format!(
                    "{n} applies to optimizer 'adam' and 'adamw' only, not 'sgd'"
                )));
            }
            let c = SgdConfig {
                lr: lr.unwrap_or(0.01),
                momentum: k.value::<f64>("momentum")?.unwrap_or(0.0),
                nesterov: k.value::<bool>("nesterov")?.unwrap_or(false),
                weight_decay: weight_decay.unwrap_or(0.0),
            };
            c.check().map_err(nn_error)?;
            Ok(OptimizerChoice::Sgd(c))
        }
        "adam" | "adamw" => {
            if let Some(n) = given(&["momentum"])? {
                return Err(PyValueError::new_err(format!(
                    "{n} applies to optimizer 'sgd' only, not '{kind}'"
                )));
            }
            if k.value::<bool>("nesterov")?.unwrap_or(false) {
                return Err(PyValueError::new_err(format!(
                    "nesterov applies to optimizer 'sgd' only, not '{kind}'"
                )));
            }
            let base = if kind == "adamw" {
                AdamConfig::adamw()
            } else {
                AdamConfig::default()
            };
            let c = AdamConfig {
                lr: lr.unwrap_or(base.lr),
                beta1: k.value::<f64>("beta1")?.unwrap_or(base.beta1),
                beta2: k.value::<f64>("beta2")?.unwrap_or(base.beta2),
                eps: k.value::<f64>("eps")?.unwrap_or(base.eps),
                weight_decay: weight_decay.unwrap_or(base.weight_decay),
                decoupled: base.decoupled,
            };
            c.check().map_err(nn_error)?;
            Ok(OptimizerChoice::Adam(c))
        }
        other => Err(PyValueError::new_err(format!(
            "optimizer `{other}`: expected sgd, adam or adamw"
        ))),
    }
}
