//! Checkpoints: everything needed to resume a run bit for bit, in one
//! safetensors file written atomically.
//!
//! Tensors: `model.{name}` (weights), `optim.{name}` (optimizer state, e.g.
//! `optim.0.weight.exp_avg`), `best.{name}` (early stopping's best weights),
//! `rng` (the data generator's 625 words, u32), `dropout_rng` (the dropout
//! generator's words; absent in checkpoints older than dropout). The weights
//! are the whole state: parameters and batchnorm buffers. Metadata: `format =
//! "synapse-checkpoint"`, `version`, `arch`, `loss`, `dtype`, `optimizer`,
//! `optimizer_step`, `history` (JSON), `early_stop` (JSON), `stopped`,
//! `settings`, and the caller's entries prefixed `meta.`.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{Loss, OptimizerState};

use crate::atomic::{write_all_contents_atomic, Content};
use crate::early_stop::EarlyStopRecord;
use crate::model_file::dtype_name;
use crate::{Error, History, Result};

/// The `format` metadata value of a checkpoint.
pub const CHECKPOINT_FORMAT: &str = "synapse-checkpoint";

/// A training run's state at the end of an epoch.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Canonical spec.
    pub arch: String,
    /// The loss.
    pub loss: Loss,
    /// The parameters' dtype.
    pub dtype: DType,
    /// The weights, named, in stable order.
    pub weights: Vec<(String, Tensor)>,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
    /// The data generator's words.
    pub rng: Vec<u32>,
    /// The dropout generator's words (`None` in older checkpoints).
    pub dropout_rng: Option<Vec<u32>>,
    /// Epochs so far.
    pub history: History,
    /// Early stopping's scalars.
    pub early: EarlyStopRecord,
    /// Early stopping's best weights.
    pub best_weights: Option<Vec<(String, Tensor)>>,
    /// Whether early stopping ended the run.
    pub stopped: bool,
    /// The trainer's settings, compared on resume.
    pub settings: String,
    /// The caller's metadata (labels, normalisation, flags).
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        tensors.extend(
            self.weights
                .iter()
                .map(|(n, t)| (format!("model.{n}"), t.clone())),
        );
        tensors.extend(
            self.optimizer
                .tensors
                .iter()
                .map(|(n, t)| (format!("optim.{n}"), t.clone())),
        );
        if let Some(best) = &self.best_weights {
            tensors.extend(best.iter().map(|(n, t)| (format!("best.{n}"), t.clone())));
        }
        tensors.push((
            "rng".into(),
            Tensor::new(self.rng.as_slice(), &Device::Cpu)?,
        ));
        if let Some(words) = &self.dropout_rng {
            tensors.push((
                "dropout_rng".into(),
                Tensor::new(words.as_slice(), &Device::Cpu)?,
            ));
        }
        let mut meta: BTreeMap<String, String> = self
            .metadata
            .iter()
            .map(|(k, v)| (format!("meta.{k}"), v.clone()))
            .collect();
        meta.extend([
            ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
            ("version".into(), "1".into()),
            ("arch".into(), self.arch.clone()),
            ("loss".into(), self.loss.to_string()),
            ("dtype".into(), dtype_name(self.dtype).into()),
            ("optimizer".into(), self.optimizer.kind.clone()),
            ("optimizer_step".into(), self.optimizer.step.to_string()),
            ("history".into(), json(&self.history)),
            ("early_stop".into(), json(&self.early)),
            ("stopped".into(), self.stopped.to_string()),
            ("settings".into(), self.settings.clone()),
        ]);
        // Straight from the tensors to the file (no copy of them in memory).
        let write = |w: &mut dyn std::io::Write| {
            crate::safetensors_bytes::write(w, &tensors, meta.clone())
                .map_err(|e| std::io::Error::other(e.to_string()))
        };
        write_all_contents_atomic(&[(path, Content::Writer(&write))])
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::model(path, reason);
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a checkpoint file ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
            return Err(bad(
                "not a synapse checkpoint (format metadata missing)".into()
            ));
        }
        let get = |key: &str| {
            meta.get(key)
                .cloned()
                .ok_or_else(|| bad(format!("checkpoint metadata `{key}` is missing")))
        };
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| bad(format!("damaged tensors ({})", crate::candle_message(&e))))?;
        let mut sorted: Vec<(&String, &Tensor)> = tensors.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let with_prefix = |prefix: &str| -> Vec<(String, Tensor)> {
            sorted
                .iter()
                .filter_map(|(n, t)| {
                    n.strip_prefix(prefix)
                        .map(|s| (s.to_string(), (*t).clone()))
                })
                .collect()
        };
        // Weights in the stack's stable order: the spec's state (parameters, buffers).
        let arch = get("arch")?;
        let spec: synapse_nn::ArchSpec = arch
            .parse()
            .map_err(|e| bad(format!("bad arch metadata: {e}")))?;
        let order = |named: Vec<(String, Tensor)>| -> Result<Vec<(String, Tensor)>> {
            spec.state_shapes()
                .into_iter()
                .map(|(n, _)| {
                    named
                        .iter()
                        .find(|(m, _)| *m == n)
                        .cloned()
                        .ok_or_else(|| bad(format!("tensor for `{n}` is missing")))
                })
                .collect()
        };
        let weights = order(with_prefix("model."))?;
        let best = with_prefix("best.");
        let best_weights = if best.is_empty() {
            None
        } else {
            Some(order(best)?)
        };
        let rng = tensors
            .get("rng")
            .and_then(|t| t.to_vec1::<u32>().ok())
            .ok_or_else(|| bad("generator state `rng` is missing".into()))?;
        let parse_json = |key: &str| -> Result<serde_json::Value> {
            serde_json::from_str(&get(key)?).map_err(|e| bad(format!("bad `{key}` metadata: {e}")))
        };
        let history: History = serde_json::from_value(parse_json("history")?)
            .map_err(|e| bad(format!("bad history: {e}")))?;
        let early: EarlyStopRecord = serde_json::from_value(parse_json("early_stop")?)
            .map_err(|e| bad(format!("bad early_stop: {e}")))?;
        let dtype = match get("dtype")?.as_str() {
            "f32" => DType::F32,
            "f64" => DType::F64,
            other => return Err(bad(format!("bad dtype metadata `{other}`"))),
        };
        Ok(Self {
            loss: get("loss")?
                .parse()
                .map_err(|e: synapse_nn::Error| bad(crate::nn_message(&e)))?,
            arch,
            dtype,
            weights,
            optimizer: OptimizerState {
                kind: get("optimizer")?,
                step: get("optimizer_step")?
                    .parse()
                    .map_err(|_| bad("bad optimizer_step metadata".into()))?,
                tensors: with_prefix("optim."),
            },
            rng,
            dropout_rng: tensors
                .get("dropout_rng")
                .map(|t| t.to_vec1::<u32>())
                .transpose()
                .map_err(|_| bad("generator state `dropout_rng` is damaged".into()))?,
            history,
            early,
            best_weights,
            stopped: get("stopped")? == "true",
            settings: get("settings")?,
            metadata: meta
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("meta.").map(|k| (k.to_string(), v.clone())))
                .collect(),
        })
    }
}

/// A metadata record as JSON.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain records serialise")
}
