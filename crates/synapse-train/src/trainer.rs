//! The `Trainer`: fit a stack over epochs of batches, evaluate, predict.
//!
//! One epoch: set the scheduled learning rate, draw the row order (seeded
//! shuffle; none when one batch holds every row), and for each consecutive
//! batch: forward, loss, backward, clip, optimizer step. Then validate,
//! record the epoch, apply early stopping and write the checkpoint when
//! asked. A non-finite loss stops training with [`Error::Diverged`] and puts
//! back the weights of the end of the last epoch that finished (the starting
//! weights when the first epoch diverges); one copy of the weights per epoch
//! is kept for that, not one per step, and none with one batch per epoch (a
//! diverging batch is caught before its step changes anything) or when the
//! caller opts out (`TrainConfig::restore_on_divergence`). The observer
//! may stop training after any step ([`Observer::keep_going`]): `fit`
//! returns [`Error::Interrupted`] with the weights as that step left them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use candle_core::{DType, Tensor, D};
use synapse_nn::{Loss, Mode, Mt19937, Optimizer, Sequential};

use crate::batch::{batches, epoch_order, BatchSize};
use crate::checkpoint::Checkpoint;
use crate::checks::check_batch_statistics;
use crate::clip::clip_grad_norm;
use crate::distributed::step::Replicas;
use crate::distributed::{agree, Collective, Flat, Solo};
use crate::early_stop::{EarlyStopState, EarlyStopping};
use crate::{
    settings, EpochRecord, Error, Fingerprint, History, LrScheduler, Metrics, Observer, Result,
    Rows, Schedule,
};

/// Rows per forward pass in `evaluate` and `predict`.
const EVAL_CHUNK: usize = 8192;
/// Output values per forward pass in `evaluate` (sequences have many per row).
const EVAL_VALUES: usize = 1 << 22;

/// The dropout generator is `Mt19937::new(seed + DROPOUT_SEED_OFFSET)`
/// (wrapping), apart from the shuffling generator `Mt19937::new(seed)`.
pub const DROPOUT_SEED_OFFSET: u32 = 0x5eed;

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// The last epoch to run (1-based); a resumed run continues up to it.
    pub epochs: usize,
    /// Rows per optimizer step.
    pub batch_size: BatchSize,
    /// Shuffle the rows each epoch (seeded).
    pub shuffle: bool,
    /// Seed of the data generator (shuffling).
    pub seed: u32,
    /// Learning-rate schedule over epochs.
    pub schedule: Schedule,
    /// Clip gradients to this global norm.
    pub clip_norm: Option<f64>,
    /// Stop early when the monitored loss stops improving.
    pub early_stopping: Option<EarlyStopping>,
    /// Write a checkpoint here at the end of every epoch.
    pub checkpoint: Option<PathBuf>,
    /// Cross-entropy class weights, one per output (`CrossEntropyLoss(weight=)`):
    /// the training loss and the validation loss are their weighted means.
    pub class_weights: Option<Vec<f64>>,
    /// On divergence, put back the weights of the end of the last whole
    /// epoch (`true`, the default). That costs one copy of the weights per
    /// epoch, kept in memory; a caller that throws the stack away when
    /// training fails (the command line writes no model then) sets `false`
    /// and saves both.
    pub restore_on_divergence: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: BatchSize::default(),
            shuffle: true,
            seed: 1,
            schedule: Schedule::Constant,
            clip_norm: None,
            early_stopping: None,
            checkpoint: None,
            class_weights: None,
            restore_on_divergence: true,
        }
    }
}

/// Trains one stack with one loss and one optimizer.
pub struct Trainer {
    net: Sequential,
    loss: Loss,
    optimizer: Box<dyn Optimizer>,
    config: TrainConfig,
    base_lr: f64,
    scheduler: LrScheduler,
    rng: Mt19937,
    /// Dropout masks in training steps (see [`DROPOUT_SEED_OFFSET`]).
    dropout: Mt19937,
    history: History,
    early: EarlyStopState,
    stopped: bool,
    /// Extra metadata stored in checkpoints (labels, normalisation, flags).
    pub checkpoint_metadata: BTreeMap<String, String>,
    /// Data-parallel training over these ranks (see [`Trainer::with_collective`]).
    collective: Option<Rc<dyn Collective>>,
}

