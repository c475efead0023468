//! The Trainer: a known result, divergence, early stopping, schedules, clipping,
//! validation and the observer.

use candle_core::{DType, Device, Tensor};
use synapse_nn::{Adam, AdamConfig, ArchSpec, Init, Loss, Optimizer, Sequential, Sgd, SgdConfig};
use synapse_reference::ArticleNeuron;
use synapse_train::{
    BatchSize, Dataset, EarlyStopping, EpochRecord, Error, Observer, Schedule, Silent, TrainConfig,
    Trainer,
};

fn article_data() -> Dataset {
    let dev = Device::Cpu;
    let x = Tensor::new(&ArticleNeuron::TRAINING_INPUTS, &dev).unwrap();
    let y = Tensor::new(&ArticleNeuron::TRAINING_OUTPUTS, &dev)
        .unwrap()
        .unsqueeze(1)
        .unwrap();
    Dataset::new(x, y).unwrap()
}

fn sgd(net: &Sequential, lr: f64) -> Box<dyn Optimizer> {
    Box::new(
        Sgd::new(
            net.parameters(),
            SgdConfig {
                lr,
                ..Default::default()
            },
        )
        .unwrap(),
    )
}

fn flat(net: &Sequential) -> Vec<f64> {
    net.parameters()
        .iter()
        .flat_map(|(_, v)| {
            v.flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        })
        .collect()
}

#[test]
fn full_batch_fit_reproduces_the_article() {
    let spec: ArchSpec = "linear(3,1,bias=false), sigmoid".parse().unwrap();
    let net = Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &Device::Cpu).unwrap();
    let start = flat(&net);
    let config = TrainConfig {
        epochs: 15_000,
        batch_size: BatchSize::Full,
        shuffle: false,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net.clone(), Loss::Sse, sgd(&net, 1.0), config).unwrap();
    let history = trainer
        .fit(&article_data(), None, &mut Silent)
        .unwrap()
        .clone();
    assert_eq!(history.epochs.len(), 15_000);
    let mut neuron = ArticleNeuron::new([start[0], start[1], start[2]]);
    neuron.train(
        &ArticleNeuron::TRAINING_INPUTS,
        &ArticleNeuron::TRAINING_OUTPUTS,
        15_000,
    );
    for (a, b) in flat(trainer.network()).iter().zip(neuron.weights) {
        assert!((a - b).abs() < 1e-10, "{a} vs {b}");
    }
    // The loss recorded for the last epoch is the reference's loss before its last step.
    let losses = history.losses();
    assert!(
        losses.windows(2).all(|w| w[1] <= w[0] + 1e-12),
        "the loss falls monotonically here"
    );
    assert!(
        losses[14_999] < 1e-4 && losses[0] > 0.5,
        "{} {}",
        losses[0],
        losses[14_999]
    );
}

#[test]
fn divergence_names_epoch_and_batch_and_keeps_good_weights() {
    let spec: ArchSpec = "linear(3,8), relu, linear(8,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let config = TrainConfig {
        epochs: 50,
        batch_size: BatchSize::Rows(2),
        ..Default::default()
    };
    let mut trainer = Trainer::new(net.clone(), Loss::Mse, sgd(&net, 1e6), config).unwrap();
    let e = trainer.fit(&article_data(), None, &mut Silent).unwrap_err();
    match &e {
        Error::Diverged {
            epoch,
            batch,
            value,
            ..
        } => {
            assert!(
                *epoch >= 1 && (1..=2).contains(batch) && !value.is_finite(),
                "{e}"
            );
        }
        other => panic!("expected divergence, got {other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("epoch") && msg.contains("batch") && msg.contains("lower learning rate"),
        "{msg}"
    );
    assert!(
        flat(trainer.network()).iter().all(|v| v.is_finite()),
        "the last good weights are kept"
    );
}

#[test]
fn divergence_without_restore_leaves_the_weights_where_they_went() {
    // The same run as above, with the copy turned off (as the command line
    // does): the error is the same, and the weights are those of the last
    // step, not of the last whole epoch.
    let spec: ArchSpec = "linear(3,8), relu, linear(8,1)".parse().unwrap();
    let run = |restore| {
        let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
        let config = TrainConfig {
            epochs: 50,
            batch_size: BatchSize::Rows(2),
            restore_on_divergence: restore,
            ..Default::default()
        };
        let mut trainer = Trainer::new(net.clone(), Loss::Mse, sgd(&net, 1e6), config).unwrap();
        let e = trainer.fit(&article_data(), None, &mut Silent).unwrap_err();
        (e.to_string(), flat(trainer.network()))
    };
    let ((kept_msg, kept), (left_msg, left)) = (run(true), run(false));
    assert_eq!(kept_msg, left_msg);
    assert!(kept.iter().all(|v| v.is_finite()));
    assert_ne!(kept, left, "without the copy nothing is put back");
}

