//! Batching, shuffling, the validation split and normalisation.

use candle_core::{DType, Device, Tensor};
use synapse_nn::Mt19937;
use synapse_train::{batches, epoch_order, train_val_split, BatchSize, Dataset, Normalizer};

#[test]
fn batches_are_consecutive_and_keep_the_last_smaller_one() {
    let order: Vec<u32> = (0..10).collect();
    let got: Vec<Vec<u32>> = batches(&order, BatchSize::Rows(4))
        .map(<[u32]>::to_vec)
        .collect();
    assert_eq!(got, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
    assert_eq!(batches(&order, BatchSize::Full).count(), 1);
    assert_eq!(batches(&order, BatchSize::Rows(100)).count(), 1);
    assert_eq!("full".parse::<BatchSize>().unwrap(), BatchSize::Full);
    assert_eq!("7".parse::<BatchSize>().unwrap(), BatchSize::Rows(7));
    for bad in ["0", "-1", "x", ""] {
        assert!(
            bad.parse::<BatchSize>()
                .unwrap_err()
                .to_string()
                .contains("batch-size"),
            "{bad}"
        );
    }
}

/// A batch size is written as it is read: `full`, or its count of rows
/// (what settings and messages print parses back to the same size).
#[test]
fn a_batch_size_is_written_as_it_is_read() {
    for size in [BatchSize::Full, BatchSize::Rows(1), BatchSize::Rows(32)] {
        let text = size.to_string();
        assert_eq!(text.parse::<BatchSize>().unwrap(), size, "`{text}`");
    }
}

#[test]
fn shuffling_is_a_seeded_permutation_every_epoch() {
    let mut a = Mt19937::new(5);
    let mut b = Mt19937::new(5);
    let mut previous = Vec::new();
    for _ in 0..5 {
        let (oa, ob) = (
            epoch_order(1000, true, &mut a),
            epoch_order(1000, true, &mut b),
        );
        assert_eq!(oa, ob, "same seed, same order");
        let mut sorted = oa.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>(), "a permutation");
        assert_ne!(oa, previous, "a new order each epoch");
        previous = oa;
    }
    assert_ne!(
        epoch_order(1000, true, &mut Mt19937::new(6)),
        epoch_order(1000, true, &mut Mt19937::new(5))
    );
    assert_eq!(epoch_order(5, false, &mut a), [0, 1, 2, 3, 4]);
}

#[test]
fn every_row_is_seen_once_per_epoch() {
    let mut rng = Mt19937::new(9);
    for (n, size) in [(1, 1), (7, 3), (100, 32), (64, 64), (65, 64)] {
        let order = epoch_order(n, true, &mut rng);
        let mut seen = vec![0; n];
        let mut count = 0;
        for batch in batches(&order, BatchSize::Rows(size)) {
            assert!(!batch.is_empty() && batch.len() <= size);
            batch.iter().for_each(|&i| seen[i as usize] += 1);
            count += 1;
        }
        assert!(seen.iter().all(|&s| s == 1), "n={n} size={size}");
        assert_eq!(count, n.div_ceil(size));
    }
}

#[test]
fn validation_split_is_seeded_and_disjoint() {
    let x = Tensor::arange(0f64, 20.0, &Device::Cpu)
        .unwrap()
        .reshape((20, 1))
        .unwrap();
    let data = Dataset::new(x.clone(), x).unwrap();
    let rows = |d: &Dataset| d.x().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let (t1, v1) = train_val_split(&data, 0.25, 3).unwrap();
    let (t2, v2) = train_val_split(&data, 0.25, 3).unwrap();
    assert_eq!((rows(&t1), rows(&v1)), (rows(&t2), rows(&v2)));
    assert_eq!((t1.rows(), v1.rows()), (15, 5));
    let mut all = [rows(&t1), rows(&v1)].concat();
    all.sort_by(f64::total_cmp);
    assert_eq!(all, (0..20).map(f64::from).collect::<Vec<_>>());
    assert_ne!(rows(&v1), rows(&train_val_split(&data, 0.25, 4).unwrap().1));
    for bad in [0.0, 1.0, -0.5, f64::NAN, 0.01] {
        assert!(train_val_split(&data, bad, 1).is_err(), "{bad}");
    }
}

