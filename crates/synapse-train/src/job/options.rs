//! The training job's options as an interface gives them ([`JobOptions`]:
//! `None` where not given), and [`TrainJob`], the same options checked, with
//! every default filled in. Every rule about a single option or a pair of
//! them lives here, once, for `synapse train` and `Sequential.fit` alike:
//!
//! | rule | message |
//! | --- | --- |
//! | `epochs` at least 1 | `epochs must be at least 1` |
//! | `batch_size` a count or `full` | ``batch_size `0`: expected a whole number of at least 1, or full`` |
//! | `early_stop` at least 1 | `early_stop 0: expected a whole number of at least 1` |
//! | `val_split` in (0, 1), not with `validation_data` | `val_split 1.5 must be between 0 and 1` |
//! | `save_best` needs validation rows | `save_best needs validation rows: ...` |
//! | an optimizer takes its own hyperparameters only | `beta1 applies to optimizer 'adam' and 'adamw' only, not 'sgd'` |
//! | hyperparameters' ranges | the optimizer's own `check` |
//! | `clip_grad_norm` finite and positive | `clip_grad_norm 0: expected a finite number greater than 0` |
//! | `context`, `stride`, `tokenizer` with a text only; a text needs `context` | `tokenizer applies to text only` |
//! | `target`, `normalize`, `class_weights` not with a text | ... |
//!
//! Messages are templates (`{batch-size}`), rendered by each interface with
//! its names ([`crate::job::render`]).

use std::path::PathBuf;

use candle_core::Tensor;
use synapse_nn::{AdamConfig, Loss, SgdConfig};

use super::option::Opt;
use crate::{BatchSize, ClassWeights, EarlyStopping, Error, Result, Schedule};

/// Where rows come from: a data file (CSV or npz), or arrays of inputs
/// and targets (what Python's numpy arrays become; checked as an npz's).
#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    Arrays { x: Tensor, y: Tensor },
}

/// Every option of a training job, as given (`None`: not given).
#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    pub data: Option<Input>,
    pub text: Option<PathBuf>,
    pub context: Option<i64>,
    pub stride: Option<i64>,
    /// A `tokenizer.json`: the text's ids are its tokens, not characters.
    pub tokenizer: Option<PathBuf>,
    pub loss: Option<String>,
    pub target: Option<Vec<String>>,
    pub optimizer: Option<String>,
    pub lr: Option<f64>,
    pub momentum: Option<f64>,
    pub nesterov: Option<bool>,
    pub weight_decay: Option<f64>,
    pub beta1: Option<f64>,
    pub beta2: Option<f64>,
    pub eps: Option<f64>,
    pub epochs: Option<i64>,
    pub batch_size: Option<String>,
    pub shuffle: Option<bool>,
    /// The seed of shuffling and the validation split (the interface's default when absent).
    pub seed: u32,
    pub normalize: bool,
    pub val: Option<Input>,
    pub val_split: Option<f64>,
    pub early_stop: Option<i64>,
    pub save_best: bool,
    pub checkpoint: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub lr_schedule: Option<String>,
    pub clip_grad_norm: Option<f64>,
    pub class_weights: Option<ClassWeights>,
    pub allow_large: bool,
}

impl JobOptions {
    /// Whether option `o` was given (the interfaces' mapping tests ask this
    /// of every [`Opt`]; `arch` is the stack, not an option of the job, and
    /// `seed` always has the interface's default).
    pub fn is_given(&self, o: Opt) -> bool {
        match o {
            Opt::Data => self.data.is_some(),
            Opt::Text => self.text.is_some(),
            Opt::Context => self.context.is_some(),
            Opt::Stride => self.stride.is_some(),
            Opt::Tokenizer => self.tokenizer.is_some(),
            Opt::Arch => false,
            Opt::Loss => self.loss.is_some(),
            Opt::Target => self.target.is_some(),
            Opt::Optimizer => self.optimizer.is_some(),
            Opt::Lr => self.lr.is_some(),
            Opt::Momentum => self.momentum.is_some(),
            Opt::Nesterov => self.nesterov == Some(true),
            Opt::WeightDecay => self.weight_decay.is_some(),
            Opt::Beta1 => self.beta1.is_some(),
            Opt::Beta2 => self.beta2.is_some(),
            Opt::Eps => self.eps.is_some(),
            Opt::Epochs => self.epochs.is_some(),
            Opt::BatchSize => self.batch_size.is_some(),
            Opt::Shuffle => self.shuffle == Some(false),
            Opt::Seed => true,
            Opt::Normalize => self.normalize,
            Opt::Val => self.val.is_some(),
            Opt::ValSplit => self.val_split.is_some(),
            Opt::EarlyStop => self.early_stop.is_some(),
            Opt::Checkpoint => self.checkpoint.is_some(),
            Opt::Resume => self.resume.is_some(),
            Opt::LrSchedule => self.lr_schedule.is_some(),
            Opt::ClipGradNorm => self.clip_grad_norm.is_some(),
            Opt::ClassWeights => self.class_weights.is_some(),
            Opt::SaveBest => self.save_best,
            Opt::AllowLarge => self.allow_large,
        }
    }
}