impl Trainer {
    /// A trainer; the optimizer must have been built over `net.parameters()`.
    pub fn new(
        net: Sequential,
        loss: Loss,
        optimizer: Box<dyn Optimizer>,
        config: TrainConfig,
    ) -> Result<Self> {
        if config.epochs == 0 {
            return Err(Error::config("epochs", "must be at least 1"));
        }
        if let Some(c) = config.clip_norm {
            if !(c > 0.0 && c.is_finite()) {
                return Err(Error::config(
                    "clip-norm",
                    format!("{c} must be a finite number greater than 0"),
                ));
            }
        }
        config.schedule.validate()?;
        if config.class_weights.is_some() {
            crate::class_weights::check_loss(loss)?;
        }
        Ok(Self {
            base_lr: optimizer.learning_rate(),
            scheduler: LrScheduler::new(config.schedule, optimizer.learning_rate()),
            rng: Mt19937::new(config.seed),
            dropout: Mt19937::new(config.seed.wrapping_add(DROPOUT_SEED_OFFSET)),
            net,
            loss,
            optimizer,
            config,
            history: History::default(),
            early: EarlyStopState::default(),
            stopped: false,
            checkpoint_metadata: BTreeMap::new(),
            collective: None,
        })
    }

    /// Trains data-parallel over `c` (SPEC section 7, "Distributed"): every
    /// rank calls `fit` with the same data and settings; each global batch is
    /// cut into `c.size()` slices ([`crate::distributed::slice_range`]), the
    /// scaled gradients and losses are summed in one all-reduce per step, and
    /// every rank takes the same optimizer step. `fit` starts by agreeing
    /// that every rank is ready and setting every rank's weights to rank
    /// 0's, and ends by checking that all ranks hold the same weights. An
    /// error on one rank ends `fit` on every rank: that rank (the lowest, if
    /// several) returns its error, the others [`Error::PeerFailed`]. Only
    /// rank 0 writes the checkpoint. Without this call (or with
    /// [`crate::distributed::Solo`]) training is the single-process one.
    pub fn with_collective(mut self, c: Rc<dyn Collective>) -> Self {
        self.collective = Some(c);
        self
    }

