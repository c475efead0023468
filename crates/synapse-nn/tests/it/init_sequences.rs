//! The initialisation of the sequence kinds (SPEC section 10), against
//! numpy's own streams and PyTorch's defaults:
//!
//! | kind | `torch` |
//! | --- | --- |
//! | `embedding`, `positional` | N(0, 1): numpy's legacy `standard_normal` |
//! | `lstm`, `gru` | every tensor U(-1/sqrt(H), 1/sqrt(H)) |
//! | `attention` | `in_proj_weight` Xavier uniform (fans D, 3D), biases 0, `out_proj.weight` U(-1/sqrt(D), 1/sqrt(D)) |
//!
//! `xavier`/`he`: every weight matrix `[rows, cols]` by its fans (cols in,
//! rows out), biases 0. `numpy-uniform`: `2*np.random.random(shape) - 1` for
//! each tensor in state_dict order.

use candle_core::{DType, Device};
use synapse_nn::{ArchSpec, Init, Sequential};

fn state(spec: &str, init: Init, seed: u32) -> Vec<(String, Vec<usize>, Vec<f64>)> {
    let spec: ArchSpec = spec.parse().unwrap();
    let net = Sequential::init(&spec, init, seed, DType::F64, &Device::Cpu).unwrap();
    net.parameters()
        .into_iter()
        .map(|(name, p)| {
            let values = p.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            (name, p.dims().to_vec(), values)
        })
        .collect()
}

/// Mean, standard deviation and largest magnitude.
fn stats(values: &[f64]) -> (f64, f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let largest = values.iter().fold(0f64, |m, v| m.max(v.abs()));
    (mean, var.sqrt(), largest)
}

/// U(-bound, bound) with at least 10,000 draws: inside the bound, the largest
/// near it, the deviation within 2% of `bound/sqrt(3)` (relative standard
/// error about 0.5% at 10,000 draws; the seeds are fixed).
fn assert_uniform(name: &str, values: &[f64], bound: f64) {
    assert!(
        values.len() >= 10_000,
        "{name}: only {} draws",
        values.len()
    );
    let (mean, std, largest) = stats(values);
    assert!(largest <= bound, "{name}: {largest} beyond {bound}");
    assert!(
        largest > 0.999 * bound,
        "{name}: largest {largest} of {bound}"
    );
    let want = bound / 3f64.sqrt();
    assert!(
        (std - want).abs() < 0.02 * want,
        "{name}: std {std} vs {want}"
    );
    assert!(mean.abs() < 0.02 * bound, "{name}: mean {mean}");
}

// np.random.seed(1); print(', '.join(repr(float(v)) for v in np.random.standard_normal(18)))
const NORMAL_SEED_1: [f64; 18] = [
    1.6243453636632417,
    -0.6117564136500754,
    -0.5281717522634557,
    -1.0729686221561705,
    0.8654076293246785,
    -2.3015386968802827,
    1.74481176421648,
    -0.7612069008951028,
    0.31903909605709857,
    -0.2493703754774101,
    1.462107937044974,
    -2.060140709497654,
    -0.3224172040135075,
    -0.38405435466841564,
    1.1337694423354374,
    -1.0998912673140309,
    -0.17242820755043575,
    -0.8778584179213718,
];

#[test]
fn torch_embeddings_and_positions_are_numpys_standard_normal_in_order() {
    let s = state(
        "embedding(2,3), positional(4,3), linear(3,1)",
        Init::Torch,
        1,
    );
    assert_eq!(s[0].0, "0.weight");
    assert_eq!(s[0].1, [2, 3]);
    assert_eq!(s[0].2, NORMAL_SEED_1[..6]);
    assert_eq!(s[1].0, "1.weight");
    assert_eq!(s[1].1, [4, 3]);
    assert_eq!(s[1].2, NORMAL_SEED_1[6..]);
    // And N(0, 1) over many draws.
    let s = state("embedding(300,100), linear(100,1)", Init::Torch, 7);
    let (mean, std, _) = stats(&s[0].2);
    assert!(
        mean.abs() < 0.02 && (std - 1.0).abs() < 0.02,
        "{mean} {std}"
    );
}

