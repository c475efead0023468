//! Early stopping in the Trainer: the rule applied after each epoch, and
//! the best epoch's weights put back at the end (`restore_best`).

use crate::{EpochRecord, Result};

use super::Trainer;

impl Trainer {
    /// Applies the rule to the epoch just recorded, keeping the weights of a
    /// new best when asked: whether to stop.
    pub(super) fn update_early_stopping(&mut self, record: &EpochRecord) -> Result<bool> {
        let Some(rule) = self.config.early_stopping else {
            return Ok(false);
        };
        let (improved, stop) = self.early.update(&rule, record.monitored(), record.epoch);
        if improved && rule.restore_best {
            self.early.best_weights = Some(self.net.snapshot()?);
        }
        Ok(stop)
    }

    /// At the end of `fit`: the best epoch's weights back, when the rule keeps them.
    pub(super) fn restore_best(&mut self) -> Result<()> {
        if let (Some(rule), Some(best)) = (self.config.early_stopping, &self.early.best_weights) {
            if rule.restore_best {
                self.net.restore(best)?;
            }
        }
        Ok(())
    }
}
