//! The layer kinds from the shell: each bad spec or file is one `error:` line
//! naming the element and the sizes, exit 2, nothing written; a CNN trains on
//! flat CSV rows through `reshape` and reports its shapes in `summary`.

use std::collections::HashMap;

use crate::common::{fails_cleanly, run_in, workdir};
use candle_core::{DType, Device, Tensor};

fn train(arch: &str) -> Vec<&str> {
    vec![
        "train",
        "--data",
        "data.csv",
        "--arch",
        arch,
        "--loss",
        "sse",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        "m.safetensors",
    ]
}

#[test]
fn bad_layer_specs_name_the_element_and_sizes() {
    let dir = workdir("layer-specs");
    let d = &dir;
    fails_cleanly(
        d,
        &train("linear(3,1), dropout(1.5)"),
        2,
        &["dropout(1.5)", "1.5"],
    );
    fails_cleanly(
        d,
        &train("reshape(1,1,3), conv2d(1,8,0), flatten, linear(8,1)"),
        2,
        &["conv2d(1,8,0)", "0"],
    );
    fails_cleanly(
        d,
        &train("reshape(1,2,2), conv2d(1,2,1), flatten, linear(9,1)"),
        2,
        &["linear(9,1)", "9", "8"],
    );
    // A convolution on flat rows, with no reshape first.
    fails_cleanly(
        d,
        &train("linear(3,4), conv2d(1,2,1), flatten, linear(8,1)"),
        2,
        &["conv2d(1,2,1)", "reshape"],
    );
    fails_cleanly(
        d,
        &train("conv2d(1,2,1), flatten, linear(6,1)"),
        2,
        &["--data data.csv", "conv2d(1,2,1)", "reshape"],
    );
    fails_cleanly(
        d,
        &train("reshape(1,1,3), maxpool2d(2), flatten, linear(1,1)"),
        2,
        &["maxpool2d(2)", "2", "1"],
    );
    // A training batch of one row cannot be normalised by its own statistics.
    fails_cleanly(
        d,
        &[
            "train",
            "--data",
            "data.csv",
            "--arch",
            "linear(3,2), batchnorm(2), linear(2,1)",
            "--loss",
            "sse",
            "--epochs",
            "1",
            "--batch-size",
            "1",
            "--no-shuffle",
            "--quiet",
            "--out",
            "m.safetensors",
        ],
        2,
        &["batchnorm(2)", "1"],
    );
}

#[test]
fn a_pytorch_file_missing_a_buffer_is_refused() {
    let dir = workdir("missing-buffer");
    // What PyTorch's save_file(model.state_dict()) writes for
    // nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)), less `1.running_var`.
    let dev = Device::Cpu;
    let t = |v: &[f32], shape: &[usize]| Tensor::from_slice(v, shape, &dev).unwrap();
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    tensors.insert(
        "0.weight".into(),
        t(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]),
    );
    tensors.insert("0.bias".into(), t(&[0.0, 0.1], &[2]));
    tensors.insert("1.weight".into(), t(&[1.0, 1.0], &[2]));
    tensors.insert("1.bias".into(), t(&[0.0, 0.0], &[2]));
    tensors.insert("1.running_mean".into(), t(&[0.5, -0.5], &[2]));
    tensors.insert(
        "1.num_batches_tracked".into(),
        Tensor::new(3i64, &dev)
            .unwrap()
            .to_dtype(DType::I64)
            .unwrap(),
    );
    candle_core::safetensors::save(&tensors, dir.join("torch.safetensors")).unwrap();
    fails_cleanly(
        &dir,
        &[
            "predict",
            "--model",
            "torch.safetensors",
            "--arch",
            "linear(3,2), batchnorm(2)",
            "--input",
            "1,2,3",
        ],
        2,
        &["torch.safetensors", "1.running_var"],
    );
    // With the buffer the same file loads and predicts.
    tensors.insert("1.running_var".into(), t(&[2.0, 0.5], &[2]));
    candle_core::safetensors::save(&tensors, dir.join("torch.safetensors")).unwrap();
    let o = run_in(
        &dir,
        &[
            "predict",
            "--model",
            "torch.safetensors",
            "--arch",
            "linear(3,2), batchnorm(2)",
            "--input",
            "1,2,3",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Evaluation mode: (x W^T + b - running_mean) / sqrt(running_var + 1e-5).
    let z = [0.1 + 0.4 + 0.9, 0.4 + 1.0 + 1.8 + 0.1];
    let want = [
        (z[0] - 0.5) / (2.0f64 + 1e-5).sqrt(),
        (z[1] + 0.5) / (0.5f64 + 1e-5).sqrt(),
    ];
    let got: Vec<f64> = String::from_utf8_lossy(&o.stdout)
        .trim()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
    }
}

#[test]
fn a_cnn_trains_from_flat_rows_and_summary_shows_its_shapes() {
    let dir = workdir("cnn");
    let digits = format!(
        "{}/../../examples/data/digits.csv.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let arch = "reshape(1,8,8), conv2d(1,4,3,padding=1), batchnorm2d(4), relu, maxpool2d(2), \
                flatten, dropout(0.1), linear(64,10)";
    let o = run_in(
        &dir,
        &[
            "train",
            "--data",
            &digits,
            "--arch",
            arch,
            "--loss",
            "cross-entropy",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--epochs",
            "2",
            "--normalize",
            "--quiet",
            "--out",
            "cnn.safetensors",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run_in(
        &dir,
        &["eval", "--model", "cnn.safetensors", "--data", &digits],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let accuracy: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("accuracy: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(accuracy > 0.8, "{out}");
    let o = run_in(&dir, &["summary", "--model", "cnn.safetensors"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "[batch, 1, 8, 8]",
        "[batch, 4, 8, 8]",
        "[batch, 4, 4, 4]",
        "[batch, 64]",
        "buffers",
        "total buffer values: 9",
    ] {
        assert!(text.contains(expected), "`{expected}` not in\n{text}");
    }
}