    /// The stack being trained.
    pub fn network(&self) -> &Sequential {
        &self.net
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The epochs trained so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// A copy of the optimizer's state (moments, step count): what a caller
    /// that trains the same stack again gives its next optimizer
    /// (`Optimizer::load_state`), as Python's `partial_fit` does.
    pub fn optimizer_state(&self) -> Result<synapse_nn::OptimizerState> {
        Ok(self.optimizer.state()?)
    }

    /// Trains up to `config.epochs` (continuing after a [`Trainer::resume`])
    /// on `train` (any [`Rows`]: a [`Dataset`], text windows), validating on
    /// `val` after each epoch. Every step goes through the collective: one
    /// process is [`Solo`], whose step is the plain one (no buffer, no copy).
    pub fn fit<R: Rows + ?Sized>(
        &mut self,
        train: &R,
        val: Option<&R>,
        observer: &mut dyn Observer,
    ) -> Result<&History> {
        let c: Rc<dyn Collective> = self.collective.clone().unwrap_or_else(|| Rc::new(Solo));
        agree(&*c, self.check_ready(train, val))?;
        if c.size() > 1 {
            agree(&*c, self.same_as_rank_zero(&*c, train, val))?;
        }
        let mut replicas = Replicas::new(c, &self.net)?;
        replicas.broadcast_weights()?;
        let n = train.len();
        let batch_rows = self.config.batch_size.rows(n);
        let first = self.history.epochs.len() + 1;
        let begun = observer.on_train_begin(first, self.config.epochs, n.div_ceil(batch_rows));
        agree(replicas.collective(), begun)?;
        let params = self.net.parameters();
        let one_batch = batch_rows >= n;
        // One record per epoch, without the copies of a growing Vec (best
        // effort: an absurd --epochs just grows it as it goes).
        let epochs = (self.config.epochs + 1).saturating_sub(first);
        let _ = self.history.epochs.try_reserve_exact(epochs);
        let (dev, dtype) = (self.net.device().clone(), self.net.dtype());
        for epoch in first..=self.config.epochs {
            if self.stopped {
                break;
            }
            let started = std::time::Instant::now();
            // The weights to put back if a batch diverges. With one batch per
            // epoch no copy is needed: a diverging batch is caught before its
            // step, so the weights are still those of the last whole epoch.
            let last_good = if one_batch || !self.config.restore_on_divergence {
                None
            } else {
                Some(self.net.snapshot()?)
            };
            let lr = self.scheduler.lr();
            self.optimizer.set_learning_rate(lr);
            // With one batch per epoch there is nothing to shuffle: the batch
            // is every row, taken as it is (no gather, and the generator is
            // not drawn from).
            let order = epoch_order(n, self.config.shuffle && !one_batch, &mut self.rng);
            let mut total = 0.0;
            for (b, rows) in batches(&order, self.config.batch_size).enumerate() {
                let (net, loss, dropout) = (&self.net, self.loss, &mut self.dropout);
                let weights = self.config.class_weights.as_deref();
                let (value, grads) =
                    replicas.step(loss, weights, rows, train, one_batch, |x, y| {
                        let (x, y) = on_stack(x, y, &dev, dtype)?;
                        let out = net.forward(&x, Mode::Train(dropout))?;
                        Ok(loss.forward_weighted(&out, &y, weights)?)
                    })?;
                let Some(mut grads) = grads.filter(|_| value.is_finite()) else {
                    // Put back the weights of the end of the last whole epoch.
                    if let Some(last_good) = &last_good {
                        self.net.restore(last_good)?;
                    }
                    return Err(Error::Diverged {
                        epoch,
                        batch: b + 1,
                        value,
                        hint: divergence_hint(&self.net, self.loss),
                    });
                };
                if let Some(max) = self.config.clip_norm {
                    clip_grad_norm(&mut grads, &params, max)?;
                }
                self.optimizer.step(&grads)?;
                total += value * rows.len() as f64;
                observer.on_batch_end(epoch, b + 1, value);
                if !observer.keep_going() {
                    return Err(Error::Interrupted {
                        epoch,
                        batch: b + 1,
                    });
                }
            }
            let ended = self.end_epoch(epoch, total / n as f64, lr, val, started);
            let (record, stop) = agree(replicas.collective(), ended)?;
            observer.on_epoch_end(&record);
            if stop {
                self.stopped = true;
                observer.on_early_stop(epoch, self.early.best.map_or(epoch, |(_, e)| e));
            }
        }
        self.restore_best()?;
        replicas.check_identical()?;
        Ok(&self.history)
    }

    /// Everything about `train` and `val` that can be checked before
    /// training (what `fit` checks first): they fit the stack and the loss,
    /// there are rows, and every batchnorm gets at least two values per
    /// feature in every batch (over the ranks, when distributed). A caller
    /// runs it before it creates any output, so that a refused run changes
    /// nothing (SPEC section 9).
    pub fn check_ready<R: Rows + ?Sized>(&self, train: &R, val: Option<&R>) -> Result<()> {
        train.check_fits(self.net.spec(), self.loss)?;
        if let Some(v) = val {
            v.check_fits(self.net.spec(), self.loss)?;
        }
        if train.is_empty() {
            return Err(Error::config("data", "has no rows"));
        }
        let ranks = self.collective.as_ref().map_or(1, |c| c.size());
        check_batch_statistics(
            self.net.spec(),
            &train.row_shape(),
            train.len(),
            self.config.batch_size,
            ranks,
        )
    }

    /// Distributed: every rank's settings, epochs and data are rank 0's
    /// (compared by fingerprint, in one fixed-size broadcast, before any
    /// message whose size depends on them); else an error saying what differs.
    fn same_as_rank_zero<R: Rows + ?Sized>(
        &self,
        c: &dyn Collective,
        train: &R,
        val: Option<&R>,
    ) -> Result<()> {
        let mut settings = Fingerprint::new();
        settings.bytes(self.settings().as_bytes());
        for (k, v) in &self.checkpoint_metadata {
            settings.bytes(k.as_bytes());
            settings.bytes(v.as_bytes());
        }
        let ours = [
            settings.finish(),
            self.config.epochs as u64,
            train.fingerprint()?,
            val.map(|v| v.fingerprint()).transpose()?.unwrap_or(0),
        ];
        // Each u64 as four 16-bit parts: exact in any float type.
        let mut buf: Vec<f64> = ours
            .iter()
            .flat_map(|v| (0..4).map(move |k| ((v >> (16 * k)) & 0xffff) as f64))
            .collect();
        c.broadcast(Flat::F64(&mut buf))?;
        let theirs: Vec<u64> = buf
            .chunks(4)
            .map(|p| p.iter().rev().fold(0u64, |a, &h| (a << 16) | h as u64))
            .collect();
        let differs = |why: String| {
            Err(Error::Collective {
                reason: format!("{why}; every rank must be started with the same flags and data"),
            })
        };
        if ours[0] != theirs[0] {
            return differs("its training settings differ from rank 0's".into());
        }
        if ours[1] != theirs[1] {
            return differs(format!(
                "its epochs ({}) differ from rank 0's ({})",
                ours[1], theirs[1]
            ));
        }
        if ours[2] != theirs[2] {
            return differs("its training data differ from rank 0's (other rows or values)".into());
        }
        if ours[3] != theirs[3] {
            return differs("its validation data differ from rank 0's".into());
        }
        Ok(())
    }

    /// The end of an epoch: validate, record, early stopping, checkpoint
    /// (written by rank 0 alone when distributed). Whether to stop.
    fn end_epoch<R: Rows + ?Sized>(
        &mut self,
        epoch: usize,
        loss: f64,
        lr: f64,
        val: Option<&R>,
        started: std::time::Instant,
    ) -> Result<(EpochRecord, bool)> {
        let val_metrics = val.map(|v| self.evaluate(v)).transpose()?;
        let record = EpochRecord {
            epoch,
            loss,
            lr,
            val: val_metrics,
            seconds: started.elapsed().as_secs_f64(),
        };
        self.history.epochs.push(record.clone());
        self.scheduler.step(record.monitored());
        let stop = self.update_early_stopping(&record)?;
        let writes = self.collective.as_ref().is_none_or(|c| c.rank() == 0);
        if let (Some(path), true) = (self.config.checkpoint.clone(), writes) {
            self.checkpoint()?.save(&path)?;
        }
        Ok((record, stop))
    }

    fn update_early_stopping(&mut self, record: &EpochRecord) -> Result<bool> {
        let Some(rule) = self.config.early_stopping else {
            return Ok(false);
        };
        let (improved, stop) = self.early.update(&rule, record.monitored(), record.epoch);
        if improved && rule.restore_best {
            self.early.best_weights = Some(self.net.snapshot()?);
        }
        Ok(stop)
    }

    fn restore_best(&mut self) -> Result<()> {
        if let (Some(rule), Some(best)) = (self.config.early_stopping, &self.early.best_weights) {
            if rule.restore_best {
                self.net.restore(best)?;
            }
        }
        Ok(())
    }

    /// The stack's outputs for `x` `[N, D]`, computed in chunks, without gradients.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        predict(&self.net, x)
    }

