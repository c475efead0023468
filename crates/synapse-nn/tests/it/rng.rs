//! Our MT19937 against numpy's legacy `RandomState`, bit for bit.
//!
//! Expected values printed by numpy 2.4 with this script:
//! ```python
//! import numpy as np
//! for seed in [0, 1, 42, 12345, 2**32-1]:
//!     np.random.seed(seed); v = np.random.random(5)
//!     np.random.seed(seed); w = 2*np.random.random((2,3)) - 1
//!     print(seed, [repr(float(x)) for x in v], [repr(float(x)) for x in w.ravel()])
//! np.random.seed(7); a = np.random.random(1000); print(repr(a[623]), repr(a[999]))
//! for seed in [1, 3]: np.random.seed(seed); print(list(np.random.permutation(10)))
//! np.random.seed(5); x = np.arange(100); np.random.shuffle(x); print(list(x[:10]))
//! ```

use candle_core::{DType, Device};
use synapse_nn::{ArchSpec, Init, Mt19937, Sequential};

const STREAMS: [(u32, [f64; 5], [f64; 6]); 5] = [
    (
        0,
        [
            0.5488135039273248,
            0.7151893663724195,
            0.6027633760716439,
            0.5448831829968969,
            0.4236547993389047,
        ],
        [
            0.0976270078546495,
            0.43037873274483895,
            0.20552675214328775,
            0.08976636599379373,
            -0.15269040132219058,
            0.29178822613331223,
        ],
    ),
    (
        1,
        [
            0.417022004702574,
            0.7203244934421581,
            0.00011437481734488664,
            0.30233257263183977,
            0.14675589081711304,
        ],
        [
            -0.165955990594852,
            0.4406489868843162,
            -0.9997712503653102,
            -0.39533485473632046,
            -0.7064882183657739,
            -0.8153228104624044,
        ],
    ),
    (
        42,
        [
            0.3745401188473625,
            0.9507143064099162,
            0.7319939418114051,
            0.5986584841970366,
            0.15601864044243652,
        ],
        [
            -0.250919762305275,
            0.9014286128198323,
            0.4639878836228102,
            0.1973169683940732,
            -0.687962719115127,
            -0.6880109593275947,
        ],
    ),
    (
        12345,
        [
            0.9296160928171479,
            0.3163755545817859,
            0.18391881167709445,
            0.2045602785530397,
            0.5677250290816866,
        ],
        [
            0.8592321856342957,
            -0.3672488908364282,
            -0.6321623766458111,
            -0.5908794428939206,
            0.1354500581633733,
            0.1910894059585031,
        ],
    ),
    (
        4294967295,
        [
            0.0976320289940138,
            0.9123828453026218,
            0.78903530185164,
            0.7800035981134678,
            0.01793967398674523,
        ],
        [
            -0.8047359420119724,
            0.8247656906052436,
            0.5780706037032799,
            0.5600071962269355,
            -0.9641206520265095,
            0.9390118644295049,
        ],
    ),
];

#[test]
fn random_sample_matches_numpy_for_several_seeds() {
    for (seed, expected, _) in STREAMS {
        let mut rng = Mt19937::new(seed);
        let got: Vec<f64> = (0..5).map(|_| rng.random_sample()).collect();
        assert_eq!(got, expected, "seed {seed}");
    }
}

#[test]
fn stream_stays_exact_past_the_first_regeneration() {
    // 1000 doubles take 2000 words: the twister regenerates three times.
    let mut rng = Mt19937::new(7);
    let a: Vec<f64> = (0..1000).map(|_| rng.random_sample()).collect();
    assert_eq!(a[623], 0.06993906408407957);
    assert_eq!(a[999], 0.016448753231374513);
}

/// The bulk draws are the one-by-one draws: from a fresh generator and from
/// one part-way through its state, across several regenerations, in runs
/// of every length from 0 up.
#[test]
fn bulk_draws_are_the_draws_one_by_one() {
    for skip in [0, 1, 623, 700] {
        let (mut one, mut bulk) = (Mt19937::new(5), Mt19937::new(5));
        for _ in 0..skip {
            one.next_u32();
            bulk.next_u32();
        }
        for len in [0, 1, 2, 623, 624, 625, 1500] {
            let want: Vec<u32> = (0..len).map(|_| one.next_u32()).collect();
            let mut got = vec![0u32; len];
            bulk.fill_u32(&mut got);
            assert_eq!(got, want, "skip {skip}, run {len}");
        }
        assert_eq!(bulk, one, "skip {skip}: the states after");
    }
}

