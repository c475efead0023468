//! Training progress on stderr: a progress bar on a terminal, plain lines
//! otherwise (one per epoch, or about 100 in all for long runs), nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use synapse_train::{EpochRecord, Observer};

/// How progress is shown.
pub enum Progress {
    Quiet,
    Bar {
        bar: ProgressBar,
        last: usize,
    },
    Lines {
        start: Instant,
        first: usize,
        last: usize,
    },
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bar {
                bar: ProgressBar::hidden(),
                last: 0,
            }
        } else {
            Progress::Lines {
                start: Instant::now(),
                first: 1,
                last: 0,
            }
        }
    }

    pub fn finish(&mut self) {
        if let Progress::Bar { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

fn describe(r: &EpochRecord) -> String {
    let mut s = format!("loss {}", figure(r.loss));
    if let Some(v) = r.val {
        for (name, value) in v.figures() {
            s += &format!(" val_{name} {}", figure(value));
        }
    }
    s
}

impl Observer for Progress {
    fn on_train_begin(
        &mut self,
        first: usize,
        last: usize,
        batches: usize,
    ) -> synapse_train::Result<()> {
        match self {
            Progress::Quiet => {}
            Progress::Bar { bar, last: l } => {
                *l = last;
                let total = ((last + 1).saturating_sub(first) * batches) as u64;
                *bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} epoch {msg} [{elapsed_precise} < {eta_precise}]",
                    )
                    .expect("a valid template"),
                );
            }
            Progress::Lines {
                first: f,
                last: l,
                start,
            } => {
                (*f, *l, *start) = (first, last, Instant::now());
            }
        }
        Ok(())
    }

    fn on_batch_end(&mut self, epoch: usize, _batch: usize, loss: f64) {
        if let Progress::Bar { bar, last } = self {
            bar.set_message(format!("{epoch}/{last} loss {}", figure(loss)));
            bar.inc(1);
        }
    }

    fn on_epoch_end(&mut self, r: &EpochRecord) {
        match self {
            Progress::Quiet => {}
            Progress::Bar { bar, last } => {
                bar.set_message(format!("{}/{last} {}", r.epoch, describe(r)))
            }
            Progress::Lines { start, first, last } => {
                let every = (*last + 1 - *first).div_ceil(100).max(1);
                if r.epoch == *first
                    || r.epoch == *last
                    || (r.epoch - *first + 1).is_multiple_of(every)
                {
                    eprintln!(
                        "epoch {}/{last}: {} ({:.1}s)",
                        r.epoch,
                        describe(r),
                        start.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }

    fn on_early_stop(&mut self, epoch: usize, best: usize) {
        if !matches!(self, Progress::Quiet) {
            self.finish();
            eprintln!("early stop after epoch {epoch}: no improvement since epoch {best}; keeping epoch {best}'s weights");
        }
    }
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
