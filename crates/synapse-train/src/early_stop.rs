//! Early stopping: stop when the monitored loss (validation loss, or the
//! training loss without validation rows) has not improved by more than
//! `min_delta` for `patience` epochs, and optionally restore the best weights.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping (at least 1).
    pub patience: usize,
    /// The smallest decrease that counts as an improvement.
    pub min_delta: f64,
    /// Put back the best epoch's weights at the end.
    pub restore_best: bool,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self {
            patience: 10,
            min_delta: 0.0,
            restore_best: true,
        }
    }
}

impl EarlyStopping {
    /// What `--early-stop PATIENCE` and `--save-best` (Python's `early_stop`
    /// and `save_best`) ask for: stop after `patience` epochs without
    /// improvement and keep the best weights; `save_best` alone: never stop,
    /// keep the best epoch's weights; neither: no early stopping.
    ///
    /// ```
    /// use synapse_train::EarlyStopping;
    /// assert_eq!(EarlyStopping::from_options(Some(3), true).map(|e| e.patience), Some(3));
    /// assert_eq!(EarlyStopping::from_options(None, true).map(|e| e.patience), Some(usize::MAX));
    /// assert!(EarlyStopping::from_options(None, true).unwrap().restore_best);
    /// assert_eq!(EarlyStopping::from_options(None, false), None);
    /// ```
    pub fn from_options(patience: Option<usize>, save_best: bool) -> Option<Self> {
        match (patience, save_best) {
            (Some(patience), _) => Some(Self {
                patience,
                ..Default::default()
            }),
            (None, true) => Some(Self {
                patience: usize::MAX,
                ..Default::default()
            }),
            (None, false) => None,
        }
    }
}

/// The running state of early stopping (saved in checkpoints).
#[derive(Debug, Clone, Default)]
pub struct EarlyStopState {
    /// The best monitored loss so far and its 1-based epoch.
    pub best: Option<(f64, usize)>,
    /// Epochs since the best one.
    pub wait: usize,
    /// The weights of the best epoch (when restoring is on).
    pub best_weights: Option<Vec<(String, Tensor)>>,
}

/// The scalar part of [`EarlyStopState`], as stored in checkpoint metadata.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopRecord {
    /// Best loss and its epoch.
    pub best: Option<(f64, usize)>,
    /// Epochs since the best one.
    pub wait: usize,
}

impl EarlyStopState {
    /// Records epoch `epoch`'s monitored `loss`; returns `(improved, stop)`.
    pub fn update(&mut self, rule: &EarlyStopping, loss: f64, epoch: usize) -> (bool, bool) {
        let improved = match self.best {
            None => true,
            Some((best, _)) => loss < best - rule.min_delta,
        };
        if improved {
            self.best = Some((loss, epoch));
            self.wait = 0;
        } else {
            self.wait += 1;
        }
        (improved, self.wait >= rule.patience.max(1))
    }

    /// The part stored as metadata.
    pub fn record(&self) -> EarlyStopRecord {
        EarlyStopRecord {
            best: self.best,
            wait: self.wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EarlyStopping;

    /// `--early-stop P` waits P epochs; `--save-best` alone never stops.
    #[test]
    fn save_best_alone_never_stops() {
        assert_eq!(
            EarlyStopping::from_options(Some(3), true).unwrap().patience,
            3
        );
        assert_eq!(
            EarlyStopping::from_options(None, true).unwrap().patience,
            usize::MAX
        );
        assert_eq!(EarlyStopping::from_options(None, false), None);
    }

    /// An epoch improves when its loss is below the best by more than
    /// `min_delta`; `patience` epochs without one stop the run.
    #[test]
    fn improvement_is_by_more_than_min_delta() {
        use super::EarlyStopState;
        let rule = EarlyStopping {
            patience: 2,
            min_delta: 0.1,
            ..Default::default()
        };
        let mut s = EarlyStopState::default();
        assert_eq!(s.update(&rule, 1.0, 1), (true, false));
        assert_eq!(s.update(&rule, 0.5, 2), (true, false));
        assert_eq!(s.update(&rule, 0.45, 3), (false, false));
        assert_eq!(s.update(&rule, 0.42, 4), (false, true));
        assert_eq!(s.best, Some((0.5, 2)));
    }
}
