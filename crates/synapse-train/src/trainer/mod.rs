//! The `Trainer`: fit a stack over epochs of batches, evaluate, predict.
//! Here the loop; beside it `config.rs` ([`TrainConfig`]), `ranks.rs` (the
//! distributed check that every rank runs rank 0's job),
//! `early_stopping.rs` and `checkpointing.rs` (checkpoint and resume). The
//! free functions `predict` and `predict_classes` are in `predict.rs`.
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

mod checkpointing;
mod config;
mod early_stopping;
mod ranks;

use std::collections::BTreeMap;
use std::rc::Rc;

use candle_core::{DType, Tensor};
use synapse_nn::{Loss, Mode, Mt19937, Optimizer, Sequential};

use crate::batch::{batches, epoch_order};
use crate::checks::check_batch_statistics;
use crate::clip::clip_grad_norm;
use crate::distributed::step::Replicas;
use crate::distributed::{agree, Collective, Solo};
use crate::early_stop::EarlyStopState;
use crate::predict::{predict, EVAL_CHUNK};
use crate::{EpochRecord, Error, History, LrScheduler, Metrics, Observer, Result, Rows};

pub use config::TrainConfig;

/// Output values per forward pass in `evaluate` (sequences have many per row).
const EVAL_VALUES: usize = 1 << 22;

/// The dropout generator is `Mt19937::new(seed + DROPOUT_SEED_OFFSET)`
/// (wrapping), apart from the shuffling generator `Mt19937::new(seed)`.
pub const DROPOUT_SEED_OFFSET: u32 = 0x5eed;

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
        // mutants: `>= 1` is equivalent: one process is the same as itself.
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
        // effort: an absurd --epochs just grows it as it goes). mutants: the
        // size is a capacity only: equivalent.
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
                synapse_nn::keep_awake();
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

#[cfg(test)]
mod hint_tests {
    use candle_core::{DType, Device};
    use synapse_nn::{Init, Loss, Sequential};

    /// bce on a stack that does not end with sigmoid is told so; otherwise
    /// (and for other losses) the hint is the learning rate.
    #[test]
    fn the_divergence_hint_names_a_missing_sigmoid_for_bce() {
        let net = |spec: &str| {
            Sequential::init(
                &spec.parse().unwrap(),
                Init::Torch,
                1,
                DType::F32,
                &Device::Cpu,
            )
            .unwrap()
        };
        let bare = super::divergence_hint(&net("linear(2,1)"), Loss::Bce);
        assert!(bare.contains("does not end with sigmoid"), "{bare}");
        for (spec, loss) in [
            ("linear(2,1), sigmoid", Loss::Bce),
            ("linear(2,1)", Loss::Mse),
        ] {
            assert_eq!(
                super::divergence_hint(&net(spec), loss),
                "try a lower learning rate"
            );
        }
    }
}