// numpy: x = np.array([[1.,10,5],[2,20,5],[4,60,5]]); x.mean(0), x.std(0),
// (x - x.mean(0)) / np.where(x.std(0) == 0, 1, x.std(0))
#[test]
fn normalizer_matches_numpy() {
    let x = Tensor::new(
        &[[1.0f64, 10.0, 5.0], [2.0, 20.0, 5.0], [4.0, 60.0, 5.0]],
        &Device::Cpu,
    )
    .unwrap();
    let n = Normalizer::fit(&x).unwrap();
    assert_eq!(n.mean, [2.3333333333333335, 30.0, 5.0]);
    let std = [1.247219128924647, 21.602468994692867, 1.0];
    for (a, b) in n.std.iter().zip(std) {
        assert!((a - b).abs() < 1e-15, "{:?}", n.std);
    }
    let expected = [
        [-1.0690449676496978, -0.9258200997725515, 0.0],
        [-0.2672612419124245, -0.46291004988627577, 0.0],
        [1.3363062095621219, 1.3887301496588271, 0.0],
    ];
    let got = n.apply(&x).unwrap().to_vec2::<f64>().unwrap();
    for (g, e) in got.iter().flatten().zip(expected.iter().flatten()) {
        assert!((g - e).abs() < 1e-14, "{got:?}");
    }
    // f32 data gets f32 output; the JSON form round-trips.
    assert_eq!(
        n.apply(&x.to_dtype(DType::F32).unwrap()).unwrap().dtype(),
        DType::F32
    );
    assert_eq!(Normalizer::from_json(&n.to_json()).unwrap(), n);
    assert!(Normalizer::from_json("{\"mean\":[1],\"std\":[]}").is_err());
    assert!(n
        .apply(&Tensor::zeros((2, 2), DType::F64, &Device::Cpu).unwrap())
        .is_err());
}

/// `with_x` and `with_y` replace their side and keep the other;
/// `to_device` converts both sides' numbers to the dtype and keeps ids as
/// ids.
#[test]
fn a_dataset_replaces_a_side_and_converts_its_numbers() {
    let x = Tensor::new(&[[1.0f64, 2.0], [3.0, 4.0]], &Device::Cpu).unwrap();
    let y = Tensor::new(&[[0.5f64], [1.5]], &Device::Cpu).unwrap();
    let data = Dataset::new(x.clone(), y.clone()).unwrap();
    let doubled = data.with_x((&x * 2.0).unwrap()).unwrap();
    assert_eq!(
        doubled.x().to_vec2::<f64>().unwrap(),
        [[2.0, 4.0], [6.0, 8.0]]
    );
    assert_eq!(doubled.y().to_vec2::<f64>().unwrap(), [[0.5], [1.5]]);
    let halved = data.with_y((&y / 2.0).unwrap()).unwrap();
    assert_eq!(halved.y().to_vec2::<f64>().unwrap(), [[0.25], [0.75]]);
    assert_eq!(
        halved.x().to_vec2::<f64>().unwrap(),
        x.to_vec2::<f64>().unwrap()
    );
    let f32s = data.to_device(&Device::Cpu, DType::F32).unwrap();
    assert_eq!(
        (f32s.x().dtype(), f32s.y().dtype()),
        (DType::F32, DType::F32)
    );
    assert_eq!(f32s.x().to_vec2::<f32>().unwrap(), [[1.0, 2.0], [3.0, 4.0]]);
    let ids = Tensor::new(&[[1i64, 2], [3, 0]], &Device::Cpu).unwrap();
    let ids = Dataset::new(ids, y)
        .unwrap()
        .to_device(&Device::Cpu, DType::F32)
        .unwrap();
    assert_eq!((ids.x().dtype(), ids.y().dtype()), (DType::I64, DType::F32));
}
