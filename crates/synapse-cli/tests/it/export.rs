//! `synapse export` through the real binary: the file it writes runs in tract
//! (an independent ONNX runtime) and gives `synapse predict`'s outputs; every
//! documented error exits 2 with one `error:` line and leaves no file behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use candle_core::{DType, Device, Tensor};
use synapse_nn::Sequential;
use synapse_train::Model;
use tract_onnx::prelude::{tvec, Framework, InferenceModelExt, IntoRunnable};

const BIN: &str = env!("CARGO_BIN_EXE_synapse");

fn data(name: &str) -> String {
    format!("{}/../../examples/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-export-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{args:?} failed: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The first `rows` rows of iris.csv's four measurements.
fn iris_rows(rows: usize) -> Vec<f64> {
    let text = std::fs::read_to_string(data("iris.csv")).unwrap();
    text.lines()
        .skip(1)
        .take(rows)
        .flat_map(|l| l.split(',').take(4).map(|c| c.parse::<f64>().unwrap()))
        .collect()
}

fn tract_outputs(file: &Path, x: &[f64], rows: usize, dtype: DType) -> Vec<f64> {
    let plan = tract_onnx::onnx()
        .model_for_path(file)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input = match dtype {
        DType::F32 => {
            let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            tract_onnx::prelude::Tensor::from_shape(&[rows, 4], &v).unwrap()
        }
        _ => tract_onnx::prelude::Tensor::from_shape(&[rows, 4], x).unwrap(),
    };
    let out = plan.run(tvec!(input.into())).unwrap();
    let out = out[0].cast_to::<f64>().unwrap();
    out.to_plain_array_view::<f64>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

#[test]
fn exported_iris_model_runs_in_tract_as_synapse_predict() {
    let dir = workdir("iris");
    // tract 0.23 runs `Gemm` with a bias only in f32 (crates/synapse-train/tests/onnx.rs,
    // `F64_SPECS`), so the f64 model has none.
    let archs = [
        ("f32", 2e-6, "linear(4,8), tanh, linear(8,3), softmax"),
        (
            "f64",
            1e-13,
            "linear(4,8,bias=false), tanh, linear(8,3,bias=false), softmax",
        ),
    ];
    for (dtype, tolerance, arch) in archs {
        let model = dir.join(format!("iris-{dtype}.safetensors"));
        let onnx = dir.join(format!("iris-{dtype}.onnx"));
        ok(&[
            "train",
            "--data",
            &data("iris.csv"),
            "--arch",
            arch,
            "--loss",
            "cross-entropy",
            "--epochs",
            "3",
            "--normalize",
            "--dtype",
            dtype,
            "--quiet",
            "--out",
            p(&model),
        ]);
        let said = ok(&["export", "--model", p(&model), "--out", p(&onnx)]);
        assert_eq!(
            said.trim_end(),
            format!(
                "{}: ONNX opset 17, input [batch, 4] {dtype}, output [batch, 3]",
                p(&onnx)
            )
        );
        let predicted = ok(&[
            "predict",
            "--model",
            p(&model),
            "--data",
            &data("iris.csv"),
            "--target",
            "species",
        ]);
        let synapse: Vec<f64> = predicted
            .lines()
            .flat_map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()))
            .collect();
        let dt = if dtype == "f32" {
            DType::F32
        } else {
            DType::F64
        };
        for rows in [1, 150] {
            let tract = tract_outputs(&onnx, &iris_rows(rows), rows, dt);
            assert_eq!(tract.len(), rows * 3);
            for (k, (a, b)) in synapse.iter().zip(&tract).enumerate() {
                assert!(
                    (a - b).abs() <= tolerance * (1.0 + a.abs()),
                    "{dtype} rows={rows} value {k}: synapse predict {a}, tract {b}"
                );
            }
        }
    }
    // Only the models and their exports: no temporary file is left.
    assert_eq!(
        listing(&dir),
        [
            "iris-f32.onnx",
            "iris-f32.safetensors",
            "iris-f64.onnx",
            "iris-f64.safetensors"
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Exit 2, one `error: ` line containing `needle`, and the folder as it was.
fn refused(dir: &Path, args: &[&str], needle: &str) {
    let before = listing(dir);
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(listing(dir), before, "{args:?} left files behind");
}

#[test]
fn export_errors_exit_2_and_leave_no_file() {
    let dir = workdir("errors");
    let good = dir.join("good.safetensors");
    let spec = "linear(2,2), relu".parse().unwrap();
    let net =
        Sequential::init(&spec, synapse_nn::Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    Model::new(net).save(&good).unwrap();
    // A model that cannot be exported: a NaN weight.
    let nan = dir.join("nan.safetensors");
    let net =
        Sequential::init(&spec, synapse_nn::Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    // Set after building: building from tensors refuses NaN values.
    let (_, weight) = &net.parameters()[0];
    weight
        .set(&Tensor::new(&[[1.0f32, f32::NAN], [0.5, 0.25]], &Device::Cpu).unwrap())
        .unwrap();
    Model::new(net).save(&nan).unwrap();
    let broken = dir.join("broken.safetensors");
    std::fs::write(
        &broken,
        b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": not json}",
    )
    .unwrap();
    let out = dir.join("out.onnx");
    let out = p(&out);

    refused(
        &dir,
        &["export", "--model", p(&nan), "--out", out],
        "parameter `0.weight` holds NaN at element 1",
    );
    refused(
        &dir,
        &["export", "--model", p(&broken), "--out", out],
        "broken.safetensors",
    );
    refused(
        &dir,
        &[
            "export",
            "--model",
            p(&dir.join("none.safetensors")),
            "--out",
            out,
        ],
        "none.safetensors",
    );
    refused(
        &dir,
        &["export", "--model", p(&good), "--out", out, "--opset", "16"],
        "--opset: 16 is older than 17",
    );
    refused(
        &dir,
        &["export", "--model", p(&good), "--out", out, "--opset", "99"],
        "--opset: 99 is newer",
    );
    let lost = dir.join("no-such-folder").join("m.onnx");
    refused(
        &dir,
        &["export", "--model", p(&good), "--out", p(&lost)],
        "does not exist",
    );
    refused(
        &dir,
        &["export", "--model", p(&good), "--out", p(&dir)],
        "expected a file name",
    );

    // A failed export leaves an existing file as it was.
    std::fs::write(out, b"old").unwrap();
    refused(&dir, &["export", "--model", p(&nan), "--out", out], "NaN");
    assert_eq!(std::fs::read(out).unwrap(), b"old");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_id_model_says_its_input_is_int64() {
    let dir = workdir("ids");
    let model = dir.join("lm.safetensors");
    let spec = "embedding(5,4), positional(6,4), linear(4,5)"
        .parse()
        .unwrap();
    let net =
        Sequential::init(&spec, synapse_nn::Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    Model::new(net).save(&model).unwrap();
    let onnx = dir.join("lm.onnx");
    let said = ok(&["export", "--model", p(&model), "--out", p(&onnx)]);
    assert_eq!(
        said.trim_end(),
        format!(
            "{}: ONNX opset 17, input [batch, ?] int64, output [batch, ?, 5]",
            p(&onnx)
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