    /// The loss and metrics on `data` (any [`Rows`]), in evaluation mode,
    /// a chunk of rows at a time (see [`crate::metrics::Tally`]).
    pub fn evaluate<R: Rows + ?Sized>(&self, data: &R) -> Result<Metrics> {
        data.check_fits(self.net.spec(), self.loss)?;
        let (dev, dtype) = (self.net.device(), self.net.dtype());
        let n = data.len();
        let per_row = self
            .net
            .spec()
            .check_input(&data.row_shape())
            .map(|d| d.iter().product::<usize>().max(1))
            .unwrap_or(1);
        let chunk = EVAL_CHUNK.min(EVAL_VALUES / per_row).max(1);
        let weights = self.config.class_weights.as_deref();
        let mut tally = crate::metrics::Tally::new(self.loss, weights);
        for start in (0..n).step_by(chunk) {
            let (x, y) = data.range(start, chunk.min(n - start))?;
            let (x, y) = on_stack(&x, &y, dev, dtype)?;
            let out = self.net.forward(&x, Mode::Eval)?.detach();
            tally.add(&out, &y)?;
        }
        tally.finish()
    }

    /// The state to resume from: weights and buffers, optimizer, both
    /// generators (data and dropout), history, early stopping.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        Ok(Checkpoint {
            arch: self.net.spec().to_string(),
            loss: self.loss,
            dtype: self.net.dtype(),
            weights: self.net.snapshot()?,
            optimizer: self.optimizer.state()?,
            rng: self.rng.to_words(),
            dropout_rng: Some(self.dropout.to_words()),
            history: self.history.clone(),
            early: self.early.record(),
            best_weights: self.early.best_weights.clone(),
            stopped: self.stopped,
            settings: self.settings(),
            metadata: self.checkpoint_metadata.clone(),
        })
    }

    /// The settings a resumed run must share with the run it continues.
    fn settings(&self) -> String {
        let c = &self.config;
        let early = c.early_stopping.map_or("none".to_string(), |e| {
            format!(
                "patience {}, min_delta {}, restore_best {}",
                e.patience, e.min_delta, e.restore_best
            )
        });
        settings::join(&[
            ("arch", self.net.spec().to_string()),
            ("loss", self.loss.to_string()),
            ("dtype", crate::dtype_name(self.net.dtype()).to_string()),
            ("batch-size", c.batch_size.to_string()),
            ("shuffle", c.shuffle.to_string()),
            ("seed", c.seed.to_string()),
            ("schedule", c.schedule.to_string()),
            (
                "clip-norm",
                c.clip_norm.map_or("none".into(), |v| v.to_string()),
            ),
            ("early-stopping", early),
            ("lr", self.base_lr.to_string()),
            (
                "class-weights",
                c.class_weights.as_ref().map_or("none".into(), |w| {
                    w.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
                }),
            ),
        ])
    }

    /// Continues from `ckpt`: it must come from a run with the same settings
    /// and the same `checkpoint_metadata` entry `"settings"`, if any.
    pub fn resume(&mut self, ckpt: &Checkpoint) -> Result<()> {
        let none = String::new();
        let pairs = [
            (&ckpt.settings, &self.settings()),
            (
                ckpt.metadata.get("settings").unwrap_or(&none),
                self.checkpoint_metadata.get("settings").unwrap_or(&none),
            ),
        ];
        for (theirs, ours) in pairs {
            if let Some((setting, checkpoint, run)) = settings::first_difference(theirs, ours) {
                return Err(Error::ResumeMismatch {
                    setting,
                    checkpoint,
                    run,
                });
            }
        }
        if ckpt.history.epochs.len() > self.config.epochs {
            return Err(Error::NothingLeft {
                trained: ckpt.history.epochs.len(),
                epochs: self.config.epochs,
            });
        }
        self.net.restore(&ckpt.weights)?;
        self.optimizer.load_state(&ckpt.optimizer)?;
        self.rng = Mt19937::from_words(&ckpt.rng).ok_or_else(|| {
            Error::config("resume", "the checkpoint's generator state is damaged")
        })?;
        if let Some(words) = &ckpt.dropout_rng {
            self.dropout = Mt19937::from_words(words).ok_or_else(|| {
                Error::config(
                    "resume",
                    "the checkpoint's dropout generator state is damaged",
                )
            })?;
        }
        self.history = ckpt.history.clone();
        // The schedule's state is a function of the recorded epochs: replay them.
        self.scheduler = LrScheduler::new(self.config.schedule, self.base_lr);
        for record in &self.history.epochs {
            self.scheduler.step(record.monitored());
        }
        self.early = EarlyStopState {
            best: ckpt.early.best,
            wait: ckpt.early.wait,
            best_weights: ckpt.best_weights.clone(),
        };
        self.stopped = ckpt.stopped;
        Ok(())
    }
}

