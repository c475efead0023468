//! Checkpoints of the Trainer: the state to resume from, the settings a
//! resumed run must share with the run it continues, and `resume`, which
//! refuses a checkpoint of other settings (SPEC section 7, `--resume`).

use synapse_nn::Mt19937;

use crate::checkpoint::Checkpoint;
use crate::early_stop::EarlyStopState;
use crate::{settings, Error, LrScheduler, Result};

use super::Trainer;

impl Trainer {
    /// The state to resume from: weights and buffers, optimizer, both
    /// generators (data and dropout), history, early stopping.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        Ok(Checkpoint {
            arch: self.net.spec().to_string(),
            loss: self.loss,
            dtype: self.net.dtype(),
            weights: self.net.snapshot()?,
            optimizer: self.optimizer.state()?,
            rng: self.rng.to_words(),
            dropout_rng: Some(self.dropout.to_words()),
            history: self.history.clone(),
            early: self.early.record(),
            best_weights: self.early.best_weights.clone(),
            stopped: self.stopped,
            settings: self.settings(),
            metadata: self.checkpoint_metadata.clone(),
        })
    }

    /// The settings a resumed run must share with the run it continues.
    pub(super) fn settings(&self) -> String {
        let c = &self.config;
        let early = c.early_stopping.map_or("none".to_string(), |e| {
            format!(
                "patience {}, min_delta {}, restore_best {}",
                e.patience, e.min_delta, e.restore_best
            )
        });
        settings::join(&[
            ("arch", self.net.spec().to_string()),
            ("loss", self.loss.to_string()),
            ("dtype", crate::dtype_name(self.net.dtype()).to_string()),
            ("batch-size", c.batch_size.to_string()),
            ("shuffle", c.shuffle.to_string()),
            ("seed", c.seed.to_string()),
            ("schedule", c.schedule.to_string()),
            (
                "clip-norm",
                c.clip_norm.map_or("none".into(), |v| v.to_string()),
            ),
            ("early-stopping", early),
            ("lr", self.base_lr.to_string()),
            (
                "class-weights",
                c.class_weights.as_ref().map_or("none".into(), |w| {
                    w.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
                }),
            ),
        ])
    }

    /// Continues from `ckpt`: it must come from a run with the same settings
    /// and the same `checkpoint_metadata` entry `"settings"`, if any.
    pub fn resume(&mut self, ckpt: &Checkpoint) -> Result<()> {
        let none = String::new();
        let pairs = [
            (&ckpt.settings, &self.settings()),
            (
                ckpt.metadata.get("settings").unwrap_or(&none),
                self.checkpoint_metadata.get("settings").unwrap_or(&none),
            ),
        ];
        for (theirs, ours) in pairs {
            if let Some((setting, checkpoint, run)) = settings::first_difference(theirs, ours) {
                return Err(Error::ResumeMismatch {
                    setting,
                    checkpoint,
                    run,
                });
            }
        }
        if ckpt.history.epochs.len() > self.config.epochs {
            return Err(Error::NothingLeft {
                trained: ckpt.history.epochs.len(),
                epochs: self.config.epochs,
            });
        }
        self.net.restore(&ckpt.weights)?;
        self.optimizer.load_state(&ckpt.optimizer)?;
        self.rng = Mt19937::from_words(&ckpt.rng).ok_or_else(|| {
            Error::config("resume", "the checkpoint's generator state is damaged")
        })?;
        if let Some(words) = &ckpt.dropout_rng {
            self.dropout = Mt19937::from_words(words).ok_or_else(|| {
                Error::config(
                    "resume",
                    "the checkpoint's dropout generator state is damaged",
                )
            })?;
        }
        self.history = ckpt.history.clone();
        // The schedule's state is a function of the recorded epochs: replay them.
        self.scheduler = LrScheduler::new(self.config.schedule, self.base_lr);
        for record in &self.history.epochs {
            self.scheduler.step(record.monitored());
        }
        self.early = EarlyStopState {
            best: ckpt.early.best,
            wait: ckpt.early.wait,
            best_weights: ckpt.best_weights.clone(),
        };
        self.stopped = ckpt.stopped;
        Ok(())
    }
}
