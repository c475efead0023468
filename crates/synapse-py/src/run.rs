//! One `fit`: the Trainer runs on a worker of rayon's pool with the GIL
//! released (the pool where the CPU kernels split their work, as under
//! `synapse train`), while the calling thread waits, prints the progress
//! lines through `sys.stderr` and checks for signals every few
//! milliseconds. A signal's exception (Ctrl-C: `KeyboardInterrupt`) asks
//! the Trainer to stop after its current step (`Observer::keep_going`), so
//! the model is left as of the last finished step, and is then raised.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use synapse_nn::OptimizerState;
use synapse_train::job::{TrainData, TrainJob};
use synapse_train::progress::{early_stop_line, EpochLines};
use synapse_train::{EpochRecord, History, Model, Observer};

use crate::errors::train_error;

/// How often the waiting thread checks for signals.
const POLL: Duration = Duration::from_millis(20);

/// What one `fit` gives back: its history and the optimizer's final state.
pub struct Fitted {
    pub history: History,
    pub optimizer_state: OptimizerState,
}

/// What the worker tells the waiting thread.
enum Message {
    Line(String),
    Done(synapse_train::Result<Fitted>),
}

/// What a run needs besides the stack and the data: the job, the
/// optimizer's state to start from (`warm_start`), whether to print the
/// progress lines.
struct Run<'a> {
    job: &'a TrainJob,
    state: Option<&'a OptimizerState>,
    verbose: bool,
}

/// Trains `model.net` (in place) on `data`.
pub fn fit(
    py: Python<'_>,
    model: &Model,
    data: &TrainData,
    job: &TrainJob,
    state: Option<&OptimizerState>,
    verbose: bool,
) -> PyResult<Fitted> {
    let job = &Run {
        job,
        state,
        verbose,
    };
    let stop = AtomicBool::new(false);
    let (tx, rx) = channel::<Message>();
    let (result, signal) = py.detach(move || {
        let stop = &stop;
        std::thread::scope(|s| {
            let worker_tx = tx.clone();
            s.spawn(move || {
                let done = rayon::scope(|_| train(model, data, job, stop, &worker_tx));
                let _ = worker_tx.send(Message::Done(done));
            });
            let mut signal: Option<PyErr> = None;
            loop {
                match rx.recv_timeout(POLL) {
                    Ok(Message::Line(line)) => Python::attach(|py| print_line(py, &line)),
                    Ok(Message::Done(result)) => break (result, signal),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        let lost = Err(synapse_train::Error::config(
                            "fit",
                            "the training thread stopped without a result",
                        ));
                        break (lost, signal);
                    }
                }
                if signal.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        signal = Some(e);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        })
    });
    match (result, signal) {
        // The signal's own exception, whether or not training had finished.
        (_, Some(e)) => Err(e),
        (Ok(fitted), None) => Ok(fitted),
        (Err(synapse_train::Error::Interrupted { .. }), None) => {
            Err(PyRuntimeError::new_err("training stopped without a signal"))
        }
        (Err(e), None) => Err(train_error(e, "X")),
    }
}

/// The Trainer's run, on a rayon worker, without the GIL.
fn train(
    model: &Model,
    data: &TrainData,
    job: &Run<'_>,
    stop: &AtomicBool,
    tx: &Sender<Message>,
) -> synapse_train::Result<Fitted> {
    // The stack shares its variables with `model.net`: every step shows there.
    let mut trainer = job.job.trainer(model.net.clone(), data, true, job.state)?;
    let mut observer = Progress {
        stop,
        tx,
        lines: job.verbose.then(EpochLines::default),
    };
    trainer.fit(data.train(), data.val(), &mut observer)?;
    Ok(Fitted {
        history: trainer.history().clone(),
        optimizer_state: trainer.optimizer_state()?,
    })
}

/// Progress lines to the waiting thread; stops when it asks.
struct Progress<'a> {
    stop: &'a AtomicBool,
    tx: &'a Sender<Message>,
    lines: Option<EpochLines>,
}

impl Observer for Progress<'_> {
    fn on_train_begin(&mut self, first: usize, last: usize, _: usize) -> synapse_train::Result<()> {
        if let Some(lines) = &mut self.lines {
            lines.begin(first, last);
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, record: &EpochRecord) {
        if let Some(line) = self.lines.as_ref().and_then(|l| l.line(record)) {
            let _ = self.tx.send(Message::Line(line));
        }
    }

    fn on_early_stop(&mut self, epoch: usize, best: usize) {
        if self.lines.is_some() {
            let _ = self.tx.send(Message::Line(early_stop_line(epoch, best)));
        }
    }

    fn keep_going(&mut self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }
}

/// A line on `sys.stderr` (a notebook shows it; a terminal too).
fn print_line(py: Python<'_>, line: &str) {
    let printed = py.import("sys").and_then(|sys| {
        let err = sys.getattr("stderr")?;
        err.call_method1("write", (format!("{line}\n"),))?;
        err.call_method0("flush")
    });
    if let Err(e) = printed {
        e.print(py);
    }
}