/// `fill_keep` is `random_sample() >= p` value by value, the generator left
/// where the loop leaves it; at `p` equal to a sample that value is kept,
/// one ulp above it dropped (the comparison is `>=`, on all 53 bits).
#[test]
fn keep_flags_are_samples_at_or_above_p() {
    for p in [0.0, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.9, 1e-300] {
        let (mut one, mut bulk) = (Mt19937::new(11), Mt19937::new(11));
        let want: Vec<bool> = (0..1300).map(|_| one.random_sample() >= p).collect();
        let mut got = vec![false; 1300];
        bulk.fill_keep(&mut got, p);
        assert_eq!(got, want, "p {p}");
        assert_eq!(bulk, one, "p {p}: the states after");
    }
    let rng = Mt19937::new(3);
    let mut peek = rng.clone();
    let draws: Vec<f64> = (0..3).map(|_| peek.random_sample()).collect();
    for (i, &u) in draws.iter().enumerate() {
        let mut at = rng.clone();
        let mut flags = vec![false; 3];
        at.fill_keep(&mut flags, u);
        assert!(flags[i], "sample {i} = p is kept");
        let mut above = rng.clone();
        above.fill_keep(&mut flags, f64::from_bits(u.to_bits() + 1));
        assert!(!flags[i], "sample {i} < p by one ulp is dropped");
    }
}

#[test]
fn numpy_uniform_init_is_numpys_matrix_transposed() {
    // linear(2,3): numpy draws W as (in=2, out=3) row-major; we store [3, 2].
    let spec: ArchSpec = "linear(2,3,bias=false)".parse().unwrap();
    for (seed, _, w) in STREAMS {
        let net =
            Sequential::init(&spec, Init::NumpyUniform, seed, DType::F64, &Device::Cpu).unwrap();
        let got = net.parameters()[0].1.to_vec2::<f64>().unwrap();
        let expected = vec![vec![w[0], w[3]], vec![w[1], w[4]], vec![w[2], w[5]]];
        assert_eq!(got, expected, "seed {seed}");
    }
}

#[test]
fn article_weights_from_seed_one() {
    let spec: ArchSpec = "linear(3,1,bias=false), sigmoid".parse().unwrap();
    let net = Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &Device::Cpu).unwrap();
    let w = net.parameters()[0]
        .1
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert_eq!(
        w,
        [-0.165955990594852, 0.4406489868843162, -0.9997712503653102]
    );
}

#[test]
fn numpy_uniform_bias_follows_its_weight() {
    // linear(2,1): W takes 2 draws, b the third; linear(1,2) then takes draws 4-5 and 6-7.
    let spec: ArchSpec = "linear(2,1), tanh, linear(1,2)".parse().unwrap();
    let net = Sequential::init(&spec, Init::NumpyUniform, 42, DType::F64, &Device::Cpu).unwrap();
    let flat: Vec<f64> = net
        .parameters()
        .iter()
        .flat_map(|(_, v)| v.flatten_all().unwrap().to_vec1::<f64>().unwrap())
        .collect();
    let mut rng = Mt19937::new(42);
    let draws: Vec<f64> = (0..7).map(|_| 2.0 * rng.random_sample() - 1.0).collect();
    assert_eq!(flat, draws);
    assert_eq!(draws[..5], STREAMS[2].2[..5]);
}

#[test]
fn shuffle_matches_numpy_permutation() {
    for (seed, expected) in [
        (1, [2, 9, 6, 4, 0, 3, 1, 7, 8, 5]),
        (3, [5, 4, 1, 2, 9, 6, 7, 0, 3, 8]),
    ] {
        let mut rng = Mt19937::new(seed);
        let mut items: Vec<u32> = (0..10).collect();
        rng.shuffle(&mut items);
        assert_eq!(items, expected, "seed {seed}");
    }
    let mut rng = Mt19937::new(5);
    let mut items: Vec<u32> = (0..100).collect();
    rng.shuffle(&mut items);
    assert_eq!(items[..10], [66, 32, 46, 28, 74, 23, 10, 20, 17, 35]);
}

#[test]
fn state_round_trips_through_words() {
    let mut rng = Mt19937::new(9);
    for _ in 0..700 {
        rng.next_u32();
    }
    let mut copy = Mt19937::from_words(&rng.to_words()).unwrap();
    for _ in 0..1000 {
        assert_eq!(rng.next_u32(), copy.next_u32());
    }
    assert!(Mt19937::from_words(&[1, 2, 3]).is_none());
}
