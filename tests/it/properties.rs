//! Property tests (proptest, 48 cases each from a fixed seed, kept fast for CI):
//! random stacks and data.
//! - autodiff equals the hand-coded reference, step after step;
//! - save -> load of a model file is the identity, bit for bit;
//! - the spec's `Display` -> `parse` is the identity;
//! - shuffling is a permutation; batching covers every row once per epoch.

use crate::common::{assert_agree, to_reference};
use proptest::prelude::*;
use synapse::nn::{
    Activation, ArchSpec, ElementSpec, Init, Loss, Mode, Mt19937, Optimizer, Sequential, Sgd,
    SgdConfig,
};
use synapse::prelude::{DType, Device, Tensor};
use synapse::reference::{Matrix, RefLoss};
use synapse::train::{batches, epoch_order, BatchSize, Model, Normalizer};

fn activation(any: bool) -> BoxedStrategy<Activation> {
    let basic = prop_oneof![
        Just(Activation::Sigmoid),
        Just(Activation::Tanh),
        Just(Activation::Relu),
        Just(Activation::Identity),
    ];
    if any {
        prop_oneof![
            basic,
            Just(Activation::Softmax),
            (-2.0f64..2.0).prop_map(Activation::LeakyRelu),
        ]
        .boxed()
    } else {
        basic.boxed()
    }
}

/// Stacks of 1-4 linear layers of width 1-16, each maybe followed by an activation.
fn spec(any_activation: bool) -> impl Strategy<Value = ArchSpec> {
    let layer = (
        1usize..=16,
        any::<bool>(),
        proptest::option::of(activation(any_activation)),
    );
    (1usize..=16, proptest::collection::vec(layer, 1..=4)).prop_map(|(input, layers)| {
        let mut width = input;
        let mut elements = Vec::new();
        for (output, bias, act) in layers {
            elements.push(ElementSpec::Linear(synapse::nn::LinearSpec {
                input: width,
                output,
                bias,
                tied: None,
            }));
            elements.extend(act.map(ElementSpec::Activation));
            width = output;
        }
        ArchSpec::new(elements).expect("sizes chain")
    })
}

/// 48 cases from a fixed seed: the same cases on every run and machine (a
/// failure is reproducible; a new seed is a deliberate change). Cases that
/// once failed are replayed first from `properties.proptest-regressions`.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0005_eed0_f5a9_a95e),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn display_then_parse_is_the_identity(spec in spec(true)) {
        let text = spec.to_string();
        let back: ArchSpec = text.parse().unwrap();
        prop_assert_eq!(&back, &spec);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn autodiff_equals_the_reference(spec in spec(false), seed in 0u32..1000, rows in 1usize..8, mse in any::<bool>()) {
        let dev = Device::Cpu;
        let net = Sequential::init(&spec, Init::Torch, seed, DType::F64, &dev).unwrap();
        let mut reference = to_reference(&net).unwrap();
        let mut rng = Mt19937::new(seed);
        let x: Vec<f64> = (0..rows * spec.input_dim()).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let y: Vec<f64> = (0..rows * spec.output_dim()).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let (xm, ym) = (Matrix::new(rows, spec.input_dim(), x.clone()), Matrix::new(rows, spec.output_dim(), y.clone()));
        let (xt, yt) = (Tensor::from_vec(x, (rows, spec.input_dim()), &dev).unwrap(), Tensor::from_vec(y, (rows, spec.output_dim()), &dev).unwrap());
        let (loss, ref_loss) = if mse { (Loss::Mse, RefLoss::Mse) } else { (Loss::Sse, RefLoss::Sse) };
        let mut sgd = Sgd::new(net.parameters(), SgdConfig { lr: 0.05, ..Default::default() }).unwrap();
        for step in 0..3 {
            sgd.step(&loss.forward(&net.forward(&xt, Mode::Eval).unwrap(), &yt).unwrap().backward().unwrap()).unwrap();
            reference.sgd_step(&xm, &ym, ref_loss, 0.05);
            assert_agree(&net, &reference, &format!("`{spec}` step {step}")).unwrap();
        }
    }

    #[test]
    fn save_then_load_is_the_identity(spec in spec(true), seed in 0u32..1000, f64_ in any::<bool>(), labels in any::<bool>()) {
        let dtype = if f64_ { DType::F64 } else { DType::F32 };
        let net = Sequential::init(&spec, Init::Torch, seed, dtype, &Device::Cpu).unwrap();
        let mut model = Model::new(net.clone());
        // Class words belong to classifiers: one per output, at least two.
        let labels = labels && spec.output_dim() >= 2;
        model.loss = Some(if labels { Loss::CrossEntropy } else { Loss::Mse });
        model.labels = labels.then(|| (0..spec.output_dim()).map(|i| format!("class {i}")).collect());
        model.normalize = Some(Normalizer { mean: vec![0.5; spec.input_dim()], std: vec![2.0; spec.input_dim()] });
        let bytes = model.to_bytes().unwrap();
        let back = Model::from_bytes(std::path::Path::new("p.safetensors"), &bytes, None, &Device::Cpu).unwrap();
        prop_assert_eq!(back.net.spec(), &spec);
        prop_assert_eq!(back.net.dtype(), dtype);
        prop_assert_eq!(&back.labels, &model.labels);
        prop_assert_eq!(&back.normalize, &model.normalize);
        let (ours, theirs) = (net.snapshot().unwrap(), back.net.snapshot().unwrap());
        prop_assert_eq!(ours.len(), theirs.len());
        for ((n1, a), (n2, b)) in ours.iter().zip(theirs) {
            prop_assert_eq!(n1, &n2);
            let (a, b) = (a.to_dtype(DType::F64).unwrap().flatten_all().unwrap(), b.to_dtype(DType::F64).unwrap().flatten_all().unwrap());
            let bits = |t: &Tensor| t.to_vec1::<f64>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&a), bits(&b));
        }
        // And it writes the same bytes again.
        prop_assert_eq!(back.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn shuffling_is_a_permutation(n in 0usize..2000, seed in any::<u32>()) {
        let order = epoch_order(n, true, &mut Mt19937::new(seed));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..n as u32).collect::<Vec<_>>());
    }

    #[test]
    fn batching_covers_every_row_once_per_epoch(n in 1usize..500, size in 1usize..80, seed in any::<u32>(), epochs in 1usize..4) {
        let mut rng = Mt19937::new(seed);
        for _ in 0..epochs {
            let order = epoch_order(n, true, &mut rng);
            let mut seen = vec![0u8; n];
            let all: Vec<&[u32]> = batches(&order, BatchSize::Rows(size)).collect();
            prop_assert_eq!(all.len(), n.div_ceil(size));
            for (i, b) in all.iter().enumerate() {
                prop_assert!(b.len() == size || (i + 1 == all.len() && b.len() <= size));
                b.iter().for_each(|&r| seen[r as usize] += 1);
            }
            prop_assert!(seen.iter().all(|&s| s == 1));
        }
    }
}
