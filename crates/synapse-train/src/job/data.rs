//! The rows a job trains and validates on, assembled once for both
//! interfaces: a data file or arrays (`data`, with `val` or `val_split`),
//! or a text's windows (`text`, `context`, `stride`, `val_split`, and
//! `tokenizer` for windows of tokens rather than characters); checked
//! against the stack and the loss; the class weights resolved on the
//! training rows; the normalisation fitted on them.
//!
//! Normalisation: new statistics when `normalize` is asked; else the
//! starting model's own, when it has them ([`Prior`]), so that what it
//! learns still means what `predict` gives it. They apply to float
//! features only: a stack that takes ids refuses `normalize`.
//!
//! Every error names its source ([`Error::About`]: the option and its file).

use std::path::Path;
use std::sync::Arc;

use candle_core::DType;
use synapse_nn::{ArchSpec, Loss};

use super::option::Opt;
use super::options::{refuse, Input, TrainJob, Windows};
use crate::{
    check_fits, check_training_data, dataset_from_arrays, load, train_val_split, Classes, Dataset,
    Error, LoadOptions, Normalizer, Result, Rows, Targets, Text, TextWindows, Tokenizer,
};

/// What the model being trained already holds (a model trained before, or
/// the model file of `--init`).
#[derive(Debug, Clone, Default)]
pub struct Prior {
    pub labels: Option<Vec<String>>,
    pub normalize: Option<Normalizer>,
}

/// A table of rows (data) or a text's windows.
pub enum Examples {
    Table {
        /// The whole data as read (its fingerprint identifies the run).
        data: Dataset,
        /// Training rows, normalised.
        train: Dataset,
        /// Validation rows (`val` or `val_split`), normalised like `train`.
        val: Option<Dataset>,
        /// Whether `val` came from the `val` option (not a split).
        val_given: bool,
    },
    Text {
        train: TextWindows,
        val: Option<TextWindows>,
    },
}

/// The rows to train and validate on, as the stack sees them, and what the
/// model file keeps of them.
pub struct TrainData {
    pub examples: Examples,
    pub normalize: Option<Normalizer>,
    pub class_weights: Option<Vec<f64>>,
    pub labels: Option<Vec<String>>,
}

/// `e` about `opt` (and its file).
fn about(opt: Opt, input: Option<&Input>) -> impl Fn(Error) -> Error + '_ {
    move |e| Error::About {
        opt,
        path: match input {
            Some(Input::File(p)) => Some(p.clone()),
            _ => None,
        },
        error: Box::new(e),
    }
}

impl TrainData {
    /// Reads and checks the job's rows for `spec` in `dtype`.
    pub fn assemble(job: &TrainJob, spec: &ArchSpec, dtype: DType, prior: &Prior) -> Result<Self> {
        let o = &job.options;
        match (&o.data, &o.text, job.windows) {
            (_, Some(path), Some(w)) => Self::text(job, path, w, spec),
            (Some(data), None, _) => Self::table(job, data, spec, dtype, prior),
            _ => refuse("give {data} or {text}"),
        }
    }

    /// Windows of a text, of characters or of the tokenizer's tokens (a
    /// tokenizer with more tokens than the stack's embedding has ids is
    /// refused before the text is read).
    fn text(job: &TrainJob, path: &Path, w: Windows, spec: &ArchSpec) -> Result<Self> {
        let input = Input::File(path.to_path_buf());
        let text = match &job.options.tokenizer {
            None => Text::load(path),
            Some(tok_path) => {
                let source = Input::File(tok_path.clone());
                let tok =
                    Tokenizer::load(tok_path).map_err(about(Opt::Tokenizer, Some(&source)))?;
                if let Some(v) = spec.ids().filter(|&v| v < tok.vocab_size()) {
                    return refuse(format!(
                        "{{tokenizer}} {}: {}",
                        tok_path.display(),
                        crate::text::too_many_tokens(tok.vocab_size(), v)
                    ));
                }
                Text::load_tokens(path, Arc::new(tok))
            }
        };
        let text = Arc::new(text.map_err(about(Opt::Text, Some(&input)))?);
        let (train, val) = Text::split(&text, w.context, w.stride, job.options.val_split)
            .map_err(about(Opt::Text, Some(&input)))?;
        Ok(Self {
            examples: Examples::Text { train, val },
            normalize: None,
            class_weights: None,
            labels: None,
        })
    }

