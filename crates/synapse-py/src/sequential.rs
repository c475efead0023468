//! `synapse_nn.Sequential`: a stack and what its model file keeps (loss,
//! labels, normalisation), with `fit`, `predict`, `evaluate`, `save`,
//! `load`, `state_dict`, `load_state_dict` and `summary`. Each method does
//! what the matching `synapse` command does, through the same library
//! calls; see SPEC section 11.

use std::path::PathBuf;

use candle_core::{DType, Device};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use synapse_nn::{ArchSpec, Init, Loss, Sequential};
use synapse_train::job::{load_start, Prior, TrainData, TrainJob};
use synapse_train::{
    check_fits, check_labels, check_parameters, dataset_from_arrays, load, probabilities, Classes,
    LoadOptions, Metrics, Model, NotAClassifier,
};

use crate::arrays::{read, to_numpy, Kind};
use crate::data::{kind_of, path_of};
use crate::errors::{nn_error, train_error};
use crate::options::FitOptions;
use crate::run::fit;

/// A stack of layers and what its model file keeps.
#[pyclass(module = "synapse_nn", name = "Sequential")]
pub struct PySequential {
    pub model: Model,
    /// The seed of the initialisation, and `fit`'s default seed.
    seed: u32,
    /// The optimizer's state after the last `fit`, for `warm_start`.
    optimizer_state: Option<synapse_nn::OptimizerState>,
}

/// `"float32"`, `"f32"`, `numpy.float32`, `numpy.dtype("float32")`...
fn dtype_of(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    let name: String = match obj.extract::<String>() {
        Ok(s) => s,
        Err(_) => {
            let np = obj.py().import("numpy")?;
            np.getattr("dtype")?
                .call1((obj,))?
                .getattr("name")?
                .extract()?
        }
    };
    match name.as_str() {
        "float32" | "f32" => Ok(DType::F32),
        "float64" | "f64" => Ok(DType::F64),
        other => Err(PyValueError::new_err(format!(
            "dtype `{other}`: expected float32 or float64"
        ))),
    }
}

fn device_of(name: &str) -> PyResult<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if cfg!(feature = "cuda") => Device::new_cuda(0).map_err(|e| {
            PyValueError::new_err(format!("device 'cuda': no usable CUDA device ({e})"))
        }),
        "cuda" => Err(PyValueError::new_err(
            "device 'cuda': this synapse_nn was built without CUDA; build it with `maturin build --release --features cuda`",
        )),
        other => Err(PyValueError::new_err(format!(
            "device `{other}`: expected cpu or cuda"
        ))),
    }
}

fn parse_spec(text: &str) -> PyResult<ArchSpec> {
    text.parse::<ArchSpec>()
        .map_err(|e| PyValueError::new_err(format!("spec: {e}")))
}

/// A numpy name for a dtype.
fn dtype_name(dtype: DType) -> &'static str {
    if dtype == DType::F64 {
        "float64"
    } else {
        "float32"
    }
}

impl PySequential {
    pub fn from_model(model: Model) -> Self {
        Self {
            model,
            seed: 1,
            optimizer_state: None,
        }
    }

    /// `X` as the stack's input tensor (normalised when the model says so).
    fn input(&self, x: &Bound<'_, PyAny>) -> PyResult<candle_core::Tensor> {
        let net = &self.model.net;
        if let Some(path) = path_of(x)? {
            let options = LoadOptions {
                targets: synapse_train::Targets::None,
                classes: Classes::No,
                dtype: net.dtype(),
                ids: net.takes_ids(),
            };
            let data = load(&path, &options).map_err(|e| train_error(e, "X"))?;
            return self.prepared(data.x().clone());
        }
        let kind = if net.takes_ids() {
            Kind::Ids
        } else {
            Kind::Floats(net.dtype())
        };
        let data = dataset_from_arrays(read(x, "X", kind)?.tensor, None, false, net.dtype())
            .map_err(|e| train_error(e, "X"))?;
        self.prepared(data.x().clone())
    }

