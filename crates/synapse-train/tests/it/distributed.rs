//! Data-parallel training without MPI: W threads joined by an in-process
//! [`Collective`] (sums in rank order) against the single-process Trainer.
//! The same checks run over real MPI in `crates/synapse-cli/tests/mpi.rs`.

use std::rc::Rc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{
    Adam, AdamConfig, ArchSpec, Init, Loss, Mt19937, Optimizer, Sequential, Sgd, SgdConfig,
};
use synapse_train::distributed::{Collective, Flat, Solo};
use synapse_train::{BatchSize, Dataset, Error, History, Rows, Silent, TrainConfig, Trainer};

/// W ranks as threads: each deposits its buffer, then every rank sums the
/// deposits in rank order (the same bits on every rank).
struct Threads {
    rank: usize,
    size: usize,
    shared: Arc<(Barrier, Mutex<Vec<Vec<f64>>>)>,
}

impl Threads {
    fn group(size: usize) -> Vec<Threads> {
        let shared = Arc::new((Barrier::new(size), Mutex::new(vec![Vec::new(); size])));
        (0..size)
            .map(|rank| Threads {
                rank,
                size,
                shared: shared.clone(),
            })
            .collect()
    }

    /// Deposits `mine`, waits for all, returns every rank's deposit.
    fn exchange(&self, mine: Vec<f64>) -> Vec<Vec<f64>> {
        let (barrier, slots) = &*self.shared;
        slots.lock().unwrap()[self.rank] = mine;
        barrier.wait();
        let all = slots.lock().unwrap().clone();
        barrier.wait();
        all
    }
}