#[test]
fn early_stopping_restores_the_best_weights() {
    // Plain SGD with a learning rate too large for this data: the loss falls, then rises.
    let spec: ArchSpec = "linear(1,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 2, DType::F64, &Device::Cpu).unwrap();
    let x = Tensor::new(&[[1.0f64], [2.0], [3.0]], &Device::Cpu).unwrap();
    let data = Dataset::new(x.clone(), (x * 2.0).unwrap()).unwrap();

    struct Snapshots(
        Vec<(EpochRecord, Vec<f64>)>,
        Sequential,
        Option<(usize, usize)>,
    );
    impl Observer for Snapshots {
        fn on_epoch_end(&mut self, r: &EpochRecord) {
            self.0.push((r.clone(), flat(&self.1)));
        }
        fn on_early_stop(&mut self, epoch: usize, best: usize) {
            self.2 = Some((epoch, best));
        }
    }
    let rule = EarlyStopping {
        patience: 3,
        min_delta: 0.0,
        restore_best: true,
    };
    let config = TrainConfig {
        epochs: 100,
        batch_size: BatchSize::Full,
        shuffle: false,
        early_stopping: Some(rule),
        ..Default::default()
    };
    // lr 0.3 on x in 1..3 overshoots: a growing oscillation from the start,
    // after one or more improving epochs.
    let mut trainer = Trainer::new(net.clone(), Loss::Mse, sgd(&net, 0.3), config).unwrap();
    let mut seen = Snapshots(Vec::new(), net.clone(), None);
    trainer.fit(&data, None, &mut seen).unwrap();
    let (stopped, best) = seen.2.expect("stopped early");
    assert_eq!(stopped, best + 3, "patience 3");
    assert_eq!(trainer.history().epochs.len(), stopped);
    // The recorded loss of epoch e was computed with the weights at the end of epoch e-1.
    let best_loss = seen
        .0
        .iter()
        .map(|(r, _)| r.loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(seen.0[best - 1].0.loss, best_loss);
    assert_eq!(
        flat(trainer.network()),
        seen.0[best - 1].1,
        "weights of the best epoch are back"
    );
    assert_ne!(flat(trainer.network()), seen.0[stopped - 1].1);
}

#[test]
fn schedules_set_the_learning_rate_per_epoch() {
    let s = Schedule::Step {
        every: 2,
        gamma: 0.5,
    };
    assert_eq!(
        (0..5).map(|e| s.lr(1.0, e)).collect::<Vec<_>>(),
        [1.0, 1.0, 0.5, 0.5, 0.25]
    );
    let e = Schedule::Exponential { gamma: 0.9 };
    assert!((e.lr(2.0, 3) - 2.0 * 0.729).abs() < 1e-15);
    let c = Schedule::Cosine { t_max: 4, min: 0.1 };
    assert_eq!(c.lr(1.0, 0), 1.0);
    assert!((c.lr(1.0, 2) - 0.55).abs() < 1e-15);
    assert!((c.lr(1.0, 4) - 0.1).abs() < 1e-15);

    let spec: ArchSpec = "linear(3,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let config = TrainConfig {
        epochs: 5,
        schedule: s,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net.clone(), Loss::Mse, sgd(&net, 0.1), config).unwrap();
    let lrs: Vec<f64> = trainer
        .fit(&article_data(), None, &mut Silent)
        .unwrap()
        .epochs
        .iter()
        .map(|e| e.lr)
        .collect();
    assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05, 0.025]);
}

#[test]
fn clipping_bounds_the_step() {
    // One SGD step of lr 1 with clipping to norm 0.5 moves the weights by at most 0.5.
    let spec: ArchSpec = "linear(3,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F64, &Device::Cpu).unwrap();
    let before = flat(&net);
    let config = TrainConfig {
        epochs: 1,
        batch_size: BatchSize::Full,
        clip_norm: Some(0.5),
        ..Default::default()
    };
    let data = Dataset::new(
        article_data().x().to_dtype(DType::F64).unwrap(),
        (article_data().y() * 100.0).unwrap(),
    )
    .unwrap();
    let mut trainer = Trainer::new(net.clone(), Loss::Sse, sgd(&net, 1.0), config).unwrap();
    trainer.fit(&data, None, &mut Silent).unwrap();
    let moved: f64 = flat(trainer.network())
        .iter()
        .zip(&before)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((moved - 0.5).abs() < 1e-5, "moved {moved}");
}