/// The optimizer and its hyperparameters, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerChoice {
    Sgd(SgdConfig),
    Adam(AdamConfig),
}

impl OptimizerChoice {
    /// `sgd`, `adam` or `adamw`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerChoice::Sgd(_) => "sgd",
            OptimizerChoice::Adam(c) if c.decoupled => "adamw",
            OptimizerChoice::Adam(_) => "adam",
        }
    }

    /// A boxed optimizer over `params`.
    pub fn build(
        &self,
        params: Vec<(String, candle_core::Var)>,
    ) -> Result<Box<dyn synapse_nn::Optimizer>> {
        Ok(match *self {
            OptimizerChoice::Sgd(c) => Box::new(synapse_nn::Sgd::new(params, c)?),
            OptimizerChoice::Adam(c) => Box::new(synapse_nn::Adam::new(params, c)?),
        })
    }
}

/// Windows of a text: its context and stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub context: usize,
    pub stride: usize,
}

/// A training job: every option checked, every default filled in.
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// The options as given (the data, the run's settings).
    pub options: JobOptions,
    pub loss: Loss,
    pub optimizer: OptimizerChoice,
    pub epochs: usize,
    pub batch_size: BatchSize,
    pub shuffle: bool,
    pub early_stopping: Option<EarlyStopping>,
    pub schedule: Schedule,
    pub clip_norm: Option<f64>,
    /// With a text.
    pub windows: Option<Windows>,
}

/// A job error: a message template naming its options.
pub(crate) fn refuse<T>(template: impl Into<String>) -> Result<T> {
    Err(Error::Job {
        template: template.into(),
    })
}

/// `n` as a count of at least 1, or `None` for a smaller one.
fn count(n: i64) -> Option<usize> {
    usize::try_from(n).ok().filter(|&n| n > 0)
}

impl TrainJob {
    /// Checks `o`. `prior_loss` is the loss of the model being trained, used
    /// when `o.loss` is absent (Python's `fit` on a model trained before).
    pub fn check(o: JobOptions, prior_loss: Option<Loss>) -> Result<Self> {
        let loss = match (&o.loss, prior_loss) {
            (Some(l), _) => l.parse::<Loss>().map_err(Error::Nn)?,
            (None, Some(l)) => l,
            (None, None) => return refuse("{loss}: the model has no loss yet; give {loss}"),
        };
        let epochs = match o.epochs {
            None => 10,
            Some(n) => match count(n) {
                Some(n) => n,
                None => return refuse("{epochs} must be at least 1"),
            },
        };
        let batch_size = match &o.batch_size {
            None => BatchSize::default(),
            Some(b) => b.parse::<BatchSize>()?,
        };
        let patience = match o.early_stop {
            None => None,
            Some(n) => match count(n) {
                Some(n) => Some(n),
                None => {
                    return refuse(format!(
                        "{{early-stop}} {n}: expected a whole number of at least 1"
                    ))
                }
            },
        };
        Self::check_sources(&o)?;
        if let Some(cols) = &o.target {
            check_columns(cols)?;
        }
        if o.save_best && o.val.is_none() && o.val_split.is_none() {
            return refuse("{save-best} needs validation rows: give {val} or {val-split}");
        }
        if let Some(f) = o.val_split {
            if !(f > 0.0 && f < 1.0) {
                return refuse(format!("{{val-split}} {f} must be between 0 and 1"));
            }
        }
        let schedule = match &o.lr_schedule {
            None => Schedule::Constant,
            Some(s) => s.parse::<Schedule>()?,
        };
        if let Some(c) = o.clip_grad_norm {
            if !(c > 0.0 && c.is_finite()) {
                return refuse(format!(
                    "{{clip-grad-norm}} {c}: expected a finite number greater than 0"
                ));
            }
        }
        let windows = match o.text {
            None => None,
            Some(_) => {
                let context = match o.context.map(count) {
                    Some(Some(c)) => c,
                    Some(None) => {
                        return refuse(format!(
                            "{{context}} {}: expected a whole number of at least 1",
                            o.context.unwrap_or(0)
                        ))
                    }
                    None => return refuse("{text} needs {context} (the tokens of one window)"),
                };
                let stride = match o.stride.map(count) {
                    Some(Some(s)) => s,
                    Some(None) => {
                        return refuse(format!(
                            "{{stride}} {}: expected a whole number of at least 1",
                            o.stride.unwrap_or(0)
                        ))
                    }
                    None => context,
                };
                Some(Windows { context, stride })
            }
        };
        Ok(Self {
            loss,
            optimizer: optimizer(&o)?,
            epochs,
            batch_size,
            shuffle: o.shuffle.unwrap_or(true),
            early_stopping: EarlyStopping::from_options(patience, o.save_best),
            schedule,
            clip_norm: o.clip_grad_norm,
            windows,
            options: o,
        })
    }

