//! The random initialisations keep to their bounds and have the spread of a
//! uniform distribution on them (SPEC section 3), layer by layer:
//!
//! | init | weight | bias |
//! | --- | --- | --- |
//! | `torch` | U(-k, k), `k = 1/sqrt(in)` | U(-k, k) |
//! | `xavier` | U(-a, a), `a = sqrt(6/(in + out))` | 0 |
//! | `he` | U(-a, a), `a = sqrt(6/in)` | 0 |
//!
//! For U(-a, a): mean 0, standard deviation `a/sqrt(3)`, and the largest of
//! n draws close to `a`. With 120,000 draws per weight the sample deviation is
//! within 1% of `a/sqrt(3)` with overwhelming probability (its relative
//! standard error is about 0.3%); the seeds are fixed, so the test is
//! deterministic.

use candle_core::{DType, Device};
use synapse_nn::{ArchSpec, Init, Sequential};

fn stats(values: &[f64]) -> (f64, f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let largest = values.iter().fold(0f64, |m, v| m.max(v.abs()));
    (mean, var.sqrt(), largest)
}

fn check(
    init: Init,
    weight_bound: impl Fn(usize, usize) -> f64,
    bias_bound: Option<fn(usize) -> f64>,
) {
    let spec: ArchSpec = "linear(400,300), relu, linear(300,200)".parse().unwrap();
    for seed in [1, 7] {
        let net = Sequential::init(&spec, init, seed, DType::F64, &Device::Cpu).unwrap();
        for (name, p) in net.parameters() {
            let values = p.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let dims = p.dims().to_vec();
            let (fan_out, fan_in) = if dims.len() == 2 {
                (dims[0], dims[1])
            } else {
                (dims[0], 0)
            };
            let bound = if name.ends_with("weight") {
                weight_bound(fan_in, fan_out)
            } else {
                let input = if name.starts_with('0') { 400 } else { 300 };
                match bias_bound {
                    Some(b) => b(input),
                    None => {
                        assert!(
                            values.iter().all(|&v| v == 0.0),
                            "{init}: {name} must be zero"
                        );
                        continue;
                    }
                }
            };
            let (mean, std, largest) = stats(&values);
            assert!(largest <= bound, "{init} {name}: {largest} beyond {bound}");
            if values.len() >= 10_000 {
                assert!(
                    largest > 0.999 * bound,
                    "{init} {name}: largest {largest} of {bound}"
                );
                let want = bound / 3f64.sqrt();
                assert!(
                    (std - want).abs() < 0.01 * want,
                    "{init} {name}: std {std} vs {want}"
                );
                assert!(mean.abs() < 0.01 * bound, "{init} {name}: mean {mean}");
            }
        }
    }
}

#[test]
fn torch_init_is_uniform_in_one_over_root_fan_in() {
    check(
        Init::Torch,
        |fan_in, _| 1.0 / (fan_in as f64).sqrt(),
        Some(|fan_in| 1.0 / (fan_in as f64).sqrt()),
    );
}

#[test]
fn xavier_init_is_uniform_in_root_six_over_fans() {
    check(Init::Xavier, |i, o| (6.0 / (i + o) as f64).sqrt(), None);
}

#[test]
fn he_init_is_uniform_in_root_six_over_fan_in() {
    check(Init::He, |i, _| (6.0 / i as f64).sqrt(), None);
}

/// The names SPEC section 3 gives each init (`--init NAME`).
#[test]
fn each_init_is_found_by_its_name() {
    for (name, init) in [
        ("torch", Init::Torch),
        ("numpy-uniform", Init::NumpyUniform),
        ("article", Init::NumpyUniform),
        ("xavier", Init::Xavier),
        ("he", Init::He),
    ] {
        assert_eq!(name.parse::<Init>().unwrap(), init, "{name}");
    }
    let e = "kaiming".parse::<Init>().unwrap_err().to_string();
    assert!(e.contains("`kaiming`") && e.contains("he"), "{e}");
}

/// A convolution's fans count its kernel's positions: `in K K` and `out K
/// K` (PyTorch's `_calculate_fan_in_and_fan_out`). Xavier over conv2d(8,
/// 16,5): U(-a, a), a = sqrt(6 / (200 + 400)) = 0.1, reached (3,200 values)
/// and never passed.
#[test]
fn xavier_init_of_a_convolution_counts_the_kernel_in_both_fans() {
    let spec: ArchSpec = "conv2d(8,16,5)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Xavier, 3, DType::F64, &Device::Cpu).unwrap();
    let (_, w) = net
        .parameters()
        .into_iter()
        .find(|(n, _)| n == "0.weight")
        .unwrap();
    let values = w.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let bound = (6.0f64 / (8 * 25 + 16 * 25) as f64).sqrt();
    let (_, _, largest) = stats(&values);
    assert!(
        largest <= bound && largest > 0.99 * bound,
        "{largest} of {bound}"
    );
}
