//! The callback through which a caller sees training progress (the CLI draws
//! its progress bar with it, and writes its live `--log`). Every method has
//! an empty default.

use crate::{EpochRecord, Result};

/// Sees every batch and epoch of [`crate::Trainer::fit`].
pub trait Observer {
    /// When training begins, after every check (and, distributed, after the
    /// ranks agreed to start): the first epoch to run (1-based, more than 1
    /// when resuming), the last one and the batches per epoch. The moment to
    /// create live outputs (a log); an error stops `fit` before its first
    /// step (on every rank, when distributed).
    fn on_train_begin(
        &mut self,
        _first_epoch: usize,
        _last_epoch: usize,
        _batches: usize,
    ) -> Result<()> {
        Ok(())
    }
    /// After each optimizer step: epoch and batch (1-based) and the batch loss.
    fn on_batch_end(&mut self, _epoch: usize, _batch: usize, _loss: f64) {}
    /// After each optimizer step (after [`Observer::on_batch_end`]): whether
    /// to go on. `false` ends `fit` with [`crate::Error::Interrupted`] and
    /// the weights as that step left them (nothing is put back); the epoch
    /// is not recorded. How Python answers Ctrl-C between batches. Every
    /// rank of a distributed run must answer the same at the same step (the
    /// command line never stops).
    fn keep_going(&mut self) -> bool {
        true
    }
    /// After each epoch (and its validation).
    fn on_epoch_end(&mut self, _record: &EpochRecord) {}
    /// When training ends early (early stopping).
    fn on_early_stop(&mut self, _epoch: usize, _best_epoch: usize) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {}
