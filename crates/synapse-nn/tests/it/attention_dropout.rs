//! `attention(D,HEADS,...,dropout=P)` (SPEC section 12): attention weights
//! dropped in training only, from the stack's seeded generator; P = 0 and
//! evaluation are the layer without it, bit for bit. (PyTorch draws its
//! masks from another generator, so parity with it is checked at P = 0:
//! the attention rows of pytorch_values.rs and the GPT-2 folder's logits.)

use candle_core::{DType, Device, Tensor};
use synapse_nn::{ArchSpec, Init, Mode, Mt19937, Sequential};

fn net(spec: &str) -> Sequential {
    let spec: ArchSpec = spec.parse().unwrap();
    Sequential::init(&spec, Init::Torch, 3, DType::F64, &Device::Cpu).unwrap()
}

fn input() -> Tensor {
    let v: Vec<f64> = (0..2 * 5 * 8)
        .map(|k| ((k * 37 % 23) as f64 - 11.0) / 7.0)
        .collect();
    Tensor::from_vec(v, (2, 5, 8), &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_vec1::<f64>().unwrap()
}

#[test]
fn the_option_parses_prints_and_is_refused_out_of_range() {
    let spec: ArchSpec = "attention(8,2,causal=true,dropout=0.25)".parse().unwrap();
    assert_eq!(spec.to_string(), "attention(8,2,causal=true,dropout=0.25)");
    let zero: ArchSpec = "attention(8,2,dropout=0)".parse().unwrap();
    assert_eq!(zero.to_string(), "attention(8,2)");
    for bad in ["attention(8,2,dropout=1)", "attention(8,2,dropout=-0.1)"] {
        let e = bad.parse::<ArchSpec>().unwrap_err().to_string();
        assert!(e.contains("dropout"), "{bad}: {e}");
    }
}

#[test]
fn evaluation_ignores_it_and_training_drops_weights_reproducibly() {
    let with = net("attention(8,2,causal=true,dropout=0.5)");
    let without = net("attention(8,2,causal=true)");
    let x = input();
    let eval = values(&with.forward(&x, Mode::Eval).unwrap());
    assert_eq!(eval, values(&without.forward(&x, Mode::Eval).unwrap()));
    // P = 0 in training is evaluation, bit for bit.
    let mut rng = Mt19937::new(9);
    let train0 = values(&without.forward(&x, Mode::Train(&mut rng)).unwrap());
    assert_eq!(train0, eval);
    // P = 0.5: the same seed, the same masks; another seed, other masks.
    let run = |seed| {
        let mut rng = Mt19937::new(seed);
        values(&with.forward(&x, Mode::Train(&mut rng)).unwrap())
    };
    let (a, b, c) = (run(9), run(9), run(10));
    assert_eq!(a, b);
    assert_ne!(a, eval);
    assert_ne!(a, c);
}
