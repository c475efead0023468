//! Input that used to be taken silently, or to abort the process, refused
//! with one `error:` line that names the culprit, the folder unchanged:
//! model files whose values cannot be right (NaN weights, a negative or NaN
//! `running_var`), class words that do not name each class once, an empty
//! class cell, data changed under a checkpoint, one batch too large to
//! allocate, sizes that overflow; and the messages of a mismatched resume and
//! of `eval --confusion` on a regression model.

use std::fs;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{Init, Sequential};
use synapse_train::Model;

use crate::common::{fails_cleanly, ok_in as ok, run_in, workdir, write_arrays, NEURON};

/// `train` on the neuron for 2 epochs, unless `extra` gives `--arch` or `--epochs`.
fn train<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "train", "--data", data, "--loss", "sse", "--quiet", "--out", out,
    ];
    if !extra.contains(&"--arch") {
        args.extend(["--arch", NEURON]);
    }
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "2"]);
    }
    args.extend_from_slice(extra);
    args
}

#[test]
fn model_values_that_cannot_be_right_are_refused_by_name() {
    let dir = workdir("bad-values");
    let d = &dir;
    let dev = Device::Cpu;
    // A NaN weight: relu would map it to 0 and predict a finite, wrong value.
    let spec = "linear(3,2), relu, linear(2,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev).unwrap();
    let (_, w) = &net.parameters()[0];
    let mut values = w.to_vec2::<f32>().unwrap();
    values[1][2] = f32::NAN;
    w.set(&Tensor::new(values, &dev).unwrap()).unwrap();
    let mut model = Model::new(net);
    model.loss = Some(synapse_nn::Loss::Mse);
    model.save(&d.join("nan.safetensors")).unwrap();
    let nan = "parameter `0.weight` holds NaN at element 5";
    for args in [
        vec!["predict", "--model", "nan.safetensors", "--input", "1,0,1"],
        vec!["eval", "--model", "nan.safetensors", "--data", "data.csv"],
        vec!["export", "--model", "nan.safetensors", "--out", "m.onnx"],
        vec!["summary", "--model", "nan.safetensors"],
    ] {
        fails_cleanly(d, &args, 2, &["--model", "nan.safetensors", nan]);
    }
    // A batchnorm whose running variance is negative or NaN, in a model file
    // and in an --init file.
    let spec = "linear(3,2), batchnorm(2), sigmoid, linear(2,1)"
        .parse()
        .unwrap();
    for (bad, shown) in [(-0.5f32, "-0.5"), (f32::NAN, "NaN")] {
        let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev).unwrap();
        let (_, var) = net
            .buffers()
            .into_iter()
            .find(|(n, _)| n == "1.running_var")
            .unwrap();
        var.slice_set(&Tensor::new(&[bad], &dev).unwrap(), 0, 1)
            .unwrap();
        Model::new(net).save(&d.join("var.safetensors")).unwrap();
        fails_cleanly(
            d,
            &[
                "predict",
                "--model",
                "var.safetensors",
                "--arch",
                &spec.to_string(),
                "--input",
                "1,0,1",
            ],
            2,
            &["buffer `1.running_var` holds", shown, "at least 0"],
        );
        fails_cleanly(
            d,
            &train(
                "data.csv",
                "m.safetensors",
                &["--arch", &spec.to_string(), "--init", "var.safetensors"],
            ),
            2,
            &["--init", "buffer `1.running_var`", shown],
        );
    }
    let mut state = vec![
        ("0.weight", vec![2, 3], vec![0.1; 6]),
        ("0.bias", vec![2], vec![0.0; 2]),
        ("1.weight", vec![2], vec![1.0; 2]),
        ("1.bias", vec![2], vec![0.0; 2]),
        ("1.running_mean", vec![2], vec![0.0; 2]),
        ("1.running_var", vec![2], vec![1.0, -2.0]),
        ("1.num_batches_tracked", vec![], vec![3.0]),
        ("3.weight", vec![1, 2], vec![0.5; 2]),
        ("3.bias", vec![1], vec![0.0]),
    ];
    write_arrays(&d.join("init.npz"), &state);
    fails_cleanly(
        d,
        &train(
            "data.csv",
            "m.safetensors",
            &["--arch", &spec.to_string(), "--init", "init.npz"],
        ),
        2,
        &[
            "--init init.npz",
            "buffer `1.running_var` holds -2 at element 1",
        ],
    );
    state[5].2 = vec![1.0, 1.0];
    write_arrays(&d.join("init.npz"), &state);
    ok(
        d,
        &train(
            "data.csv",
            "m.safetensors",
            &["--arch", &spec.to_string(), "--init", "init.npz"],
        ),
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn class_words_name_each_class_once() {
    let dir = workdir("labels");
    let d = &dir;
    fs::write(
        d.join("w.csv"),
        "a,b,c,y\n0,0,1,cat\n1,1,1,dog\n1,0,1,dog\n0,1,1,cat\n",
    )
    .unwrap();
    let arch = "linear(3,2)";
    ok(
        d,
        &[
            "train",
            "--data",
            "w.csv",
            "--arch",
            arch,
            "--loss",
            "cross-entropy",
            "--quiet",
            "--epochs",
            "2",
            "--out",
            "w.safetensors",
        ],
    );
    let model = Model::load(&d.join("w.safetensors"), None, &Device::Cpu).unwrap();
    // A duplicate word: right answers would be scored as wrong.
    let mut dup = model.clone();
    dup.labels = Some(vec!["cat".into(), "cat".into()]);
    dup.save(&d.join("dup.safetensors")).unwrap();
    for args in [
        vec!["eval", "--model", "dup.safetensors", "--data", "w.csv"],
        vec![
            "predict",
            "--model",
            "dup.safetensors",
            "--input",
            "1,0,1",
            "--label",
        ],
    ] {
        fails_cleanly(d, &args, 2, &["dup.safetensors", "`cat` is named twice"]);
    }
    // One word for a one-output model: `--label` would print an index.
    let spec = "linear(3,1)".parse().unwrap();
    let mut one =
        Model::new(Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap());
    one.loss = Some(synapse_nn::Loss::BceLogits);
    one.labels = Some(vec!["yes".into()]);
    one.save(&d.join("one.safetensors")).unwrap();
    fails_cleanly(
        d,
        &[
            "predict",
            "--model",
            "one.safetensors",
            "--input",
            "1,0,1",
            "--label",
        ],
        2,
        &[
            "one.safetensors",
            "1 class word(s); a classifier has at least 2",
        ],
    );
    // An empty class cell in training data is a missing class, not a class "".
    fs::write(
        d.join("empty.csv"),
        "a,b,c,y\n0,0,1,cat\n1,1,1,\n1,0,1,dog\n",
    )
    .unwrap();
    fails_cleanly(
        d,
        &[
            "train",
            "--data",
            "empty.csv",
            "--arch",
            arch,
            "--loss",
            "cross-entropy",
            "--out",
            "e.safetensors",
        ],
        2,
        &[
            "--data empty.csv",
            "line 3",
            "the cell is empty; expected a class",
        ],
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// `--resume` identifies the data by its content, not the text of its path.
#[test]
fn resume_compares_the_data_by_content() {
    let dir = workdir("resume-data");
    let d = &dir;
    fs::copy(d.join("data.csv"), d.join("fl.csv")).unwrap();
    ok(
        d,
        &train("fl.csv", "m.safetensors", &["--checkpoint", "c.ckpt"]),
    );
    // The same file by another path form, and a copy of it: the same rows.
    ok(
        d,
        &train(
            "./fl.csv",
            "m.safetensors",
            &["--resume", "c.ckpt", "--epochs", "3"],
        ),
    );
    fs::copy(d.join("fl.csv"), d.join("copy.csv")).unwrap();
    ok(
        d,
        &train(
            "copy.csv",
            "m2.safetensors",
            &["--resume", "c.ckpt", "--epochs", "3"],
        ),
    );
    // The file changed in place: other rows.
    fs::write(
        d.join("fl.csv"),
        "a,b,c,y\n0,0,1,0\n1,1,1,1\n1,0,1,1\n0,1,1,1\n",
    )
    .unwrap();
    fails_cleanly(
        d,
        &train(
            "fl.csv",
            "m.safetensors",
            &["--resume", "c.ckpt", "--epochs", "3"],
        ),
        2,
        &[
            "--resume c.ckpt",
            "--data holds other rows than the checkpoint's run was trained on",
        ],
    );
    // Flags added on resume are named as flags.
    fs::copy(d.join("data.csv"), d.join("fl.csv")).unwrap();
    for (extra, needle) in [
        (
            vec!["--no-shuffle"],
            "the checkpoint was made without --no-shuffle, this run has --no-shuffle",
        ),
        (
            vec!["--val", "copy.csv", "--save-best"],
            "the checkpoint was made with neither --early-stop nor --save-best, this run has --save-best (and no --early-stop)",
        ),
    ] {
        let mut extra: Vec<&str> = extra;
        extra.extend(["--resume", "c.ckpt", "--epochs", "3"]);
        let e = fails_cleanly(d, &train("fl.csv", "m.safetensors", &extra), 2, &[needle]);
        assert!(!e.contains(&usize::MAX.to_string()), "{e}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// One batch's activations are estimated from the shapes before anything is
/// allocated: above 2^28 values a run needs --allow-large, above 2^33 it is
/// refused. (The first spec used to abort allocating 28 GB.)
#[test]
fn one_batch_too_large_to_allocate_is_refused_before_training() {
    let dir = workdir("memory");
    let d = &dir;
    let huge =
        "reshape(1,3,1), conv2d(1,2,3,padding=10000), maxpool2d(10000), flatten, linear(4,1)";
    for extra in [vec![], vec!["--allow-large"]] {
        let mut args = train(
            "data.csv",
            "m.safetensors",
            &["--arch", huge, "--log", "l.csv"],
        );
        args.extend(extra);
        fails_cleanly(
            d,
            &args,
            2,
            &[
                "--batch-size",
                "one batch of 4 rows",
                "more than the 8589934592 activation values that can be allocated",
            ],
        );
    }
    let large = "reshape(1,3,1), conv2d(1,2,3,padding=3000), maxpool2d(3000), flatten, linear(4,1)";
    fails_cleanly(
        d,
        &train("data.csv", "m.safetensors", &["--arch", large]),
        2,
        &[
            "--batch-size",
            "1584000016 activation values (5.9 GiB in f32)",
            "pass --allow-large",
        ],
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sizes_that_overflow_are_errors_not_numbers() {
    let dir = workdir("overflow");
    let d = &dir;
    for (args, needle) in [
        (
            vec![
                "summary",
                "--arch",
                "conv2d(4294967296,4294967296,4294967296)",
            ],
            "the parameter count overflows",
        ),
        (
            vec![
                "summary",
                "--arch",
                "reshape(4294967296,4294967296,2), flatten, linear(2,1)",
            ],
            "the product of its sizes [4294967296, 4294967296, 2] overflows",
        ),
    ] {
        let e = fails_cleanly(d, &args, 2, &["--arch", needle]);
        assert!(!e.contains("18446744073709551615"), "{e}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_confusion_of_a_regression_prints_nothing_and_fails() {
    let dir = workdir("confusion");
    let d = &dir;
    ok(d, &train("data.csv", "m.safetensors", &[]));
    let o = run_in(
        d,
        &[
            "eval",
            "--model",
            "m.safetensors",
            "--data",
            "data.csv",
            "--confusion",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.trim_end(),
        "error: --confusion needs a classifier; the model was trained with sse"
    );
    fs::remove_dir_all(&dir).unwrap();
}
