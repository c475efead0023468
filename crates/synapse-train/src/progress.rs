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
    use super::figure;

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