#[test]
fn validation_metrics_are_recorded_and_the_observer_sees_every_batch() {
    let spec: ArchSpec = "linear(3,4), tanh, linear(4,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let opt = Box::new(
        Adam::new(
            net.parameters(),
            AdamConfig {
                lr: 0.05,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let config = TrainConfig {
        epochs: 30,
        batch_size: BatchSize::Rows(3),
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, Loss::BceLogits, opt, config).unwrap();
    #[derive(Default)]
    struct Count(usize, usize, Option<(usize, usize, usize)>);
    impl Observer for Count {
        fn on_train_begin(
            &mut self,
            first: usize,
            last: usize,
            batches: usize,
        ) -> synapse_train::Result<()> {
            self.2 = Some((first, last, batches));
            Ok(())
        }
        fn on_batch_end(&mut self, epoch: usize, batch: usize, loss: f64) {
            assert!(loss.is_finite());
            // Epochs and batches counted from 1: two batches an epoch.
            assert_eq!((epoch, batch), (self.0 / 2 + 1, self.0 % 2 + 1));
            self.0 += 1;
        }
        fn on_epoch_end(&mut self, _: &EpochRecord) {
            self.1 += 1;
        }
    }
    let mut count = Count::default();
    let data = article_data();
    let history = trainer.fit(&data, Some(&data), &mut count).unwrap();
    assert_eq!((count.0, count.1, count.2), (60, 30, Some((1, 30, 2))));
    let last = history.last().unwrap().val.unwrap();
    assert_eq!(last.accuracy, Some(1.0));
    assert!(last.loss < history.epochs[0].val.unwrap().loss);
    assert_eq!(history.val_losses().len(), 30);
}

#[test]
fn bad_settings_are_refused() {
    let net = Sequential::init(
        &"linear(3,1)".parse().unwrap(),
        Init::Torch,
        1,
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let e = Trainer::new(
        net.clone(),
        Loss::Mse,
        sgd(&net, 0.1),
        TrainConfig {
            epochs: 0,
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("epochs"), "{e}");
    let e = Trainer::new(
        net.clone(),
        Loss::Mse,
        sgd(&net, 0.1),
        TrainConfig {
            clip_norm: Some(-1.0),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("clip-norm"), "{e}");
}

/// Stops after its `after`-th step (Python's Ctrl-C answer).
struct StopAfter {
    after: usize,
    steps: usize,
}

impl Observer for StopAfter {
    fn on_batch_end(&mut self, _: usize, _: usize, _: f64) {
        self.steps += 1;
    }
    fn keep_going(&mut self) -> bool {
        self.steps < self.after
    }
}

#[test]
fn an_observer_stops_training_after_a_step_and_nothing_is_put_back() {
    let spec: ArchSpec = "linear(3,1,bias=false), sigmoid".parse().unwrap();
    let config = TrainConfig {
        epochs: 10,
        batch_size: BatchSize::Rows(1),
        shuffle: false,
        ..Default::default()
    };
    let fresh =
        || Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &Device::Cpu).unwrap();
    // Six steps: epoch 2, batch 2 (four rows, one per batch).
    let net = fresh();
    let mut trainer = Trainer::new(net.clone(), Loss::Sse, sgd(&net, 1.0), config.clone()).unwrap();
    let e = trainer
        .fit(&article_data(), None, &mut StopAfter { after: 6, steps: 0 })
        .unwrap_err();
    assert!(
        matches!(e, Error::Interrupted { epoch: 2, batch: 2 }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "training was interrupted after epoch 2, batch 2"
    );
    assert_eq!(trainer.history().epochs.len(), 1);
    // The same six steps, uninterrupted: the first six rows of two epochs.
    let six = fresh();
    let twice = |t: &Tensor| t.repeat((2, 1)).unwrap().narrow(0, 0, 6).unwrap();
    let data = article_data();
    let rows = Dataset::new(twice(data.x()), twice(data.y())).unwrap();
    let once = TrainConfig {
        epochs: 1,
        ..config
    };
    Trainer::new(six.clone(), Loss::Sse, sgd(&six, 1.0), once)
        .unwrap()
        .fit(&rows, None, &mut Silent)
        .unwrap();
    assert_eq!(flat(&net), flat(&six));
}

/// With several batches per epoch, shuffling changes the order the rows
/// are seen in, so the weights after one epoch; it is the seed's alone.
#[test]
fn shuffling_several_batches_changes_the_order_and_is_the_seeds() {
    let spec: ArchSpec = "linear(3,1,bias=false), sigmoid".parse().unwrap();
    let fit = |shuffle: bool, seed: u32| {
        let net = Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &Device::Cpu).unwrap();
        let config = TrainConfig {
            epochs: 1,
            batch_size: BatchSize::Rows(1),
            shuffle,
            seed,
            ..Default::default()
        };
        let mut trainer = Trainer::new(net.clone(), Loss::Sse, sgd(&net, 1.0), config).unwrap();
        trainer.fit(&article_data(), None, &mut Silent).unwrap();
        flat(trainer.network())
    };
    let in_order = fit(false, 1);
    let shuffled = fit(true, 1);
    assert_ne!(in_order, shuffled);
    assert_eq!(shuffled, fit(true, 1));
}
