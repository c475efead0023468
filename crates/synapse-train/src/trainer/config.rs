//! [`TrainConfig`]: how the Trainer trains (epochs, batches, shuffling,
//! schedule, clipping, early stopping, checkpoints, class weights), with
//! defaults.

use std::path::PathBuf;

use crate::batch::BatchSize;
use crate::early_stop::EarlyStopping;
use crate::Schedule;

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// The last epoch to run (1-based); a resumed run continues up to it.
    pub epochs: usize,
    /// Rows per optimizer step.
    pub batch_size: BatchSize,
    /// Shuffle the rows each epoch (seeded).
    pub shuffle: bool,
    /// Seed of the data generator (shuffling).
    pub seed: u32,
    /// Learning-rate schedule over epochs.
    pub schedule: Schedule,
    /// Clip gradients to this global norm.
    pub clip_norm: Option<f64>,
    /// Stop early when the monitored loss stops improving.
    pub early_stopping: Option<EarlyStopping>,
    /// Write a checkpoint here at the end of every epoch.
    pub checkpoint: Option<PathBuf>,
    /// Cross-entropy class weights, one per output (`CrossEntropyLoss(weight=)`):
    /// the training loss and the validation loss are their weighted means.
    pub class_weights: Option<Vec<f64>>,
    /// On divergence, put back the weights of the end of the last whole
    /// epoch (`true`, the default). That costs one copy of the weights per
    /// epoch, kept in memory; a caller that throws the stack away when
    /// training fails (the command line writes no model then) sets `false`
    /// and saves both.
    pub restore_on_divergence: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: BatchSize::default(),
            shuffle: true,
            seed: 1,
            schedule: Schedule::Constant,
            clip_norm: None,
            early_stopping: None,
            checkpoint: None,
            class_weights: None,
            restore_on_divergence: true,
        }
    }
}