/// A batch on the stack's device: inputs in its dtype (ids stay ids),
/// targets in its dtype.
fn on_stack(
    x: &Tensor,
    y: &Tensor,
    dev: &candle_core::Device,
    dtype: DType,
) -> Result<(Tensor, Tensor)> {
    let x = x.to_device(dev)?;
    let x = if x.dtype().is_float() {
        x.to_dtype(dtype)?
    } else {
        x
    };
    Ok((x, y.to_device(dev)?.to_dtype(dtype)?))
}

/// What to change when the loss diverged: `bce` on outputs that no final
/// sigmoid keeps in `[0, 1]` is a mistake of the stack, not of the rate.
fn divergence_hint(net: &Sequential, loss: Loss) -> String {
    let ends_in_sigmoid = matches!(
        net.layers().last(),
        Some(synapse_nn::Layer::Activation(
            synapse_nn::Activation::Sigmoid
        ))
    );
    if loss == Loss::Bce && !ends_in_sigmoid {
        "bce takes probabilities in [0, 1], but the stack does not end with sigmoid, so its outputs leave that range: end it with sigmoid, or use bce-logits".into()
    } else {
        "try a lower learning rate".into()
    }
}

/// `net`'s outputs for `x`, in chunks of rows, detached from the graph.
/// Floats are cast to the model's dtype; ids (for a stack that starts with
/// `embedding`) are kept as they are.
pub fn predict(net: &Sequential, x: &Tensor) -> Result<Tensor> {
    let x = x.to_device(net.device())?;
    let x = if net.takes_ids() && !x.dtype().is_float() {
        x
    } else {
        x.to_dtype(net.dtype())?
    };
    let n = x.dim(0)?;
    if n <= EVAL_CHUNK {
        return Ok(net.forward(&x, Mode::Eval)?.detach());
    }
    let mut outs = Vec::new();
    for start in (0..n).step_by(EVAL_CHUNK) {
        let len = EVAL_CHUNK.min(n - start);
        outs.push(net.forward(&x.narrow(0, start, len)?, Mode::Eval)?.detach());
    }
    Ok(Tensor::cat(&outs, 0)?)
}

/// The predicted class per row: the arg-max of the outputs, or for a single
/// output the threshold (`>= 0.5` after a sigmoid, else `>= 0`).
pub fn predict_classes(net: &Sequential, loss: Option<Loss>, out: &Tensor) -> Result<Vec<usize>> {
    let k = out.dim(1)?;
    if k > 1 {
        return Ok(out
            .argmax(D::Minus1)?
            .to_dtype(candle_core::DType::F64)?
            .to_vec1::<f64>()?
            .into_iter()
            .map(|v| v as usize)
            .collect());
    }
    let probabilities = loss != Some(Loss::BceLogits)
        && matches!(
            net.layers().last(),
            Some(synapse_nn::Layer::Activation(
                synapse_nn::Activation::Sigmoid
            ))
        );
    let threshold = if probabilities { 0.5 } else { 0.0 };
    Ok(out
        .flatten_all()?
        .to_dtype(candle_core::DType::F64)?
        .to_vec1::<f64>()?
        .into_iter()
        .map(|v| usize::from(v >= threshold))
        .collect())
}
