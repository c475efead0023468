//! The record of a training run: one entry per epoch.

use serde::{Deserialize, Serialize};

use crate::Metrics;

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches, weighted by batch rows.
    pub loss: f64,
    /// The learning rate used.
    pub lr: f64,
    /// Figures on the validation rows, when there are any.
    pub val: Option<Metrics>,
    /// Wall-clock seconds the epoch took (training and validation).
    #[serde(default)]
    pub seconds: f64,
}

impl EpochRecord {
    /// The loss that early stopping and the plateau schedule watch: the
    /// validation loss, or else the training loss.
    pub fn monitored(&self) -> f64 {
        self.val.map_or(self.loss, |v| v.loss)
    }
}

/// Every epoch's record, in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// The epochs trained so far.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// Training loss per epoch.
    pub fn losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.loss).collect()
    }

    /// Validation loss per epoch (for the epochs that had one).
    pub fn val_losses(&self) -> Vec<f64> {
        self.epochs
            .iter()
            .filter_map(|e| e.val.map(|v| v.loss))
            .collect()
    }

    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }
}

#[cfg(test)]
mod tests {
    use super::EpochRecord;
    use crate::Metrics;

    /// The validation loss when there is one, else the training loss.
    #[test]
    fn the_monitored_loss_is_the_validation_loss_when_there_is_one() {
        let mut r = EpochRecord {
            epoch: 1,
            loss: 0.75,
            lr: 0.1,
            val: None,
            seconds: 0.0,
        };
        assert_eq!(r.monitored(), 0.75);
        r.val = Some(Metrics {
            loss: 0.5,
            ..Default::default()
        });
        assert_eq!(r.monitored(), 0.5);
    }
}
