//! Checkpoints: resuming gives bit for bit the weights of an uninterrupted run.

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{
    Adam, AdamConfig, ArchSpec, Init, Loss, Mt19937, Optimizer, Sequential, Sgd, SgdConfig,
};
use synapse_train::{BatchSize, Checkpoint, Dataset, EarlyStopping, Silent, TrainConfig, Trainer};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn data() -> Dataset {
    let mut rng = Mt19937::new(3);
    let x: Vec<f32> = (0..50 * 3).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
    let y: Vec<f32> = x
        .chunks(3)
        .map(|r| (r[0] * 2.0 - r[1] + 0.5 * r[2]).sin())
        .collect();
    Dataset::new(
        Tensor::from_vec(x, (50, 3), &Device::Cpu).unwrap(),
        Tensor::from_vec(y, (50, 1), &Device::Cpu).unwrap(),
    )
    .unwrap()
}

fn bits(net: &Sequential) -> Vec<u32> {
    net.parameters()
        .iter()
        .flat_map(|(_, v)| v.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .map(f32::to_bits)
        .collect()
}

type MakeOpt = fn(&Sequential) -> Box<dyn Optimizer>;

fn trainer(epochs: usize, make: MakeOpt, checkpoint: Option<PathBuf>) -> Trainer {
    let spec: ArchSpec = "linear(3,8), tanh, linear(8,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 5, DType::F32, &Device::Cpu).unwrap();
    let opt = make(&net);
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Rows(8),
        seed: 21,
        checkpoint,
        early_stopping: Some(EarlyStopping {
            patience: 100,
            ..Default::default()
        }),
        ..Default::default()
    };
    Trainer::new(net, Loss::Mse, opt, config).unwrap()
}

fn resume_matches(name: &str, make: MakeOpt) {
    let d = data();
    let mut whole = trainer(8, make, None);
    whole.fit(&d, Some(&d), &mut Silent).unwrap();

    let path = temp(&format!("{name}.ckpt"));
    let mut first = trainer(3, make, Some(path.clone()));
    first.fit(&d, Some(&d), &mut Silent).unwrap();
    let ckpt = Checkpoint::load(&path).unwrap();
    assert_eq!(ckpt.history.epochs.len(), 3);

    let mut second = trainer(8, make, Some(path.clone()));
    second.resume(&ckpt).unwrap();
    second.fit(&d, Some(&d), &mut Silent).unwrap();
    assert_eq!(bits(second.network()), bits(whole.network()), "{name}");
    // Every figure of every epoch, bit for bit; only the wall-clock seconds differ.
    let timeless = |h: &synapse_train::History| {
        let mut h = h.clone();
        h.epochs.iter_mut().for_each(|e| e.seconds = 0.0);
        h
    };
    assert_eq!(
        timeless(second.history()),
        timeless(whole.history()),
        "{name}"
    );
    // The checkpoint of the finished run resumes to the same weights without training.
    let done = Checkpoint::load(&path).unwrap();
    let mut third = trainer(8, make, None);
    third.resume(&done).unwrap();
    third.fit(&d, None, &mut Silent).unwrap();
    assert_eq!(bits(third.network()), bits(whole.network()), "{name}");
}

#[test]
fn resume_is_bit_identical_for_sgd_with_momentum() {
    resume_matches("sgd", |net| {
        Box::new(
            Sgd::new(
                net.parameters(),
                SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    nesterov: true,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    });
}

#[test]
fn resume_is_bit_identical_for_adam() {
    resume_matches("adam", |net| {
        Box::new(
            Adam::new(
                net.parameters(),
                AdamConfig {
                    lr: 0.01,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    });
}

#[test]
fn resume_with_other_settings_is_refused() {
    let d = data();
    let path = temp("other.ckpt");
    let sgd: MakeOpt = |net| {
        Box::new(
            Sgd::new(
                net.parameters(),
                SgdConfig {
                    lr: 0.05,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    };
    trainer(2, sgd, Some(path.clone()))
        .fit(&d, None, &mut Silent)
        .unwrap();
    let ckpt = Checkpoint::load(&path).unwrap();
    let other: MakeOpt = |net| {
        Box::new(
            Sgd::new(
                net.parameters(),
                SgdConfig {
                    lr: 0.5,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    };
    let e = trainer(4, other, None)
        .resume(&ckpt)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("made with lr 0.05") && e.contains("this run has lr 0.5"),
        "{e}"
    );
    let adam: MakeOpt = |net| {
        Box::new(
            Adam::new(
                net.parameters(),
                AdamConfig {
                    lr: 0.05,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    };
    let e = trainer(4, adam, None)
        .resume(&ckpt)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sgd") && e.contains("adam"), "{e}");
}

#[test]
fn a_model_file_is_not_a_checkpoint() {
    let path = temp("model.safetensors");
    let net = Sequential::init(
        &"linear(2,1)".parse().unwrap(),
        Init::Torch,
        1,
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    synapse_train::Model::new(net).save(&path).unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("not a synapse checkpoint"),
        "{e}"
    );
}
