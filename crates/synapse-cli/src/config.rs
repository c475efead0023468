//! From parsed flags to plain, checked settings: every error names its flag.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use candle_core::{DType, Device};
use synapse_nn::{AdamConfig, ArchSpec, Init, Loss, SgdConfig};
use synapse_train::{BatchSize, Schedule, Targets};

use crate::args::{DTypeArg, DeviceArg, OptimizerKind, TrainArgs};

/// How the weights start.
#[derive(Debug, Clone, PartialEq)]
pub enum InitChoice {
    /// A scheme drawn from the seed.
    Scheme(Init),
    /// Weights read from an .npz or .safetensors file.
    File(std::path::PathBuf),
}

/// The optimizer and its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerChoice {
    Sgd(SgdConfig),
    Adam(AdamConfig),
}

pub fn parse_spec(text: &str, flag: &str) -> Result<ArchSpec> {
    text.parse::<ArchSpec>().map_err(|e| anyhow!("{flag}: {e}"))
}

/// `--loss`: the library's list and message.
pub fn parse_loss(text: &str) -> Result<Loss> {
    text.parse::<Loss>().map_err(|e| nn_error("--loss", e))
}

/// A synapse-nn refusal of a value given by `flag`, as `FLAG reason` (the
/// library's message, not a copy of its rule).
pub fn nn_error(flag: &str, e: synapse_nn::Error) -> anyhow::Error {
    match e {
        synapse_nn::Error::Config { reason, .. } => anyhow!("{flag} {reason}"),
        other => anyhow!("{flag}: {other}"),
    }
}

pub fn dtype(d: DTypeArg) -> DType {
    match d {
        DTypeArg::F32 => DType::F32,
        DTypeArg::F64 => DType::F64,
    }
}

pub fn device(d: DeviceArg) -> Result<Device> {
    match d {
        DeviceArg::Cpu => Ok(Device::Cpu),
        DeviceArg::Cuda if cfg!(feature = "cuda") => {
            Device::new_cuda(0).map_err(|e| anyhow!("--device cuda: no usable CUDA device ({e})"))
        }
        DeviceArg::Cuda => bail!(
            "--device cuda: this synapse was built without CUDA; rebuild it with `cargo install --path crates/synapse-cli --features cuda`"
        ),
    }
}

/// Prefixes a library error with the flag that named its file:
/// `--data data.csv: line 3, ...`.
pub fn flagged(flag: &'static str) -> impl Fn(synapse_train::Error) -> anyhow::Error {
    move |e| {
        let text = format!("{flag} {e}");
        anyhow::Error::new(e).context(text)
    }
}

/// A training library error named by its flag: a size limit
/// (`--batch-size: ...; pass --allow-large ...`), a setting (`--batch-size 4:
/// ...`); anything else as it is.
pub fn train_error(e: synapse_train::Error) -> anyhow::Error {
    match e {
        synapse_train::Error::TooLarge {
            option,
            reason,
            allowable,
        } => {
            let allow = if allowable {
                "; pass --allow-large to train it anyway"
            } else {
                ""
            };
            anyhow!("--{option}: {reason}{allow}")
        }
        synapse_train::Error::Config { name, reason }
            if matches!(
                name.as_str(),
                "batch-size" | "epochs" | "arch" | "class-weights"
            ) =>
        {
            anyhow!("--{name} {reason}")
        }
        other => other.into(),
    }
}

/// A library error about a data file, as `FLAG FILE: reason`.
pub fn about_file(flag: &str, path: &Path, e: synapse_train::Error) -> anyhow::Error {
    let reason = match &e {
        synapse_train::Error::Config { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    anyhow!("{flag} {}: {reason}", path.display())
}

/// Splits `a,b,c` into column names, each named once.
pub fn columns(text: &str, flag: &str) -> Result<Vec<String>> {
    let cols: Vec<String> = text.split(',').map(|c| c.trim().to_string()).collect();
    if cols.iter().any(String::is_empty) {
        bail!("{flag} `{text}`: expected column names separated by commas");
    }
    if let Some((_, c)) = cols
        .iter()
        .enumerate()
        .find(|(i, c)| cols[..*i].contains(c))
    {
        bail!("{flag} `{text}`: the column `{c}` is named twice");
    }
    Ok(cols)
}

/// `--target` names CSV columns; an npz file has arrays `x` and `y` instead.
pub fn check_target_applies(target: Option<&str>, data: &Path, flag: &str) -> Result<()> {
    if target.is_some() && synapse_train::is_npz(data) {
        bail!(
            "--target: {flag} {} is an npz file, whose targets are its array `y`; --target names CSV columns",
            data.display()
        );
    }
    Ok(())
}

pub fn targets(target: Option<&str>) -> Result<Targets> {
    Ok(match target {
        Some(t) => Targets::Named(columns(t, "--target")?),
        None => Targets::Last,
    })
}

fn positive_count(text: &str, flag: &str) -> Result<usize> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} `{text}`: expected a whole number of at least 1"),
    }
}

fn finite(value: f64, flag: &str, min: f64, strict: bool) -> Result<f64> {
    let ok = value.is_finite() && if strict { value > min } else { value >= min };
    if !ok {
        let rel = if strict { "greater than" } else { "at least" };
        bail!("{flag} {value}: expected a finite number {rel} {min}");
    }
    Ok(value)
}

