//! The job's trainer: the optimizer over the stack's parameters, the
//! Trainer's configuration, the run's settings, and the checkpoint to
//! resume from.

use synapse_nn::{OptimizerState, Sequential};

use super::data::TrainData;
use super::option::Opt;
use super::options::TrainJob;
use crate::{Checkpoint, Error, Result, Tokenizer, TrainConfig, Trainer};

/// A refused `resume`, about its checkpoint.
fn about_resume(path: &std::path::Path) -> impl Fn(Error) -> Error + '_ {
    move |e| Error::About {
        opt: Opt::Resume,
        path: Some(path.to_path_buf()),
        error: Box::new(e),
    }
}

impl TrainJob {
    /// The Trainer's configuration. `restore_on_divergence`: keep a copy of
    /// the weights to go back to when the loss diverges (Python keeps the
    /// model; the command line writes none).
    pub fn config(&self, data: &TrainData, restore_on_divergence: bool) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            seed: self.options.seed,
            early_stopping: self.early_stopping,
            checkpoint: self.options.checkpoint.clone(),
            class_weights: data.class_weights.clone(),
            schedule: self.schedule,
            clip_norm: self.clip_norm,
            restore_on_divergence,
        }
    }

    /// A trainer of `net` (whose variables it shares) for `data`, with the
    /// optimizer started from `state` when given (Python's `warm_start`),
    /// resumed from the job's checkpoint when it has one.
    pub fn trainer(
        &self,
        net: Sequential,
        data: &TrainData,
        restore_on_divergence: bool,
        state: Option<&OptimizerState>,
    ) -> Result<Trainer> {
        let mut optimizer = self.optimizer.build(net.parameters())?;
        if let Some(s) = state {
            optimizer.load_state(s)?;
        }
        let config = self.config(data, restore_on_divergence);
        let mut trainer = Trainer::new(net, self.loss, optimizer, config)?;
        trainer
            .checkpoint_metadata
            .insert("settings".into(), self.settings(data)?);
        if let Some(path) = &self.options.resume {
            let ckpt = Checkpoint::load(path).map_err(about_resume(path))?;
            trainer.resume(&ckpt).map_err(about_resume(path))?;
        }
        Ok(trainer)
    }

    /// What the model file keeps of the run: the loss, the labels or the
    /// text's vocabulary (or tokenizer) and context, the normalisation, the epochs and the
    /// final loss.
    pub fn finish_model(
        &self,
        model: &mut crate::Model,
        data: &TrainData,
        history: &crate::History,
    ) {
        model.loss = Some(self.loss);
        model.normalize = data.normalize.clone();
        match &data.examples {
            super::data::Examples::Table { .. } => model.labels = data.labels.clone(),
            super::data::Examples::Text { train, .. } => {
                match train.text().tokenizer() {
                    Some(tok) => model.tokenizer = Some(Tokenizer::clone(tok)),
                    None => model.vocab = Some(train.text().vocab().to_vec()),
                }
                model.context = Some(train.context());
            }
        }
        model
            .metadata
            .insert("epochs".into(), history.epochs.len().to_string());
        if let Some(last) = history.last() {
            model
                .metadata
                .insert("final_loss".into(), last.loss.to_string());
        }
    }
}
