//! The callback through which a caller sees training progress (the CLI draws
//! its progress bar with it). Every method has an empty default.

use crate::EpochRecord;

/// Sees every batch and epoch of [`crate::Trainer::fit`].
pub trait Observer {
    /// Before the first epoch: the last epoch to be run (1-based), the first
    /// one (1-based, more than 1 when resuming) and the batches per epoch.
    fn on_train_begin(&mut self, _first_epoch: usize, _last_epoch: usize, _batches: usize) {}
    /// After each optimizer step: epoch and batch (1-based) and the batch loss.
    fn on_batch_end(&mut self, _epoch: usize, _batch: usize, _loss: f64) {}
    /// After each epoch (and its validation).
    fn on_epoch_end(&mut self, _record: &EpochRecord) {}
    /// When training ends early (early stopping).
    fn on_early_stop(&mut self, _epoch: usize, _best_epoch: usize) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {}
