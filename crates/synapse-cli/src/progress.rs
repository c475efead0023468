//! Training progress on stderr: a progress bar on a terminal, plain lines
//! otherwise (synapse-train's `progress`: one per epoch, or about 100 in all for
//! long runs), nothing with `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
pub use synapse_train::progress::figure;
use synapse_train::progress::{describe, early_stop_line, EpochLines};
use synapse_train::{EpochRecord, Observer};

/// How progress is shown.
pub enum Progress {
    Quiet,
    Bar { bar: ProgressBar, last: usize },
    Lines(EpochLines),
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
            Progress::Lines(EpochLines::default())
        }
    }

    pub fn finish(&mut self) {
        if let Progress::Bar { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
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
            Progress::Lines(lines) => lines.begin(first, last),
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
            Progress::Lines(lines) => {
                if let Some(line) = lines.line(r) {
                    eprintln!("{line}");
                }
            }
        }
    }

    fn on_early_stop(&mut self, epoch: usize, best: usize) {
        if !matches!(self, Progress::Quiet) {
            self.finish();
            eprintln!("{}", early_stop_line(epoch, best));
        }
    }
}
