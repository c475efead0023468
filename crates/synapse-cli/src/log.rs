//! `--log FILE.csv`: one row per epoch, written and flushed as training goes,
//! so a crash leaves the rows so far.
//!
//! A live output (SPEC section 9): the file is created as a new file when
//! training begins (`Observer::on_train_begin`: after every check, and
//! distributed after the ranks agreed to start; a temporary name, created
//! exclusively, then renamed into place), so it is never written through
//! another name (a hard link keeps its other names' content) and never
//! emptied by a run refused before training. From then on it holds the
//! epochs run so far, also after a failure.
//!
//! Columns: `epoch,lr,loss`, then with validation `val_loss` and the other
//! validation figures (`val_accuracy,val_precision,val_recall,val_f1` for a
//! classifier, `val_mse,val_mae,val_rmse,val_r2` for regression), then
//! `seconds`. Numbers are written in Rust's shortest round-trip form, so a
//! spreadsheet or `float()` reads back the exact values. A resumed run
//! writes the checkpoint's epochs first.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use synapse_train::{EpochRecord, History, Observer};

/// The log file: named when the run starts, created when training begins
/// ([`Observer::on_train_begin`], after every check and the ranks' agreement).
pub struct EpochLog {
    path: PathBuf,
    /// The epochs before this run (a resumed run's), written first.
    before: Vec<EpochRecord>,
    out: Option<BufWriter<File>>,
    header: bool,
    failed: Option<std::io::Error>,
}

impl EpochLog {
    /// A log to be written to `path`, starting with the rows of `history`
    /// (a resumed run's epochs). Nothing is created yet.
    pub fn new(path: &Path, history: &History) -> Self {
        Self {
            path: path.to_path_buf(),
            before: history.epochs.clone(),
            out: None,
            header: false,
            failed: None,
        }
    }

    /// Creates the file as a new file holding the earlier rows: written
    /// under a temporary name, then renamed into place.
    fn create(&mut self) -> std::io::Result<()> {
        let invalid = |e: synapse_train::Error| match e {
            synapse_train::Error::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        };
        let target = synapse_train::writable_target(&self.path).map_err(invalid)?;
        let (tmp, file) = synapse_train::create_new_beside(&target, "tmp")?;
        self.out = Some(BufWriter::new(file));
        for r in std::mem::take(&mut self.before) {
            self.row(&r);
        }
        let placed = match self.failed.take() {
            Some(e) => Err(e),
            None => self
                .out
                .as_mut()
                .map_or(Ok(()), |o| o.flush())
                .and_then(|()| std::fs::rename(&tmp, &target)),
        };
        if placed.is_err() {
            self.out = None;
            let _ = std::fs::remove_file(&tmp);
        }
        placed
    }

    fn row(&mut self, r: &EpochRecord) {
        if self.failed.is_some() {
            return;
        }
        let figures = r.val.map(|v| v.figures()).unwrap_or_default();
        let mut text = String::new();
        if !self.header {
            text.push_str("epoch,lr,loss");
            for (name, _) in &figures {
                text.push_str(&format!(",val_{name}"));
            }
            text.push_str(",seconds\n");
            self.header = true;
        }
        text.push_str(&format!("{},{},{}", r.epoch, r.lr, r.loss));
        for (_, value) in &figures {
            text.push_str(&format!(",{value}"));
        }
        text.push_str(&format!(",{}\n", r.seconds));
        let Some(out) = self.out.as_mut() else { return };
        let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        if let Err(e) = written {
            self.failed = Some(e);
        }
    }

    /// The first write error, if any, naming the flag.
    pub fn finish(mut self) -> Result<()> {
        let flushed = self.out.as_mut().map_or(Ok(()), |o| o.flush());
        match self.failed.take().map_or(flushed, Err) {
            Ok(()) => Ok(()),
            Err(e) => Err(anyhow!(
                "--log {}: {}",
                self.path.display(),
                crate::message::os_error(&e)
            )),
        }
    }
}

impl Observer for EpochLog {
    fn on_train_begin(&mut self, _: usize, _: usize, _: usize) -> synapse_train::Result<()> {
        self.create()
            .map_err(|e| synapse_train::Error::io(&self.path, e))
    }

    fn on_epoch_end(&mut self, record: &EpochRecord) {
        self.row(record);
    }
}

/// Two observers in turn.
pub struct Tee<'a>(pub &'a mut dyn Observer, pub Option<&'a mut EpochLog>);

impl Observer for Tee<'_> {
    fn on_train_begin(
        &mut self,
        first: usize,
        last: usize,
        batches: usize,
    ) -> synapse_train::Result<()> {
        self.0.on_train_begin(first, last, batches)?;
        match self.1.as_deref_mut() {
            Some(log) => log.on_train_begin(first, last, batches),
            None => Ok(()),
        }
    }
    fn on_batch_end(&mut self, epoch: usize, batch: usize, loss: f64) {
        self.0.on_batch_end(epoch, batch, loss);
    }
    fn on_epoch_end(&mut self, record: &EpochRecord) {
        self.0.on_epoch_end(record);
        if let Some(log) = self.1.as_deref_mut() {
            log.on_epoch_end(record);
        }
    }
    fn on_early_stop(&mut self, epoch: usize, best: usize) {
        self.0.on_early_stop(epoch, best);
    }
}