impl Collective for Threads {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&self, buf: Flat<'_>) -> synapse_train::Result<()> {
        match buf {
            Flat::F64(b) => {
                let all = self.exchange(b.to_vec());
                for (i, v) in b.iter_mut().enumerate() {
                    *v = all.iter().fold(0.0, |s, r| s + r[i]);
                }
            }
            Flat::F32(b) => {
                let all = self.exchange(b.iter().map(|&v| f64::from(v)).collect());
                for (i, v) in b.iter_mut().enumerate() {
                    *v = all.iter().fold(0.0f32, |s, r| s + r[i] as f32);
                }
            }
        }
        Ok(())
    }

    fn broadcast(&self, buf: Flat<'_>) -> synapse_train::Result<()> {
        match buf {
            Flat::F64(b) => {
                let all = self.exchange(b.to_vec());
                b.copy_from_slice(&all[0]);
            }
            Flat::F32(b) => {
                let all = self.exchange(b.iter().map(|&v| f64::from(v)).collect());
                for (d, s) in b.iter_mut().zip(&all[0]) {
                    *d = *s as f32;
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Opt {
    Momentum,
    Adam,
}

#[derive(Clone)]
struct Case {
    arch: &'static str,
    loss: Loss,
    opt: Opt,
    rows: usize,
    batch: usize,
    epochs: usize,
    dtype: DType,
    clip: Option<f64>,
    seed: u32,
    class_weights: Option<Vec<f64>>,
    /// Cross-entropy targets of every third row (from row 1) are -100.
    ignored: bool,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            arch: "linear(3,5), tanh, linear(5,2)",
            loss: Loss::Mse,
            opt: Opt::Momentum,
            rows: 10,
            batch: 4,
            epochs: 6,
            dtype: DType::F64,
            clip: None,
            seed: 7,
            class_weights: None,
            ignored: false,
        }
    }
}

/// Seeded data: x uniform in [-1, 1); y a smooth function of x (regression)
/// or class indices (cross-entropy).
fn data(case: &Case) -> Dataset {
    let mut rng = Mt19937::new(99);
    let x: Vec<f64> = (0..case.rows * 3)
        .map(|_| 2.0 * rng.random_sample() - 1.0)
        .collect();
    let y: Vec<f64> = (0..case.rows)
        .flat_map(|i| {
            let (a, b) = (x[3 * i], x[3 * i + 1] * x[3 * i + 2]);
            if case.loss == Loss::CrossEntropy && case.ignored && i % 3 == 1 {
                vec![-100.0]
            } else if case.loss == Loss::CrossEntropy {
                vec![f64::from(u8::from(a + b > 0.0))]
            } else {
                vec![a.sin() + b, a - b]
            }
        })
        .collect();
    let k = y.len() / case.rows;
    let dev = Device::Cpu;
    Dataset::new(
        Tensor::from_vec(x, (case.rows, 3), &dev).unwrap(),
        Tensor::from_vec(y, (case.rows, k), &dev).unwrap(),
    )
    .unwrap()
}

fn trainer(case: &Case, init_seed: u32) -> Trainer {
    let spec: ArchSpec = case.arch.parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, init_seed, case.dtype, &Device::Cpu).unwrap();
    let opt: Box<dyn Optimizer> = match case.opt {
        Opt::Momentum => Box::new(
            Sgd::new(
                net.parameters(),
                SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        Opt::Adam => Box::new(
            Adam::new(
                net.parameters(),
                AdamConfig {
                    lr: 0.05,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
    };
    let config = TrainConfig {
        epochs: case.epochs,
        batch_size: BatchSize::Rows(case.batch),
        seed: case.seed,
        clip_norm: case.clip,
        class_weights: case.class_weights.clone(),
        ..Default::default()
    };
    Trainer::new(net, case.loss, opt, config).unwrap()
}

fn weights(t: &Trainer) -> Vec<f64> {
    t.network()
        .parameters()
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

type Outcome = synapse_train::Result<(Vec<f64>, History)>;

/// Trains `case` on W threads; rank r initialises with `init_seed(r)` and
/// trains on `data_of(r)`. Each rank's weights and history, or its error.
fn run_ranks(
    case: &Case,
    w: usize,
    init_seed: impl Fn(usize) -> u32,
    data_of: impl Fn(usize) -> Dataset,
) -> Vec<Outcome> {
    let handles: Vec<_> = Threads::group(w)
        .into_iter()
        .map(|c| {
            let (case, seed, data) = (case.clone(), init_seed(c.rank), data_of(c.rank));
            thread::spawn(move || -> Outcome {
                let mut t = trainer(&case, seed).with_collective(Rc::new(c));
                let history = t.fit(&data, None, &mut Silent)?.clone();
                Ok((weights(&t), history))
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn single(case: &Case) -> (Vec<f64>, History) {
    let mut t = trainer(case, 1);
    let history = t.fit(&data(case), None, &mut Silent).unwrap().clone();
    (weights(&t), history)
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// W ranks end within `tol` of one process: weights and every epoch's loss,
/// and all ranks hold the same bits.
fn assert_parity(case: &Case, w: usize, tol: f64) {
    let (want, want_history) = single(case);
    let runs = run_ranks(case, w, |_| 1, |_| data(case));
    let (got, history) = runs[0].as_ref().unwrap();
    let d = max_diff(got, &want);
    assert!(d < tol, "W={w}: weights differ by {d}");
    let d = max_diff(&history.losses(), &want_history.losses());
    assert!(d < tol, "W={w}: losses differ by {d}");
    for r in &runs[1..] {
        let (other, h) = r.as_ref().unwrap();
        assert_eq!(other, got, "every rank holds the same weights");
        assert_eq!(h.losses(), history.losses(), "every rank the same history");
    }
    // Training moved the weights: the comparison is not of the start.
    let start = weights(&trainer(case, 1));
    assert!(max_diff(&start, &want) > 1e-3);
}

// 10 rows, batch 4: batches of 4, 4, 2 rows; over 3 ranks slices of 2,1,1 and
// for the last batch 1,1,0 (an empty slice); over 2 ranks 2,2 and 1,1.
#[test]
fn two_and_three_ranks_match_one_process_with_momentum() {
    for w in [2, 3] {
        assert_parity(&Case::default(), w, 1e-10);
    }
}

#[test]
fn two_and_three_ranks_match_one_process_with_adam() {
    let case = Case {
        opt: Opt::Adam,
        ..Case::default()
    };
    for w in [2, 3] {
        assert_parity(&case, w, 1e-10);
    }
}

#[test]
fn every_loss_and_clipping_match_one_process() {
    for loss in [Loss::Sse, Loss::Mse, Loss::CrossEntropy] {
        let case = Case {
            arch: if loss == Loss::CrossEntropy {
                "linear(3,5), relu, linear(5,2)"
            } else {
                "linear(3,5), sigmoid, linear(5,2)"
            },
            loss,
            clip: Some(0.05),
            ..Case::default()
        };
        assert_parity(&case, 3, 1e-10);
    }
    // Class weights: the mean divides by the targets' weights, not the rows.
    let case = Case {
        arch: "linear(3,5), relu, linear(5,2)",
        loss: Loss::CrossEntropy,
        class_weights: Some(vec![0.3, 2.5]),
        ..Case::default()
    };
    assert_parity(&case, 3, 1e-10);
    // Ignored targets (-100): the mean divides by the counted targets, so a
    // rank's share is its counted targets' share, not its rows', with or
    // without class weights.
    for class_weights in [None, Some(vec![0.3, 2.5])] {
        let case = Case {
            arch: "linear(3,5), relu, linear(5,2)",
            loss: Loss::CrossEntropy,
            class_weights,
            ignored: true,
            ..Case::default()
        };
        assert_parity(&case, 3, 1e-10);
    }
    // More ranks than rows in a batch: batches of 3 and 1 row over 4 ranks.
    let case = Case {
        rows: 4,
        batch: 3,
        ..Case::default()
    };
    assert_parity(&case, 4, 1e-10);
}

#[test]
fn f32_ranks_match_one_process_within_f32_rounding() {
    let case = Case {
        dtype: DType::F32,
        ..Case::default()
    };
    assert_parity(&case, 3, 1e-5);
}

#[test]
fn the_same_ranks_give_the_same_bits_on_every_run() {
    let case = Case {
        opt: Opt::Adam,
        ..Case::default()
    };
    let a = run_ranks(&case, 3, |_| 1, |_| data(&case));
    let b = run_ranks(&case, 3, |_| 1, |_| data(&case));
    assert_eq!(a[0].as_ref().unwrap().0, b[0].as_ref().unwrap().0);
}

#[test]
fn solo_is_plain_training_bit_for_bit() {
    for dtype in [DType::F32, DType::F64] {
        for opt in [Opt::Momentum, Opt::Adam] {
            let case = Case {
                dtype,
                opt,
                clip: Some(0.5),
                ..Case::default()
            };
            let (want, want_history) = single(&case);
            let mut t = trainer(&case, 1).with_collective(Rc::new(Solo));
            let history = t.fit(&data(&case), None, &mut Silent).unwrap().clone();
            assert_eq!(weights(&t), want);
            assert_eq!(history.losses(), want_history.losses());
        }
    }
}

#[test]
fn initial_weights_are_rank_zeros() {
    // Every rank draws other weights (seed 1 + rank); rank 0's are broadcast,
    // so the run equals one process initialised with seed 1.
    let case = Case::default();
    let (want, _) = single(&case);
    let runs = run_ranks(&case, 3, |r| 1 + r as u32, |_| data(&case));
    for r in &runs {
        let d = max_diff(&r.as_ref().unwrap().0, &want);
        assert!(d < 1e-10, "{d}");
    }
}

#[test]
fn an_error_on_one_rank_ends_every_rank_once() {
    // Rank 1 gets data of the wrong width: it reports, the others stop quietly.
    let case = Case::default();
    let narrow = || {
        let d = data(&case);
        Dataset::new(d.x().narrow(1, 0, 2).unwrap(), d.y().clone()).unwrap()
    };
    let runs = run_ranks(
        &case,
        3,
        |_| 1,
        |r| if r == 1 { narrow() } else { data(&case) },
    );
    assert!(
        matches!(runs[1], Err(Error::Config { .. })),
        "{:?}",
        runs[1]
    );
    for r in [0, 2] {
        assert!(
            matches!(runs[r], Err(Error::PeerFailed { rank: 1 })),
            "{:?}",
            runs[r]
        );
    }
}

/// `data`'s rows, whose batches cannot be read where `fails` (the same
/// rows and fingerprint otherwise: the ranks agree before training).
struct Unreadable {
    data: Dataset,
    fails: bool,
}

impl Rows for Unreadable {
    fn len(&self) -> usize {
        Rows::len(&self.data)
    }
    fn row_shape(&self) -> Vec<usize> {
        Rows::row_shape(&self.data)
    }
    fn batch(&self, rows: &[u32]) -> synapse_train::Result<(Tensor, Tensor)> {
        match self.fails {
            true => Err(Error::config("rows", "this rank cannot read its slice")),
            false => Rows::batch(&self.data, rows),
        }
    }
    fn targets(&self, rows: &[u32]) -> synapse_train::Result<Tensor> {
        Rows::targets(&self.data, rows)
    }
    fn check_fits(&self, spec: &ArchSpec, loss: Loss) -> synapse_train::Result<()> {
        Rows::check_fits(&self.data, spec, loss)
    }
    fn fingerprint(&self) -> synapse_train::Result<u64> {
        Rows::fingerprint(&self.data)
    }
}

/// A rank other than 0 whose own slice of a step fails reports its error,
/// and every other rank learns of it in that same step (`PeerFailed`
/// naming it) instead of waiting for it at the next one.
#[test]
fn a_step_that_fails_on_rank_1_ends_rank_0_with_peer_failed() {
    let case = Case::default();
    let (sender, results) = std::sync::mpsc::channel();
    for c in Threads::group(2) {
        let (case, sender) = (case.clone(), sender.clone());
        thread::spawn(move || {
            let rank = c.rank;
            let data = Unreadable {
                data: data(&case),
                fails: rank == 1,
            };
            let mut t = trainer(&case, 1).with_collective(Rc::new(c));
            let outcome = t.fit(&data, None, &mut Silent).map(|_| ());
            sender.send((rank, outcome)).unwrap();
        });
    }
    let mut runs = [None, None];
    for _ in 0..2 {
        // A rank left waiting for a peer that has ended never reports.
        let (rank, outcome) = results
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a rank still waits for its peer");
        runs[rank] = Some(outcome);
    }
    assert!(
        matches!(runs[1], Some(Err(Error::Config { .. }))),
        "{:?}",
        runs[1]
    );
    assert!(
        matches!(runs[0], Some(Err(Error::PeerFailed { rank: 1 }))),
        "{:?}",
        runs[0]
    );
}

#[test]
fn divergence_ends_every_rank_at_the_same_batch() {
    // Rows 4 and 5 hold a NaN input: with one batch of 6 rows over 3 ranks
    // they are rank 2's slice alone, so only rank 2's own loss is not
    // finite; the global loss is not either, so every rank reports the same
    // divergence (one process would). Every rank reads the same data (ranks
    // with other data are refused before training, see below).
    let case = Case {
        rows: 6,
        batch: 6,
        ..Case::default()
    };
    let poisoned = |_: usize| {
        let d = data(&case);
        let mut x = d.x().to_vec2::<f64>().unwrap();
        for row in &mut x[4..] {
            row[0] = f64::NAN;
        }
        let x = Tensor::new(x, &Device::Cpu).unwrap();
        Dataset::new(x, d.y().clone()).unwrap()
    };
    let runs = run_ranks(&case, 3, |_| 1, poisoned);
    for r in &runs {
        assert!(
            matches!(
                r,
                Err(Error::Diverged {
                    epoch: 1,
                    batch: 1,
                    ..
                })
            ),
            "{r:?}"
        );
    }
}

/// Ranks started with other data or other settings are refused before any
/// step, with one error (the lowest differing rank's, naming what differs)
/// and `PeerFailed` on the others; none trains an epoch.
#[test]
fn ranks_that_disagree_are_refused_before_training() {
    let case = Case::default();
    // Rank 1 reads other values (one input changed).
    let other_rows = |r: usize| {
        let d = data(&case);
        if r != 1 {
            return d;
        }
        let mut x = d.x().to_vec2::<f64>().unwrap();
        x[3][1] += 0.5;
        Dataset::new(Tensor::new(x, &Device::Cpu).unwrap(), d.y().clone()).unwrap()
    };
    let runs = run_ranks(&case, 3, |_| 1, other_rows);
    let message = match &runs[1] {
        Err(Error::Collective { reason }) => reason.clone(),
        other => panic!("rank 1: {other:?}"),
    };
    assert!(
        message.contains("training data differ from rank 0's"),
        "{message}"
    );
    for r in [0, 2] {
        assert!(
            matches!(runs[r], Err(Error::PeerFailed { rank: 1 })),
            "rank {r}: {:?}",
            runs[r]
        );
    }
    // Rank 2 asks for one epoch more.
    let handles: Vec<_> = Threads::group(3)
        .into_iter()
        .map(|c| {
            let mut case = case.clone();
            case.epochs += usize::from(c.rank == 2);
            let data = data(&case);
            thread::spawn(move || -> Outcome {
                let mut t = trainer(&case, 1).with_collective(Rc::new(c));
                let history = t.fit(&data, None, &mut Silent)?.clone();
                Ok((weights(&t), history))
            })
        })
        .collect();
    let runs: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let message = match &runs[2] {
        Err(Error::Collective { reason }) => reason.clone(),
        other => panic!("rank 2: {other:?}"),
    };
    assert!(
        message.contains("its epochs (7) differ from rank 0's (6)"),
        "{message}"
    );
    assert!(matches!(runs[0], Err(Error::PeerFailed { rank: 2 })));
}

#[test]
fn a_flat_buffer_counts_its_elements() {
    let (mut a, mut b) = ([1f32, 2., 3.], [0f64; 0]);
    assert_eq!(Flat::F32(&mut a).len(), 3);
    assert!(!Flat::F32(&mut a).is_empty());
    assert_eq!(Flat::F64(&mut b).len(), 0);
    assert!(Flat::F64(&mut b).is_empty());
}
