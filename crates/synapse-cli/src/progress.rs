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
    let mut s = format!("loss {:.6}", r.loss);
    if let Some(v) = r.val {
        for (name, value) in v.figures() {
            s += &format!(" val_{name} {value:.6}");
        }
    }
    s
}

impl Observer for Progress {
    fn on_train_begin(&mut self, first: usize, last: usize, batches: usize) {
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
    }

    fn on_batch_end(&mut self, epoch: usize, _batch: usize, loss: f64) {
        if let Progress::Bar { bar, last } = self {
            bar.set_message(format!("{epoch}/{last} loss {loss:.6}"));
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