#[test]
fn torch_recurrent_and_attention_tensors_follow_pytorchs_defaults() {
    for seed in [1, 7] {
        let s = state(
            "lstm(60,100), gru(100,120), attention(120,4)",
            Init::Torch,
            7 * seed,
        );
        let names: Vec<&str> = s.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "0.weight_ih_l0",
                "0.weight_hh_l0",
                "0.bias_ih_l0",
                "0.bias_hh_l0",
                "1.weight_ih_l0",
                "1.weight_hh_l0",
                "1.bias_ih_l0",
                "1.bias_hh_l0",
                "2.in_proj_weight",
                "2.in_proj_bias",
                "2.out_proj.weight",
                "2.out_proj.bias",
            ]
        );
        // Every recurrent tensor by 1/sqrt(H); the biases are too short for
        // the spread, so two of each kind together.
        let lstm = 1.0 / 100f64.sqrt();
        let gru = 1.0 / 120f64.sqrt();
        assert_uniform(&s[0].0, &s[0].2, lstm);
        assert_uniform(&s[1].0, &s[1].2, lstm);
        assert_uniform(&s[4].0, &s[4].2, gru);
        assert_uniform(&s[5].0, &s[5].2, gru);
        for (i, b) in [(2, lstm), (3, lstm), (6, gru), (7, gru)] {
            let (_, _, largest) = stats(&s[i].2);
            assert!(largest <= b && largest > 0.9 * b, "{}: {largest}", s[i].0);
        }
        let d = 120f64;
        assert_eq!(s[8].1, [360, 120]);
        assert_uniform(&s[8].0, &s[8].2, (6.0 / (d + 3.0 * d)).sqrt());
        assert_uniform(&s[10].0, &s[10].2, 1.0 / d.sqrt());
        for i in [9, 11] {
            assert!(s[i].2.iter().all(|&v| v == 0.0), "{} must be 0", s[i].0);
        }
    }
}

#[test]
fn xavier_and_he_draw_every_weight_matrix_by_its_fans_and_zero_biases() {
    let spec = "embedding(200,60), lstm(60,100), attention(100,2), linear(100,3)";
    for (init, bound) in [
        (
            Init::Xavier,
            (|i: usize, o: usize| (6.0 / (i + o) as f64).sqrt()) as fn(usize, usize) -> f64,
        ),
        (Init::He, |i: usize, _| (6.0 / i as f64).sqrt()),
    ] {
        for (name, shape, values) in state(spec, init, 3) {
            if let [rows, cols] = shape[..] {
                let (_, _, largest) = stats(&values);
                let b = bound(cols, rows);
                assert!(largest <= b, "{init} {name}: {largest} beyond {b}");
                if values.len() >= 10_000 {
                    assert_uniform(&format!("{init} {name}"), &values, b);
                }
            } else {
                assert!(values.iter().all(|&v| v == 0.0), "{init} {name} must be 0");
            }
        }
    }
}

#[test]
fn numpy_uniform_draws_each_new_tensor_in_state_dict_order() {
    // np.random.seed(3)
    // for n, s in names:  # the state_dict order below
    //     print(n, [repr(x) for x in (2*np.random.random(s) - 1).ravel()])
    let want: [(&str, &[f64]); 9] = [
        (
            "0.weight",
            &[
                0.10159580514915101,
                0.41629564523620965,
                -0.41819052217411135,
                0.02165521039532603,
                0.7858939086953094,
                0.7925861778668761,
            ],
        ),
        (
            "1.in_proj_weight",
            &[
                -0.7488293790723275,
                -0.5855142437236265,
                -0.8970655933983402,
                -0.11838031269872706,
                -0.9402475782428661,
                -0.08633355121057784,
                0.2982880952295215,
                -0.4430254347040494,
                0.35250980396026255,
                0.18172563483270165,
                -0.9520362352456693,
                0.11770817598176397,
            ],
        ),
        (
            "1.in_proj_bias",
            &[
                -0.4814951061850692,
                -0.1697976059798607,
                -0.4329498364573625,
                0.38627583662599263,
                -0.11909256465852103,
                -0.6862645230500735,
            ],
        ),
        (
            "1.out_proj.weight",
            &[
                0.08929803606368947,
                0.5606295290227341,
                -0.3872729352476405,
                -0.5560842321356372,
            ],
        ),
        (
            "1.out_proj.bias",
            &[-0.22405748488870247, 0.8727672997208609],
        ),
        (
            "2.weight_ih_l0",
            &[
                0.9519908449458676,
                0.34476735182562734,
                0.8056682170767961,
                0.6915017425863585,
                -0.24401191734222172,
                -0.8155659822565515,
            ],
        ),
        (
            "2.weight_hh_l0",
            &[
                0.30682180504707235,
                0.11568152477690186,
                -0.27687047387484376,
            ],
        ),
        (
            "2.bias_ih_l0",
            &[
                -0.5498909903203362,
                -0.18696016724750275,
                -0.06211950260166188,
            ],
        ),
        (
            "2.bias_hh_l0",
            &[
                -0.4615288434978775,
                -0.4164144515491348,
                -0.08462720135404411,
            ],
        ),
    ];
    let got = state(
        "embedding(3,2), attention(2,1), gru(2,1)",
        Init::NumpyUniform,
        3,
    );
    assert_eq!(got.len(), want.len());
    for ((name, _, values), (want_name, want_values)) in got.iter().zip(want) {
        assert_eq!(name, want_name);
        // 2*u - 1 is exact in f64 for numpy's 53-bit u, so the bits agree.
        assert_eq!(values, want_values, "{name}");
    }
}