    /// Which sources and which options that belong to one kind of source
    /// go together.
    fn check_sources(o: &JobOptions) -> Result<()> {
        match (&o.data, &o.text) {
            (Some(_), Some(_)) => return refuse("{data} and {text}: give one of them, not both"),
            (None, None) => return refuse("give {data} or {text}"),
            _ => {}
        }
        if o.val.is_some() && o.val_split.is_some() {
            return refuse("{val} and {val-split}: give one of them, not both");
        }
        if o.text.is_some() {
            let table_only = [
                ("{target}", o.target.is_some()),
                ("{val}", o.val.is_some()),
                ("{normalize}", o.normalize),
                ("{class-weights}", o.class_weights.is_some()),
            ];
            if let Some((name, _)) = table_only.iter().find(|(_, given)| *given) {
                return refuse(format!(
                    "{name} applies to {{data}} only, not to {{text}} (windows of a text)"
                ));
            }
        } else {
            let text_only = [
                ("{context}", o.context.is_some()),
                ("{stride}", o.stride.is_some()),
                ("{tokenizer}", o.tokenizer.is_some()),
            ];
            if let Some((name, _)) = text_only.iter().find(|(_, given)| *given) {
                return refuse(format!("{name} applies to {{text}} only"));
            }
        }
        Ok(())
    }
}

/// Target columns: each named, and once.
fn check_columns(cols: &[String]) -> Result<()> {
    let text = cols.join(",");
    if cols.iter().any(String::is_empty) {
        return refuse(format!(
            "{{target}} `{text}`: expected column names separated by commas"
        ));
    }
    if let Some((_, c)) = cols
        .iter()
        .enumerate()
        .find(|(i, c)| cols[..*i].contains(c))
    {
        return refuse(format!(
            "{{target}} `{text}`: the column `{c}` is named twice"
        ));
    }
    Ok(())
}

/// The optimizer and its hyperparameters: PyTorch's defaults (SPEC section
/// 5), each value checked by the optimizer's own `check`. A hyperparameter
/// of another optimizer is refused rather than ignored.
fn optimizer(o: &JobOptions) -> Result<OptimizerChoice> {
    let kind = o.optimizer.as_deref().unwrap_or("sgd");
    let given = |names: &[(&'static str, bool)]| names.iter().find(|(_, g)| *g).map(|(n, _)| *n);
    let choice = match kind {
        "sgd" => {
            let adam_only = [
                ("{beta1}", o.beta1.is_some()),
                ("{beta2}", o.beta2.is_some()),
                ("{eps}", o.eps.is_some()),
            ];
            if let Some(n) = given(&adam_only) {
                return refuse(format!(
                    "{n} applies to {{optimizer}} 'adam' and 'adamw' only, not 'sgd'"
                ));
            }
            OptimizerChoice::Sgd(SgdConfig {
                lr: o.lr.unwrap_or(0.01),
                momentum: o.momentum.unwrap_or(0.0),
                nesterov: o.nesterov.unwrap_or(false),
                weight_decay: o.weight_decay.unwrap_or(0.0),
            })
        }
        "adam" | "adamw" => {
            let sgd_only = [
                ("{momentum}", o.momentum.is_some()),
                ("{nesterov}", o.nesterov == Some(true)),
            ];
            if let Some(n) = given(&sgd_only) {
                return refuse(format!(
                    "{n} applies to {{optimizer}} 'sgd' only, not '{kind}'"
                ));
            }
            let base = if kind == "adamw" {
                AdamConfig::adamw()
            } else {
                AdamConfig::default()
            };
            OptimizerChoice::Adam(AdamConfig {
                lr: o.lr.unwrap_or(base.lr),
                beta1: o.beta1.unwrap_or(base.beta1),
                beta2: o.beta2.unwrap_or(base.beta2),
                eps: o.eps.unwrap_or(base.eps),
                weight_decay: o.weight_decay.unwrap_or(base.weight_decay),
                decoupled: base.decoupled,
            })
        }
        other => {
            return refuse(format!(
                "{{optimizer}} `{other}`: expected sgd, adam or adamw"
            ))
        }
    };
    match choice {
        OptimizerChoice::Sgd(c) => c.check()?,
        OptimizerChoice::Adam(c) => c.check()?,
    }
    Ok(choice)
}
