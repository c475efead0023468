//! `fit`'s keyword arguments as the library's training job
//! (`synapse_train::job`): each keyword mapped onto `JobOptions` here, in
//! one place, with no rule of its own (the rules and their messages are the
//! job's; `synapse train` maps its flags onto the same options). The
//! keywords are the job options' own names (`Opt::keyword`), plus two of
//! Python's: `verbose` and `warm_start`.

use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use synapse_train::job::{JobOptions, Opt};
use synapse_train::ClassWeights;

use crate::errors::train_error;

/// `fit`'s keywords that are not options of the job.
const PYTHON_ONLY: &[&str] = &["verbose", "warm_start"];

/// The job's options that `fit` takes by keyword (the data are `X`, `y`
/// and `validation_data`; the stack is the model's own).
fn is_keyword(o: Opt) -> bool {
    !matches!(o, Opt::Data | Opt::Arch)
}

/// Every keyword `fit` takes, in the order of `synapse train --help`.
pub fn keywords() -> Vec<&'static str> {
    Opt::ALL
        .iter()
        .filter(|o| is_keyword(**o))
        .map(|o| o.keyword())
        .chain(PYTHON_ONLY.iter().copied())
        .collect()
}

/// `fit`'s settings: the job's options (without the data, which
/// `data.rs` adds) and Python's own two.
pub struct FitOptions<'py> {
    pub job: JobOptions,
    /// `validation_data` as given: arrays or a file, read by `data.rs`.
    pub validation_data: Option<Bound<'py, PyAny>>,
    pub verbose: bool,
    /// Start from the optimizer's state at the end of the previous `fit`
    /// (its moments and step count), as `partial_fit` does.
    pub warm_start: bool,
}

/// The keyword arguments, looked up by name.
struct Keywords<'a, 'py>(Option<&'a Bound<'py, PyDict>>);

impl<'py> Keywords<'_, 'py> {
    fn get(&self, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.0 {
            Some(d) => Ok(d.get_item(name)?.filter(|v| !v.is_none())),
            None => Ok(None),
        }
    }

    /// The value of `o`'s keyword as a `T`.
    fn value<T: FromPyObjectOwned<'py>>(&self, o: Opt) -> PyResult<Option<T>> {
        self.named(o.keyword())
    }

    fn named<T: FromPyObjectOwned<'py>>(&self, name: &str) -> PyResult<Option<T>> {
        self.get(name)?
            .map(|v| {
                v.extract::<T>().map_err(|e| {
                    let e: PyErr = e.into();
                    PyTypeError::new_err(format!("{name}: {e}"))
                })
            })
            .transpose()
    }

    /// A count (epochs, context, stride, early_stop) for the job to check;
    /// beyond i64 it is as out of range as a negative one.
    fn count(&self, o: Opt) -> PyResult<Option<i64>> {
        let Some(v) = self.get(o.keyword())? else {
            return Ok(None);
        };
        match v.extract::<i64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) if v.extract::<u128>().is_ok() => Ok(Some(i64::MAX)),
            Err(_) if v.extract::<i128>().is_ok() => Ok(Some(-1)),
            Err(e) => Err(PyTypeError::new_err(format!("{}: {e}", o.keyword()))),
        }
    }

    /// A string, or a value written as one (`batch_size=16` is `"16"`).
    fn text(&self, o: Opt) -> PyResult<Option<String>> {
        self.get(o.keyword())?
            .map(|v| v.str()?.extract::<String>())
            .transpose()
    }
}

/// A string, or each string of a list, as column names.
fn names(v: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if v.is_instance_of::<PyString>() {
        return Ok(v
            .extract::<String>()?
            .split(',')
            .map(|c| c.trim().to_string())
            .collect());
    }
    v.extract::<Vec<String>>()
        .map_err(|_| PyTypeError::new_err("target: expected a column name or a list of them"))
}

/// `class_weights`: `"auto"`, `"1,2"`, or a list of numbers.
fn class_weights(v: &Bound<'_, PyAny>) -> PyResult<ClassWeights> {
    match v.extract::<String>() {
        Ok(text) => text
            .parse::<ClassWeights>()
            .map_err(|e| train_error(e, "X")),
        Err(_) => Ok(ClassWeights::Given(v.extract::<Vec<f64>>().map_err(
            |_| PyTypeError::new_err("class_weights: expected 'auto' or a list of numbers"),
        )?)),
    }
}

impl<'py> FitOptions<'py> {
    /// Reads `kwargs`; an unknown keyword is a `TypeError`, as Python's
    /// own. `seed` is the constructor's seed, used when none is given.
    pub fn read(kwargs: Option<&Bound<'py, PyDict>>, seed: u32) -> PyResult<Self> {
        let known = keywords();
        if let Some(d) = kwargs {
            for key in d.keys() {
                let key: String = key.extract()?;
                if !known.contains(&key.as_str()) {
                    return Err(PyTypeError::new_err(format!(
                        "fit() got an unexpected keyword argument '{key}'"
                    )));
                }
            }
        }
        let k = Keywords(kwargs);
        let given_seed = crate::errors::seed(k.get(Opt::Seed.keyword())?.as_ref())?;
        let job = JobOptions {
            data: None,
            text: k.value::<PathBuf>(Opt::Text)?,
            context: k.count(Opt::Context)?,
            stride: k.count(Opt::Stride)?,
            tokenizer: k.value::<PathBuf>(Opt::Tokenizer)?,
            loss: k.value::<String>(Opt::Loss)?,
            target: k
                .get(Opt::Target.keyword())?
                .map(|v| names(&v))
                .transpose()?,
            optimizer: k.value::<String>(Opt::Optimizer)?,
            lr: k.value::<f64>(Opt::Lr)?,
            momentum: k.value::<f64>(Opt::Momentum)?,
            nesterov: k.value::<bool>(Opt::Nesterov)?,
            weight_decay: k.value::<f64>(Opt::WeightDecay)?,
            beta1: k.value::<f64>(Opt::Beta1)?,
            beta2: k.value::<f64>(Opt::Beta2)?,
            eps: k.value::<f64>(Opt::Eps)?,
            epochs: k.count(Opt::Epochs)?,
            batch_size: k.text(Opt::BatchSize)?,
            shuffle: k.value::<bool>(Opt::Shuffle)?,
            seed: given_seed.unwrap_or(seed),
            normalize: k.value::<bool>(Opt::Normalize)?.unwrap_or(false),
            val: None,
            val_split: k.value::<f64>(Opt::ValSplit)?,
            early_stop: k.count(Opt::EarlyStop)?,
            save_best: k.value::<bool>(Opt::SaveBest)?.unwrap_or(false),
            checkpoint: k.value::<PathBuf>(Opt::Checkpoint)?,
            resume: k.value::<PathBuf>(Opt::Resume)?,
            lr_schedule: k.value::<String>(Opt::LrSchedule)?,
            clip_grad_norm: k.value::<f64>(Opt::ClipGradNorm)?,
            class_weights: k
                .get(Opt::ClassWeights.keyword())?
                .map(|v| class_weights(&v))
                .transpose()?,
            allow_large: k.value::<bool>(Opt::AllowLarge)?.unwrap_or(false),
        };
        let verbose = match k.get("verbose")? {
            None => false,
            Some(v) => v.is_truthy()?,
        };
        Ok(Self {
            job,
            validation_data: k.get(Opt::Val.keyword())?,
            verbose,
            warm_start: k.named::<bool>("warm_start")?.unwrap_or(false),
        })
    }
}
