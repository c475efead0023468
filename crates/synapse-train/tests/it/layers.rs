//! Stacks with state beyond parameters (batchnorm buffers, the dropout
//! generator) through the Trainer, checkpoints and model files.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use synapse_nn::{ArchSpec, Init, Loss, Mode, Mt19937, Sequential, Sgd, SgdConfig};
use synapse_train::{BatchSize, Checkpoint, Dataset, Model, Silent, TrainConfig, Trainer};

const SPEC: &str = "linear(3,8), batchnorm(8), tanh, dropout(0.3), linear(8,1)";

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn data() -> Dataset {
    let mut rng = Mt19937::new(3);
    let x: Vec<f64> = (0..40 * 3).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let y: Vec<f64> = x.chunks(3).map(|r| (r[0] * 2.0 - r[1]).sin()).collect();
    Dataset::new(
        Tensor::from_vec(x, (40, 3), &Device::Cpu).unwrap(),
        Tensor::from_vec(y, (40, 1), &Device::Cpu).unwrap(),
    )
    .unwrap()
}

/// Every value of the state (parameters and buffers), as bits.
fn bits(net: &Sequential) -> Vec<u64> {
    net.state()
        .iter()
        .flat_map(|(_, t)| {
            t.to_dtype(DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        })
        .map(f64::to_bits)
        .collect()
}

fn trainer(epochs: usize, checkpoint: Option<PathBuf>) -> Trainer {
    let spec: ArchSpec = SPEC.parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 5, DType::F64, &Device::Cpu).unwrap();
    let sgd = Sgd::new(
        net.parameters(),
        SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            ..Default::default()
        },
    )
    .unwrap();
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Rows(8),
        seed: 21,
        checkpoint,
        ..Default::default()
    };
    Trainer::new(net, Loss::Mse, Box::new(sgd), config).unwrap()
}

#[test]
fn resume_with_dropout_and_batchnorm_is_bit_identical() {
    let d = data();
    let mut whole = trainer(6, None);
    whole.fit(&d, Some(&d), &mut Silent).unwrap();
    let path = temp("layers.ckpt");
    let mut first = trainer(2, Some(path.clone()));
    first.fit(&d, Some(&d), &mut Silent).unwrap();
    let ckpt = Checkpoint::load(&path).unwrap();
    assert!(ckpt.dropout_rng.is_some());
    assert!(ckpt
        .weights
        .iter()
        .any(|(n, _)| n == "1.num_batches_tracked"));
    let mut second = trainer(6, Some(path));
    second.resume(&ckpt).unwrap();
    second.fit(&d, Some(&d), &mut Silent).unwrap();
    assert_eq!(bits(second.network()), bits(whole.network()));
    // 40 rows in batches of 8: 5 training steps per epoch moved the statistics.
    let tracked = &second.network().buffers()[2].1;
    assert_eq!(tracked.to_scalar::<i64>().unwrap(), 30);
}

#[test]
fn model_files_keep_buffers() {
    let mut t = trainer(2, None);
    t.fit(&data(), None, &mut Silent).unwrap();
    let path = temp("bn.safetensors");
    Model::new(t.network().clone()).save(&path).unwrap();
    let back = Model::load(&path, None, &Device::Cpu).unwrap();
    assert_eq!(bits(&back.net), bits(t.network()));
    let x = data().x().clone();
    let out = |n: &Sequential| {
        n.forward(&x, Mode::Eval)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    assert_eq!(out(&back.net), out(t.network()));
}

// crates/synapse-train/tests/data/torch_batchnorm.safetensors and the outputs
// below come from (torch 2.x, safetensors 0.8):
// ```python
// import math, torch, torch.nn as nn
// from safetensors.torch import save_file
// torch.set_default_dtype(torch.float64)
// torch.manual_seed(0)
// m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
// m.train()
// for s in range(3):   # move the running statistics and the count
//     m(torch.tensor([[math.sin(0.37 * i + 1.3 * s) * 1.5 for i in range(15)]]).reshape(5, 3))
// m.eval()
// save_file(m.state_dict(), "crates/synapse-train/tests/data/torch_batchnorm.safetensors")
// x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
// print([repr(v) for v in m(x).detach().flatten().tolist()])
// ```
#[test]
fn a_pytorch_state_dict_with_buffers_loads_and_gives_its_eval_outputs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch_batchnorm.safetensors");
    let spec: ArchSpec = "linear(3,4), batchnorm(4), relu, linear(4,2)"
        .parse()
        .unwrap();
    let model = Model::load(&path, Some(&spec), &Device::Cpu).unwrap();
    assert_eq!(model.net.buffers()[2].1.to_scalar::<i64>().unwrap(), 3);
    let x = Tensor::new(&[[0.5f64, -1.0, 2.0], [1.5, 0.25, -0.75]], &Device::Cpu).unwrap();
    let got = model
        .net
        .forward(&x, Mode::Eval)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let want = [
        -0.49581468539756224,
        0.14186471125340291,
        -0.535033626493939,
        -0.07206098473059047,
    ];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-14, "{got:?} vs PyTorch {want:?}");
    }
    // Without its buffers the file is refused, naming the buffer.
    let spec2: ArchSpec = "linear(3,4), batchnorm(4), relu, linear(4,2)"
        .parse()
        .unwrap();
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    tensors.remove("1.running_mean");
    let e = Sequential::from_tensors(&spec2, &tensors, DType::F64, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("1.running_mean") && e.contains("missing"), "{e}");
}