    /// Rows of a data file or arrays (and the validation rows).
    fn table(
        job: &TrainJob,
        input: &Input,
        spec: &ArchSpec,
        dtype: DType,
        prior: &Prior,
    ) -> Result<Self> {
        let o = &job.options;
        let ids = spec.takes_ids();
        if o.normalize && ids {
            return refuse(format!(
                "{{normalize}} standardises float features; the stack `{spec}` takes integer ids (it starts with embedding)"
            ));
        }
        let classes = if job.loss.is_classification() {
            Classes::Infer
        } else {
            Classes::No
        };
        let options = LoadOptions {
            targets: match &o.target {
                Some(cols) => Targets::Named(cols.clone()),
                None => Targets::Last,
            },
            classes,
            dtype,
            ids,
        };
        let classify = job.loss.is_classification();
        let data = read(
            input,
            Opt::Data,
            &options,
            o.target.is_some(),
            prior,
            classify,
        )?;
        check_training_data(spec, job.loss, &data).map_err(about(Opt::Data, Some(input)))?;
        let labels = data.labels.clone().or_else(|| prior.labels.clone());
        let (train, val) = match (&o.val, o.val_split) {
            (Some(v), _) => {
                let known = match (&labels, job.loss) {
                    (Some(l), _) => Classes::Known(l.clone()),
                    (None, Loss::CrossEntropy) => Classes::Infer,
                    _ => Classes::No,
                };
                let options = LoadOptions {
                    classes: known,
                    ..options.clone()
                };
                let val = read(v, Opt::Val, &options, o.target.is_some(), prior, classify)?;
                // Named columns: two CSV files (an npz's are its shape's,
                // and a sequence's length T may differ).
                if let (Input::File(a), Input::File(b)) = (input, v) {
                    if !crate::is_npz(a) && !crate::is_npz(b) {
                        same_columns(&data, &val, a, b)?;
                    }
                }
                check_fits(spec, job.loss, &val).map_err(about(Opt::Val, Some(v)))?;
                (data.clone(), Some(val))
            }
            (None, Some(f)) => {
                let (t, v) = train_val_split(&data, f, o.seed)?;
                (t, Some(v))
            }
            (None, None) => (data.clone(), None),
        };
        let class_weights = match &o.class_weights {
            Some(asked) => {
                let classes = data.class_count()?;
                Some(asked.resolve(job.loss, &train, classes)?)
            }
            None => None,
        };
        let normalize = match o.normalize {
            true => Some(Normalizer::fit(train.x()).map_err(about(Opt::Data, Some(input)))?),
            false => prior.normalize.clone(),
        };
        let scaled = |d: &Dataset| -> Result<Dataset> {
            match &normalize {
                Some(n) => d.with_x(n.apply(d.x())?),
                None => Ok(d.clone()),
            }
        };
        let (train, val) = (scaled(&train)?, val.as_ref().map(scaled).transpose()?);
        Ok(Self {
            examples: Examples::Table {
                data,
                train,
                val,
                val_given: o.val.is_some(),
            },
            normalize,
            class_weights,
            labels,
        })
    }

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
}

/// A file read as the data are read, or arrays (with the prior labels;
/// `classify`: the targets are class indices).
fn read(
    input: &Input,
    opt: Opt,
    options: &LoadOptions,
    target_given: bool,
    prior: &Prior,
    classify: bool,
) -> Result<Dataset> {
    match input {
        Input::File(path) => {
            if target_given && crate::is_npz(path) {
                return refuse(format!(
                    "{{target}}: {} is an npz file, whose targets are its array `y`; {{target}} names CSV columns",
                    path.display()
                ));
            }
            load(path, options).map_err(about(opt, Some(input)))
        }
        Input::Arrays { x, y } => {
            if target_given {
                return refuse("{target} names the columns of a data file; the data are arrays");
            }
            let mut d = dataset_from_arrays(x.clone(), Some(y.clone()), classify, options.dtype)
                .map_err(about(opt, Some(input)))?;
            d.labels = match &options.classes {
                Classes::Known(l) => Some(l.clone()),
                _ => prior.labels.clone(),
            };
            Ok(d)
        }
    }
}

/// A validation file must have the data file's columns, by name and in order.
fn same_columns(data: &Dataset, val: &Dataset, data_path: &Path, val_path: &Path) -> Result<()> {
    let a: Vec<&String> = data.input_names.iter().chain(&data.target_names).collect();
    let b: Vec<&String> = val.input_names.iter().chain(&val.target_names).collect();
    let (dp, vp) = (data_path.display(), val_path.display());
    if let Some((x, y)) = a.iter().zip(&b).find(|(x, y)| x != y) {
        return refuse(format!(
            "{{val}} {vp}: its columns differ from {{data}} {dp}: `{y}` where {{data}} has `{x}`"
        ));
    }
    if a.len() != b.len() {
        return refuse(format!(
            "{{val}} {vp}: it has {} columns, {{data}} {dp} has {}",
            b.len(),
            a.len()
        ));
    }
    Ok(())
}