/// The library's refusal of an optimizer setting, named by its flag.
fn setting_error(e: synapse_nn::Error) -> anyhow::Error {
    match e {
        synapse_nn::Error::Setting {
            name,
            value,
            expected,
        } => {
            let flag = format!("--{}", name.replace('_', "-"));
            if name == "nesterov" {
                anyhow!("--nesterov needs {expected} (--momentum is {value})")
            } else {
                anyhow!("{flag} {value}: expected {expected}")
            }
        }
        other => anyhow!(other),
    }
}

/// Every setting of `synapse train`, checked.
#[derive(Debug, Clone)]
pub struct TrainJob {
    pub spec: ArchSpec,
    pub loss: Loss,
    pub optimizer: OptimizerChoice,
    pub epochs: usize,
    pub batch_size: BatchSize,
    pub init: InitChoice,
    pub dtype: DType,
    pub early_stop: Option<usize>,
    pub schedule: Schedule,
    pub clip_norm: Option<f64>,
}

impl TrainJob {
    pub fn from_args(a: &TrainArgs) -> Result<Self> {
        let spec = parse_spec(&a.arch, "--arch")?;
        synapse_train::check_parameters(&spec, a.allow_large).map_err(train_error)?;
        let loss = parse_loss(&a.loss)?;
        let epochs = positive_count(&a.epochs, "--epochs")?;
        let batch_size: BatchSize = a.batch_size.parse().map_err(|_| {
            anyhow!(
                "--batch-size `{}`: expected a whole number of at least 1, or full",
                a.batch_size
            )
        })?;
        let early_stop = a
            .early_stop
            .as_deref()
            .map(|p| positive_count(p, "--early-stop"))
            .transpose()?;
        if let Some(f) = a.val_split {
            if !(f > 0.0 && f < 1.0) {
                bail!("--val-split {f}: expected a fraction between 0 and 1");
            }
        }
        let given = |flags: &[(&'static str, bool)]| {
            flags
                .iter()
                .find(|(_, given)| *given)
                .map(|(flag, _)| *flag)
        };
        // Which flags apply is the command line's rule; the values' rules are
        // the optimizer's own (`SgdConfig::check`, `AdamConfig::check`).
        let optimizer = match a.optimizer {
            OptimizerKind::Sgd => {
                let adam_only = [
                    ("--beta1", a.beta1.is_some()),
                    ("--beta2", a.beta2.is_some()),
                    ("--eps", a.eps.is_some()),
                ];
                if let Some(flag) = given(&adam_only) {
                    bail!("{flag} applies to --optimizer adam and adamw only, not sgd");
                }
                let c = SgdConfig {
                    lr: a.lr.unwrap_or(0.01),
                    momentum: a.momentum.unwrap_or(0.0),
                    nesterov: a.nesterov,
                    weight_decay: a.weight_decay.unwrap_or(0.0),
                };
                c.check().map_err(setting_error)?;
                OptimizerChoice::Sgd(c)
            }
            kind => {
                let sgd_only = [
                    ("--momentum", a.momentum.is_some()),
                    ("--nesterov", a.nesterov),
                ];
                if let Some(flag) = given(&sgd_only) {
                    bail!(
                        "{flag} applies to --optimizer sgd only, not {}",
                        kind.name()
                    );
                }
                let base = if kind == OptimizerKind::Adamw {
                    AdamConfig::adamw()
                } else {
                    AdamConfig::default()
                };
                let c = AdamConfig {
                    lr: a.lr.unwrap_or(base.lr),
                    beta1: a.beta1.unwrap_or(base.beta1),
                    beta2: a.beta2.unwrap_or(base.beta2),
                    eps: a.eps.unwrap_or(base.eps),
                    weight_decay: a.weight_decay.unwrap_or(base.weight_decay),
                    decoupled: base.decoupled,
                };
                c.check().map_err(setting_error)?;
                OptimizerChoice::Adam(c)
            }
        };
        let lower = a.init.to_ascii_lowercase();
        let init = if lower.ends_with(".npz") || lower.ends_with(".safetensors") {
            InitChoice::File(a.init.clone().into())
        } else {
            InitChoice::Scheme(a.init.parse::<Init>().map_err(|e| nn_error("--init", e))?)
        };
        if let Some(p) = &a.plot {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if ext != "svg" && ext != "png" {
                bail!(
                    "--plot {}: expected a file ending in .svg or .png",
                    p.display()
                );
            }
            crate::plot::register_font().map_err(|e| anyhow!("--plot {}: {e}", p.display()))?;
        }
        let schedule: Schedule = a.lr_schedule.parse().map_err(|e: synapse_train::Error| {
            let reason = match e {
                synapse_train::Error::Config { reason, .. } => reason,
                other => other.to_string(),
            };
            anyhow!("--lr-schedule {reason}")
        })?;
        let clip_norm = a
            .clip_grad_norm
            .map(|c| finite(c, "--clip-grad-norm", 0.0, true))
            .transpose()?;
        if a.save_best && a.val.is_none() && a.val_split.is_none() {
            bail!("--save-best needs validation rows: give --val FILE or --val-split F");
        }
        if let Some(p) = &a.log {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !ext.eq_ignore_ascii_case("csv") {
                bail!("--log {}: expected a file ending in .csv", p.display());
            }
        }
        Ok(Self {
            spec,
            loss,
            optimizer,
            epochs,
            batch_size,
            init,
            dtype: dtype(a.dtype),
            early_stop,
            schedule,
            clip_norm,
        })
    }
}