    /// Checks `x` against the stack and applies the normalisation.
    fn prepared(&self, x: candle_core::Tensor) -> PyResult<candle_core::Tensor> {
        let spec = self.model.net.spec();
        spec.check_input(&x.dims()[1..]).map_err(|e| {
            PyValueError::new_err(format!(
                "X: its rows ({}) do not fit the model: {e}",
                if x.rank() == 2 {
                    format!("{} input columns", x.dims()[1])
                } else {
                    format!("shape {:?}", &x.dims()[1..])
                }
            ))
        })?;
        match &self.model.normalize {
            Some(n) => n.apply(&x).map_err(|e| train_error(e, "X")),
            None => Ok(x),
        }
    }

    /// The stack's outputs for `X`, computed without the GIL.
    fn outputs(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<candle_core::Tensor> {
        let x = self.input(x)?;
        let net = &self.model.net;
        py.detach(|| synapse_train::predict(net, &x))
            .map_err(|e| train_error(e, "X"))
    }

    fn loss_or(&self, given: Option<&str>, why: &str) -> PyResult<Loss> {
        match (given, self.model.loss) {
            (Some(l), _) => l.parse::<Loss>().map_err(nn_error),
            (None, Some(l)) => Ok(l),
            (None, None) => Err(PyValueError::new_err(format!(
                "{why}: the model has no loss yet; give loss="
            ))),
        }
    }
}

#[pymethods]
impl PySequential {
    #[new]
    #[pyo3(signature = (spec, *, init="torch", seed=None, dtype=None, device="cpu", allow_large=false))]
    fn new(
        spec: &Bound<'_, PyAny>,
        init: &str,
        seed: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: &str,
        allow_large: bool,
    ) -> PyResult<Self> {
        let spec: String = spec.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "spec: expected a spec string such as 'linear(3,1), sigmoid', got {}",
                spec.get_type().name().map_or("?".into(), |n| n.to_string())
            ))
        })?;
        let spec = parse_spec(&spec)?;
        let seed = crate::errors::seed(seed)?.unwrap_or(1);
        check_parameters(&spec, allow_large).map_err(|e| train_error(e, "spec"))?;
        let dtype = dtype.map(dtype_of).transpose()?.unwrap_or(DType::F32);
        let dev = device_of(device)?;
        let lower = init.to_ascii_lowercase();
        // A file: its weights, and what its model file keeps (as `--init`).
        let (net, prior) = if lower.ends_with(".npz") || lower.ends_with(".safetensors") {
            load_start(&PathBuf::from(init), &spec, dtype, &dev)
                .map_err(|e| train_error(e, "init"))?
        } else {
            let scheme = init.parse::<Init>().map_err(nn_error)?;
            let net = Sequential::init(&spec, scheme, seed, dtype, &dev).map_err(nn_error)?;
            (net, Prior::default())
        };
        let mut model = Model::new(net);
        model.labels = prior.labels;
        model.normalize = prior.normalize;
        Ok(Self {
            model,
            seed,
            optimizer_state: None,
        })
    }

    /// The canonical spec.
    #[getter]
    fn spec(&self) -> String {
        self.model.net.spec().to_string()
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        dtype_name(self.model.net.dtype())
    }

    /// The loss it was trained with, if known.
    #[getter]
    fn loss(&self) -> Option<String> {
        self.model.loss.map(|l| l.to_string())
    }

    /// The class words, when it was trained on words.
    #[getter]
    fn labels(&self) -> Option<Vec<String>> {
        self.model.labels.clone()
    }

    /// The input columns' mean and standard deviation, when it normalises.
    #[getter]
    fn normalize<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(n) = &self.model.normalize else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("mean", n.mean.clone())?;
        d.set_item("std", n.std.clone())?;
        Ok(Some(d))
    }

    /// Trains in place (the stack as it is: drawn, loaded or trained
    /// before) and returns this call's history as a dict of lists: `loss`,
    /// `lr`, `val_loss` and the other validation figures, `seconds`.
    ///
    /// `X`, `y`: numpy arrays (int64 ids for a stack that starts with
    /// `embedding`), or `X` a CSV/npz file (`target=` names its columns).
    /// Keywords, as `synapse train`'s flags: `loss`, `optimizer` (sgd, adam,
    /// adamw), `lr`, `momentum`, `nesterov`, `weight_decay`, `beta1`,
    /// `beta2`, `eps`, `epochs` (10), `batch_size` (32 or "full"), `shuffle`,
    /// `seed` (the constructor's), `normalize`, `validation_data` ((X, y) or
    /// a file), `val_split`, `early_stop`, `save_best`, `lr_schedule`,
    /// `clip_grad_norm`, `class_weights` ("auto" or a list), `checkpoint`,
    /// `resume`, `text`/`context`/`stride`/`tokenizer`, `allow_large`, `verbose`; and
    /// `warm_start`: continue the previous `fit`'s optimizer state.
    #[pyo3(signature = (x=None, y=None, **kwargs))]
    fn fit<'py>(
        &mut self,
        py: Python<'py>,
        x: Option<&Bound<'py, PyAny>>,
        y: Option<&Bound<'py, PyAny>>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut o = FitOptions::read(kwargs, self.seed)?;
        crate::data::inputs(x, y, &mut o, &self.model)?;
        let job =
            TrainJob::check(o.job.clone(), self.model.loss).map_err(|e| train_error(e, "X"))?;
        let prior = Prior {
            labels: self.model.labels.clone(),
            normalize: self.model.normalize.clone(),
        };
        let net = &self.model.net;
        let data = TrainData::assemble(&job, net.spec(), net.dtype(), &prior)
            .map_err(|e| train_error(e, "X"))?;
        let rows = data.train();
        synapse_train::check_activations(
            net.spec(),
            &rows.row_shape(),
            job.batch_size.rows(rows.len()).min(rows.len()),
            net.dtype(),
            job.options.allow_large,
        )
        .map_err(|e| train_error(e, "X"))?;
        let state = if o.warm_start {
            self.optimizer_state.clone()
        } else {
            None
        };
        // Everything the Trainer checks before its first step, before any
        // file is touched.
        job.trainer(net.clone(), &data, true, state.as_ref())
            .and_then(|t| t.check_ready(data.train(), data.val()))
            .map_err(|e| train_error(e, "X"))?;
        let fitted = fit(py, &self.model, &data, &job, state.as_ref(), o.verbose)?;
        let history = fitted.history;
        // Kept only for a caller that continues with it (memory: Adam's
        // moments are twice the parameters).
        self.optimizer_state = o.warm_start.then_some(fitted.optimizer_state);
        job.finish_model(&mut self.model, &data, &history);
        history_dict(py, &history)
    }

    /// The outputs for `X` (rows in, rows out); with `proba`, class
    /// probabilities; with `label`, the predicted classes (words when the
    /// model has labels).
    #[pyo3(signature = (x, *, proba=false, label=false))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        proba: bool,
        label: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        if proba && label {
            return Err(PyValueError::new_err("proba and label: give one of them"));
        }
        let out = self.outputs(py, x)?;
        if proba {
            let p =
                match probabilities(self.model.loss, &out).map_err(|e| train_error(e, "X"))? {
                    Ok(p) => p,
                    Err(NotAClassifier::Trained(other)) => {
                        return Err(PyValueError::new_err(format!(
                            "proba needs a classifier; the model was trained with {other}"
                        )))
                    }
                    Err(NotAClassifier::NoLoss) => return Err(PyValueError::new_err(
                        "proba: the model has no loss; train it, or load a file that says its loss",
                    )),
                };
            return to_numpy(py, &p);
        }
        if label {
            if check_labels(self.model.loss).is_err() {
                return Err(PyValueError::new_err(
                    "label needs a classifier (a model trained with cross-entropy, bce or bce-logits)",
                ));
            }
            // A class per position ([batch, T, C] outputs): rows of classes.
            let rows: Vec<Vec<usize>> = if out.rank() > 2 {
                synapse_train::classes_per_position(&out).map_err(|e| train_error(e, "X"))?
            } else {
                synapse_train::predict_classes(&self.model.net, self.model.loss, &out)
                    .map_err(|e| train_error(e, "X"))?
                    .into_iter()
                    .map(|c| vec![c])
                    .collect()
            };
            let np = py.import("numpy")?;
            let array = match &self.model.labels {
                Some(words) => {
                    let named: Vec<Vec<&str>> = rows
                        .iter()
                        .map(|r| {
                            r.iter()
                                .map(|&c| words.get(c).map_or("", String::as_str))
                                .collect()
                        })
                        .collect();
                    np.getattr("array")?.call1((named,))?
                }
                None => {
                    let ids: Vec<Vec<i64>> = rows
                        .iter()
                        .map(|r| r.iter().map(|&c| c as i64).collect())
                        .collect();
                    np.getattr("array")?.call1((ids, "int64"))?
                }
            };
            // One class per row: a vector, as scikit-learn's predict.
            return if out.rank() > 2 {
                Ok(array)
            } else {
                array.call_method1("reshape", (-1,))
            };
        }
        to_numpy(py, &out)
    }

    /// Text from a character model (`synapse generate`): the prompt and
    /// `length` characters, decoded over the KV cache; the same characters
    /// as the CLI for the same model and settings.
    #[pyo3(signature = (prompt="", *, length=200, temperature=1.0, top_k=None, top_p=None, seed=1))]
    fn generate(
        &self,
        prompt: &str,
        length: usize,
        temperature: f64,
        top_k: Option<usize>,
        top_p: Option<f64>,
        seed: u32,
    ) -> PyResult<String> {
        let s = synapse_train::Sampling {
            length,
            temperature,
            top_k,
            top_p,
            seed,
            kv_cache: true,
        };
        synapse_train::generate(&self.model, prompt, &s).map_err(|e| match e {
            synapse_train::Error::Config { name, reason } => {
                PyValueError::new_err(format!("{name}: {reason}"))
            }
            other => train_error(other, "prompt"),
        })
    }

    /// The loss and metrics on labelled rows (`synapse eval`): a dict.
    #[pyo3(signature = (x, y=None, *, loss=None, target=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: Option<&Bound<'py, PyAny>>,
        loss: Option<&str>,
        target: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let loss = self.loss_or(loss, "evaluate")?;
        let classes = match (&self.model.labels, loss) {
            (Some(l), Loss::CrossEntropy) => Classes::Known(l.clone()),
            (None, Loss::CrossEntropy) => Classes::Infer,
            _ => Classes::No,
        };
        let net = &self.model.net;
        let data = match (path_of(x)?, y) {
            (Some(path), None) => {
                let options = LoadOptions {
                    targets: match target {
                        Some(cols) => synapse_train::Targets::Named(cols),
                        None => synapse_train::Targets::Last,
                    },
                    classes,
                    dtype: net.dtype(),
                    ids: net.takes_ids(),
                };
                load(&path, &options).map_err(|e| train_error(e, "X"))?
            }
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "y: X is a data file, whose targets are its own",
                ))
            }
            (None, Some(y)) => {
                let xs = read(x, "X", kind_of(&self.model))?.tensor;
                let ys = read(y, "y", Kind::Floats(net.dtype()))?.tensor;
                dataset_from_arrays(xs, Some(ys), loss.is_classification(), net.dtype())
                    .map_err(|e| train_error(e, "X"))?
            }
            (None, None) => return Err(PyTypeError::new_err("evaluate() needs y with an array X")),
        };
        check_fits(net.spec(), loss, &data).map_err(|e| train_error(e, "X"))?;
        let xs = match &self.model.normalize {
            Some(n) => n.apply(data.x()).map_err(|e| train_error(e, "X"))?,
            None => data.x().clone(),
        };
        let metrics: Metrics = py
            .detach(|| {
                let out = synapse_train::predict(net, &xs)?;
                let y = data.y().to_dtype(out.dtype())?;
                Metrics::compute(loss, &out, &y)
            })
            .map_err(|e| train_error(e, "X"))?;
        let d = PyDict::new(py);
        for (name, value) in metrics.figures() {
            d.set_item(name, value)?;
        }
        Ok(d)
    }

    /// Writes the model file (safetensors with synapse's metadata), atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.model.save(&path).map_err(|e| train_error(e, "path"))
    }

    /// The model file's bytes (what `save` writes; what pickling keeps).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.model.to_bytes().map_err(|e| train_error(e, "model"))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A model from a model file's bytes (`arch` for a file without metadata).
    #[staticmethod]
    #[pyo3(signature = (data, *, arch=None))]
    fn from_bytes(data: &[u8], arch: Option<&str>) -> PyResult<Self> {
        let arch = arch.map(parse_spec).transpose()?;
        let model = Model::from_bytes(
            std::path::Path::new("<bytes>"),
            data,
            arch.as_ref(),
            &Device::Cpu,
        )
        .map_err(|e| train_error(e, "data"))?;
        Ok(Self::from_model(model))
    }

    /// Reads a model file (`arch` for a file without metadata, as PyTorch's).
    #[staticmethod]
    #[pyo3(signature = (path, *, arch=None, device="cpu"))]
    fn load(path: PathBuf, arch: Option<&str>, device: &str) -> PyResult<Self> {
        let arch = arch.map(parse_spec).transpose()?;
        let model = Model::load(&path, arch.as_ref(), &device_of(device)?)
            .map_err(|e| train_error(e, "path"))?;
        Ok(Self::from_model(model))
    }

    /// Parameters and buffers as numpy arrays, by PyTorch's state_dict names.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        crate::state::state_dict(py, &self.model.net)
    }

    /// Sets parameters and buffers from arrays (or CPU torch tensors) named as
    /// `state_dict` names them; `strict=False` keeps what is missing and
    /// ignores names the stack does not have.
    #[pyo3(signature = (state_dict, strict=true))]
    fn load_state_dict(&mut self, state_dict: &Bound<'_, PyAny>, strict: bool) -> PyResult<()> {
        let net = crate::state::load_state_dict(&self.model.net, state_dict, strict)?;
        self.model.net = net;
        Ok(())
    }

    /// The table `synapse summary` prints.
    fn summary(&self) -> String {
        synapse_train::summary::render_model(&self.model)
    }

    fn __repr__(&self) -> String {
        format!(
            "Sequential('{}', dtype='{}')",
            self.model.net.spec(),
            dtype_name(self.model.net.dtype())
        )
    }

    /// Pickling: the model file's bytes.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let from_bytes = py.import("synapse_nn")?.getattr("_from_bytes")?;
        Ok((from_bytes, (slf.borrow().to_bytes(py)?,)))
    }
}

/// The history as a dict of lists: `loss`, `lr`, `val_loss` and the other
/// validation figures (`val_accuracy`...), `seconds`.
fn history_dict<'py>(
    py: Python<'py>,
    history: &synapse_train::History,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("loss", history.losses())?;
    d.set_item(
        "lr",
        history.epochs.iter().map(|e| e.lr).collect::<Vec<_>>(),
    )?;
    let names: Vec<&str> = history
        .epochs
        .iter()
        .find_map(|e| e.val.map(|v| v.figures()))
        .map(|f| f.into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default();
    for name in names {
        let values: Vec<f64> = history
            .epochs
            .iter()
            .filter_map(|e| {
                e.val
                    .and_then(|v| v.figures().into_iter().find(|(n, _)| *n == name))
            })
            .map(|(_, v)| v)
            .collect();
        d.set_item(format!("val_{name}"), values)?;
    }
    d.set_item(
        "seconds",
        history.epochs.iter().map(|e| e.seconds).collect::<Vec<_>>(),
    )?;
    Ok(d)
}
