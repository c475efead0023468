//! Training progress as lines of text, for a person: what `synapse train`
//! prints when stderr is not a terminal and what Python's `fit(verbose=1)`
//! prints. One line per epoch, or about 100 in all for long runs (the first
//! and the last epoch always):
//!
//! ```text
//! epoch 3/10: loss 0.512 val_loss 0.6 val_accuracy 0.8 (0.4s)
//! ```
//!
//! ```
//! use synapse_train::progress::figure;
//! assert_eq!(figure(0.123456789), "0.123457");
//! assert_eq!(figure(1e-7), "1e-7");
//! ```

use std::time::Instant;

use crate::EpochRecord;

/// Which epochs get a line, and the time since training began.
#[derive(Debug, Clone)]
pub struct EpochLines {
    start: Instant,
    first: usize,
    last: usize,
}

impl Default for EpochLines {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            first: 1,
            last: 0,
        }
    }
}

impl EpochLines {
    /// Training begins (the observer's `on_train_begin`): epochs `first..=last`.
    pub fn begin(&mut self, first: usize, last: usize) {
        (self.first, self.last, self.start) = (first, last, Instant::now());
    }

    /// The line for the epoch `r`, if it gets one.
    pub fn line(&self, r: &EpochRecord) -> Option<String> {
        let every = (self.last + 1)
            .saturating_sub(self.first)
            .div_ceil(100)
            .max(1);
        let shown = r.epoch == self.first
            || r.epoch == self.last
            || (r.epoch + 1 - self.first).is_multiple_of(every);
        shown.then(|| {
            format!(
                "epoch {}/{}: {} ({:.1}s)",
                r.epoch,
                self.last,
                describe(r),
                self.start.elapsed().as_secs_f64()
            )
        })
    }
}

/// The last epoch (the observer's `on_early_stop`) and the best.
pub fn early_stop_line(epoch: usize, best: usize) -> String {
    format!("early stop after epoch {epoch}: no improvement since epoch {best}; keeping epoch {best}'s weights")
}

/// An epoch's figures: `loss 0.5 val_loss 0.6 val_accuracy 0.8`.
pub fn describe(r: &EpochRecord) -> String {
    let mut s = format!("loss {}", figure(r.loss));
    if let Some(v) = r.val {
        for (name, value) in v.figures() {
            s += &format!(" val_{name} {}", figure(value));
        }
    }
    s
}

/// A figure for a person: 6 significant digits, no trailing zeros, and
/// scientific notation below 1e-4 or from 1e6 on (`1e-7`, not `0.000000`).
pub fn figure(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        let text = format!("{v:.5e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let decimals = (5 - magnitude).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::{early_stop_line, figure, EpochLines};
    use crate::EpochRecord;

    fn record(epoch: usize) -> EpochRecord {
        EpochRecord {
            epoch,
            loss: 0.5,
            lr: 0.1,
            val: None,
            seconds: 0.0,
        }
    }

    /// The module doc's rule: every epoch up to 100 of them, else about 100
    /// lines (every `ceil(epochs / 100)`-th epoch counted from the first),
    /// the first and the last always. Counts by hand.
    #[test]
    fn about_a_hundred_epochs_get_a_line_the_first_and_last_always() {
        let shown = |first: usize, last: usize| {
            let mut lines = EpochLines::default();
            lines.begin(first, last);
            (first..=last)
                .filter(|&e| lines.line(&record(e)).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(shown(1, 5), [1, 2, 3, 4, 5]);
        assert_eq!(shown(11, 30), (11..=30).collect::<Vec<_>>());
        // 1000 epochs: every 10th (10, 20, ..., 1000) and the first.
        let long = shown(1, 1000);
        assert_eq!(long.len(), 101);
        assert_eq!(&long[..3], [1, 10, 20]);
        // Resumed at 3 of 402 (400 epochs, every 4th): 3, then 6, 10, ..., 402.
        let resumed = shown(3, 402);
        assert_eq!(resumed.len(), 101);
        assert_eq!((&resumed[..3], resumed[100]), (&[3, 6, 10][..], 402));
        // The boundaries: 101 epochs go every 2nd (1, 2, 4, ..., 100, 101);
        // 100 epochs, all of them.
        let just_over = shown(1, 101);
        assert_eq!(just_over.len(), 52);
        assert_eq!((&just_over[..3], just_over[51]), (&[1, 2, 4][..], 101));
        assert_eq!(shown(5, 104), (5..=104).collect::<Vec<_>>());
        let mut lines = EpochLines::default();
        lines.begin(1, 1000);
        let line = lines.line(&record(10)).unwrap();
        assert!(line.starts_with("epoch 10/1000: loss 0.5 ("), "{line}");
    }

    #[test]
    fn the_early_stop_line_names_the_last_and_the_best_epoch() {
        let line = early_stop_line(7, 4);
        assert!(
            line.contains("after epoch 7") && line.contains("keeping epoch 4's weights"),
            "{line}"
        );
    }

    #[test]
    fn figures_have_six_significant_digits() {
        assert_eq!(figure(0.9800000000000001), "0.98");
        assert_eq!(figure(1e-7), "1e-7");
        assert_eq!(figure(0.123456789), "0.123457");
        assert_eq!(figure(3262.6123), "3262.61");
        assert_eq!(figure(-2.5e7), "-2.5e7");
        assert_eq!(figure(0.0), "0");
    }
}
