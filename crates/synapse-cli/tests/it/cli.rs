//! The real `synapse` binary: whole sessions, every documented error, plots
//! and progress. Each test works in its own temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use candle_core::{Device, Tensor};

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_synapse");

fn data(name: &str) -> String {
    format!("{}/../../examples/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run<S: AsRef<str>>(args: &[S]) -> Output {
    Command::new(BIN)
        .args(args.iter().map(AsRef::as_ref))
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok<S: AsRef<str>>(args: &[S]) -> Output {
    let o = run(args);
    let shown: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    assert!(o.status.success(), "{shown:?} failed: {}", stderr(&o));
    o
}

/// Asserts a clean failure: the exit code, one `error: ` line naming `needle`,
/// no panic, and every test folder named in the arguments (the one holding
/// `--out`, checkpoints, inputs) exactly as it was: same entries, inodes,
/// sizes and modification times.
fn fails<S: AsRef<str>>(args: &[S], code: i32, needle: &str) {
    let folders: std::collections::BTreeSet<PathBuf> = args
        .iter()
        .filter_map(|a| Path::new(a.as_ref()).parent().map(Path::to_path_buf))
        .filter(|d| d.starts_with(std::env::temp_dir()) && d.is_dir())
        .collect();
    let before: Vec<_> = folders.iter().map(|d| common::snapshot(d)).collect();
    let o = run(args);
    let after: Vec<_> = folders.iter().map(|d| common::snapshot(d)).collect();
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: one line expected: {err}"
    );
    assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert_eq!(before, after, "{args:?} changed {folders:?}");
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn article_session_end_to_end() {
    let dir = workdir("article");
    let model = dir.join("article.safetensors");
    let o = ok(&[
        "train",
        "--data",
        &data("article.csv"),
        "--arch",
        "linear(3,1,bias=false), sigmoid",
        "--init",
        "numpy-uniform",
        "--seed",
        "1",
        "--loss",
        "sse",
        "--optimizer",
        "sgd",
        "--lr",
        "1",
        "--batch-size",
        "full",
        "--epochs",
        "15000",
        "--dtype",
        "f64",
        "--out",
        p(&model),
    ]);
    // Not a terminal: plain progress lines, about 100 for a long run.
    let lines = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("epoch "))
        .count();
    assert!((100..=102).contains(&lines), "{lines} progress lines");
    assert!(stderr(&o).contains("epoch 15000/15000: loss"));
    let out = stdout(&ok(&["predict", "--model", p(&model), "--input", "1,0,0"]));
    let value: f64 = out.trim().parse().unwrap();
    assert!((value - 0.9999584).abs() < 5e-8, "{out}");
    assert!(out.trim().starts_with("0.99995840"), "{out}");
    let summary = stdout(&ok(&["summary", "--model", p(&model)]));
    assert!(
        summary.contains("linear(3,1,bias=false)") && summary.contains("total parameters: 3"),
        "{summary}"
    );
    assert!(
        summary.contains("dtype: f64") && summary.contains("loss: sse"),
        "{summary}"
    );
}

#[test]
fn unscaled_csv_with_word_labels() {
    let dir = workdir("wine");
    let model = dir.join("wine.safetensors");
    let wine = data("wine.csv");
    ok(&[
        "train",
        "--data",
        &wine,
        "--arch",
        "linear(13,32), relu, linear(32,3)",
        "--loss",
        "cross-entropy",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--epochs",
        "60",
        "--normalize",
        "--quiet",
        "--out",
        p(&model),
    ]);
    let eval = stdout(&ok(&["eval", "--model", p(&model), "--data", &wine]));
    let acc: f64 = eval
        .lines()
        .find_map(|l| l.strip_prefix("accuracy: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc >= 0.97, "{eval}");
    assert!(eval.starts_with("loss: "), "{eval}");
    // predict --label on the same rows, target column dropped: words from the model.
    let labels = stdout(&ok(&[
        "predict",
        "--model",
        p(&model),
        "--data",
        &wine,
        "--target",
        "cultivar",
        "--label",
    ]));
    let truth: Vec<String> = std::fs::read_to_string(&wine)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    let got: Vec<&str> = labels.lines().collect();
    assert_eq!(got.len(), truth.len());
    let right = got.iter().zip(&truth).filter(|(g, t)| *g == t).count();
    assert!(right as f64 / truth.len() as f64 >= 0.97, "{right}");
    assert!(got
        .iter()
        .all(|g| ["class_0", "class_1", "class_2"].contains(g)));
    // Outputs: three numbers per row that read back as f32.
    let outputs = stdout(&ok(&[
        "predict",
        "--model",
        p(&model),
        "--data",
        &wine,
        "--target",
        "cultivar",
    ]));
    let first: Vec<f32> = outputs
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(first.len(), 3);
}

#[test]
fn pytorch_safetensors_loads_with_arch() {
    let dir = workdir("torch");
    let file = dir.join("torch.safetensors");
    // As `safetensors.torch.save_file(nn.Sequential(nn.Linear(2,2), nn.ReLU(), nn.Linear(2,1)).state_dict(), ...)`.
    let dev = Device::Cpu;
    let tensors = std::collections::HashMap::from([
        (
            "0.weight".to_string(),
            Tensor::new(&[[0.5f32, -1.0], [2.0, 0.25]], &dev).unwrap(),
        ),
        (
            "0.bias".to_string(),
            Tensor::new(&[0.1f32, -0.1], &dev).unwrap(),
        ),
        (
            "2.weight".to_string(),
            Tensor::new(&[[1.0f32, 3.0]], &dev).unwrap(),
        ),
        ("2.bias".to_string(), Tensor::new(&[0.5f32], &dev).unwrap()),
    ]);
    candle_core::safetensors::save(&tensors, &file).unwrap();
    fails(
        &["predict", "--model", p(&file), "--input", "1,1"],
        2,
        "--arch",
    );
    let out = stdout(&ok(&[
        "predict",
        "--model",
        p(&file),
        "--arch",
        "linear(2,2), relu, linear(2,1)",
        "--input",
        "1,1",
    ]));
    // relu([0.5 - 1 + 0.1, 2 + 0.25 - 0.1]) = [0, 2.15]; 3 * 2.15 + 0.5 = 6.95
    let v: f32 = out.trim().parse().unwrap();
    assert!((v - 6.95).abs() < 1e-5, "{out}");
}

#[test]
fn eval_of_a_regression_prints_mse_mae_rmse_and_r2() {
    let dir = workdir("regression");
    let model = dir.join("d.safetensors");
    ok(&[
        "train",
        "--data",
        &data("diabetes.csv"),
        "--arch",
        "linear(10,8), relu, linear(8,1)",
        "--loss",
        "mse",
        "--normalize",
        "--optimizer",
        "adam",
        "--epochs",
        "3",
        "--quiet",
        "--out",
        p(&model),
    ]);
    let eval = stdout(&ok(&[
        "eval",
        "--model",
        p(&model),
        "--data",
        &data("diabetes.csv"),
    ]));
    let names: Vec<&str> = eval
        .lines()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(names, ["loss", "mse", "mae", "rmse", "r2"], "{eval}");
}

#[test]
fn plots_are_valid_svg_and_png() {
    let dir = workdir("plot");
    for ext in ["svg", "png"] {
        let plot = dir.join(format!("loss.{ext}"));
        ok(&[
            "train",
            "--data",
            &data("iris.csv"),
            "--arch",
            "linear(4,8), tanh, linear(8,3)",
            "--loss",
            "cross-entropy",
            "--epochs",
            "5",
            "--val-split",
            "0.2",
            "--quiet",
            "--plot",
            p(&plot),
            "--out",
            p(&dir.join("m.safetensors")),
        ]);
        let bytes = std::fs::read(&plot).unwrap();
        if ext == "svg" {
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
                "{}",
                &text[..60]
            );
            for word in [
                "epoch",
                "loss",
                "training loss",
                "validation loss",
                "validation accuracy",
            ] {
                assert!(text.contains(word), "{word}");
            }
        } else {
            // A second panel below the loss: the validation accuracy.
            assert_eq!(png_size(bytes), (800, 800));
        }
    }
    // Without validation and with a constant rate, one panel.
    let plot = dir.join("plain.png");
    ok(&[
        "train",
        "--data",
        &data("iris.csv"),
        "--arch",
        "linear(4,8), tanh, linear(8,3)",
        "--loss",
        "cross-entropy",
        "--epochs",
        "3",
        "--quiet",
        "--plot",
        p(&plot),
        "--out",
        p(&dir.join("m.safetensors")),
    ]);
    assert_eq!(png_size(std::fs::read(&plot).unwrap()), (800, 500));
    // A changing rate gets the second panel, its axis named.
    let plot = dir.join("rate.svg");
    ok(&[
        "train",
        "--data",
        &data("iris.csv"),
        "--arch",
        "linear(4,8), tanh, linear(8,3)",
        "--loss",
        "cross-entropy",
        "--epochs",
        "4",
        "--lr-schedule",
        "step:2:0.5",
        "--quiet",
        "--plot",
        p(&plot),
        "--out",
        p(&dir.join("m.safetensors")),
    ]);
    let text = std::fs::read_to_string(&plot).unwrap();
    assert!(text.contains("learning rate"), "no learning-rate panel");
    assert!(!text.contains("validation accuracy"));
}

fn png_size(bytes: Vec<u8>) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    (reader.info().width, reader.info().height)
}

#[test]
fn resume_from_a_checkpoint_gives_the_uninterrupted_weights() {
    let dir = workdir("resume");
    let common = |epochs: &str, out: &Path| -> Vec<String> {
        [
            "train",
            "--data",
            &data("iris.csv"),
            "--arch",
            "linear(4,8), tanh, linear(8,3)",
            "--loss",
            "cross-entropy",
            "--optimizer",
            "sgd",
            "--momentum",
            "0.9",
            "--lr",
            "0.05",
            "--batch-size",
            "16",
            "--epochs",
            epochs,
            "--quiet",
            "--out",
            p(out),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let whole = dir.join("whole.safetensors");
    ok(&common("8", &whole));
    let ckpt = dir.join("run.ckpt");
    let part = dir.join("part.safetensors");
    let mut first = common("3", &part);
    first.extend(["--checkpoint".to_string(), p(&ckpt).to_string()]);
    ok(&first);
    let mut second = common("8", &part);
    second.extend([
        "--resume".to_string(),
        p(&ckpt).to_string(),
        "--checkpoint".to_string(),
        p(&ckpt).to_string(),
    ]);
    ok(&second);
    let tensors = |f: &Path| {
        let mut t: Vec<(String, Vec<u32>)> = candle_core::safetensors::load(f, &Device::Cpu)
            .unwrap()
            .into_iter()
            .map(|(n, t)| {
                (
                    n,
                    t.flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect(),
                )
            })
            .collect();
        t.sort();
        t
    };
    assert_eq!(tensors(&part), tensors(&whole));
    // Other flags than the checkpoint's are refused.
    let mut other = common("8", &part);
    let lr = other.iter().position(|a| a == "0.05").unwrap();
    other[lr] = "0.5".into();
    other.extend(["--resume".to_string(), p(&ckpt).to_string()]);
    fails(&other, 2, "made with --lr 0.05, this run has --lr 0.5");
}

#[test]
fn bad_usage_and_bad_numbers() {
    let dir = workdir("usage");
    let out = dir.join("m.safetensors");
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(3,1), sigmoid",
            "--loss",
            "mse",
            "--out",
            p(&out),
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let check = |extra: &[&str], code: i32, needle: &str| {
        let args = base(extra);
        fails(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            code,
            needle,
        );
    };
    fails(&["train", "--bogus"], 2, "--bogus");
    fails(&["fly"], 2, "fly");
    check(&["--lr", "-1"], 2, "--lr");
    check(&["--lr", "0"], 2, "--lr");
    check(&["--lr", "NaN"], 2, "--lr");
    check(&["--epochs", "0"], 2, "--epochs");
    check(&["--batch-size", "0"], 2, "--batch-size");
    check(&["--batch-size", "half"], 2, "--batch-size");
    fails(
        &[
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(3,1)",
            "--loss",
            "hinge",
            "--out",
            p(&out),
        ],
        2,
        "--loss `hinge`",
    );
    check(&["--optimizer", "rmsprop"], 2, "rmsprop");
    check(&["--init", "gaussian"], 2, "--init");
    check(&["--val-split", "1.5"], 2, "--val-split");
    check(&["--dtype", "f16"], 2, "f16");
    check(&["--nesterov"], 2, "--nesterov");
    check(&["--plot", p(&dir.join("loss.jpg"))], 2, "--plot");
    if !cfg!(feature = "cuda") {
        check(&["--device", "cuda"], 2, "--features cuda");
    }
    fails(
        &[
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(3,4), sigmod",
            "--loss",
            "mse",
            "--out",
            p(&out),
        ],
        2,
        "sigmod",
    );
    fails(
        &[
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(3,4), relu, linear(5,1)",
            "--loss",
            "mse",
            "--out",
            p(&out),
        ],
        2,
        "input size 5",
    );
    fails(
        &[
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(2,1)",
            "--loss",
            "mse",
            "--out",
            p(&out),
        ],
        2,
        "3 input columns",
    );
    fails(
        &[
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(100000,100000)",
            "--loss",
            "mse",
            "--out",
            p(&out),
        ],
        2,
        "10000100000 parameters",
    );
    assert!(!out.exists(), "no model written by failed runs");
}

#[test]
fn bad_files_and_inputs() {
    let dir = workdir("files");
    let out = dir.join("m.safetensors");
    let train = |data_file: &str, out: &Path| {
        run(&[
            "train",
            "--data",
            data_file,
            "--arch",
            "linear(3,1), sigmoid",
            "--loss",
            "mse",
            "--quiet",
            "--out",
            p(out),
        ])
    };
    fails(
        &[
            "train",
            "--data",
            p(&dir.join("absent.csv")),
            "--arch",
            "linear(3,1)",
            "--loss",
            "mse",
            "--out",
            p(&out),
        ],
        2,
        "absent.csv",
    );
    let bad_csv = dir.join("bad.csv");
    std::fs::write(&bad_csv, "a,b,c,y\n1,2,3,4\n5,x,7,8\n").unwrap();
    fails(
        &[
            "train",
            "--data",
            p(&bad_csv),
            "--arch",
            "linear(3,1)",
            "--loss",
            "mse",
            "--out",
            p(&out),
        ],
        2,
        "line 3, column 2 (\"b\")",
    );
    fails(
        &[
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(3,1)",
            "--loss",
            "mse",
            "--out",
            p(&dir.join("nowhere/m.safetensors")),
        ],
        2,
        "does not exist",
    );

    assert!(train(&data("article.csv"), &out).status.success());
    let good = std::fs::read(&out).unwrap();
    for (name, bytes) in [
        ("empty", vec![]),
        ("truncated", good[..good.len() - 5].to_vec()),
        (
            "random",
            (0..200u32).map(|i| (i * 97 % 256) as u8).collect(),
        ),
    ] {
        let f = dir.join(format!("{name}.safetensors"));
        std::fs::write(&f, bytes).unwrap();
        fails(
            &["predict", "--model", p(&f), "--input", "1,0,0"],
            2,
            &format!("{name}.safetensors"),
        );
    }
    fails(
        &[
            "predict",
            "--model",
            p(&out),
            "--arch",
            "linear(3,2), sigmoid",
            "--input",
            "1,0,0",
        ],
        2,
        "not the given",
    );
    fails(
        &["predict", "--model", p(&out), "--input", "1,0"],
        2,
        "2 values given, the model takes 3",
    );
    fails(
        &["predict", "--model", p(&out), "--input", "1,zero,0"],
        2,
        "`zero` is not a finite number",
    );
    fails(&["predict", "--model", p(&out)], 2, "--input");
    fails(
        &[
            "eval",
            "--model",
            p(&out),
            "--data",
            p(&dir.join("absent.csv")),
        ],
        2,
        "absent.csv",
    );
}

#[test]
fn failed_runs_leave_the_old_model_whole() {
    let dir = workdir("keep");
    let out = dir.join("m.safetensors");
    ok(&[
        "train",
        "--data",
        &data("article.csv"),
        "--arch",
        "linear(3,4), relu, linear(4,1)",
        "--loss",
        "mse",
        "--quiet",
        "--out",
        p(&out),
    ]);
    let before = std::fs::read(&out).unwrap();
    // Divergence: exit 1, the epoch and batch named, the old model kept.
    fails(
        &[
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(3,4), relu, linear(4,1)",
            "--loss",
            "mse",
            "--lr",
            "1e6",
            "--epochs",
            "50",
            "--quiet",
            "--out",
            p(&out),
        ],
        1,
        "lower learning rate",
    );
    let o = run(&[
        "train",
        "--data",
        &data("article.csv"),
        "--arch",
        "linear(3,4), relu, linear(4,1)",
        "--loss",
        "mse",
        "--lr",
        "1e6",
        "--epochs",
        "50",
        "--quiet",
        "--out",
        p(&out),
    ]);
    assert!(stderr(&o).contains("epoch") && stderr(&o).contains("batch"));
    fails(
        &[
            "train",
            "--data",
            &data("article.csv"),
            "--arch",
            "linear(3,9)",
            "--loss",
            "mse",
            "--out",
            p(&out),
        ],
        2,
        "9 outputs",
    );
    assert_eq!(std::fs::read(&out).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}

#[test]
fn help_and_version() {
    let o = ok(&["--version"]);
    assert!(stdout(&o).starts_with("synapse "), "{}", stdout(&o));
    for sub in ["train", "predict", "eval", "summary"] {
        let help = stdout(&ok(&[sub, "--help"]));
        assert!(help.contains("Example"), "{sub}: {help}");
    }
    let help = stdout(&ok(&["train", "--help"]));
    for flag in [
        "--data",
        "--arch",
        "--loss",
        "--out",
        "--momentum",
        "--nesterov",
        "--val-split",
        "--early-stop",
        "--checkpoint",
        "--resume",
        "--plot",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
    let s = stdout(&ok(&[
        "summary",
        "--arch",
        "linear(2,8), tanh, linear(8,1), sigmoid",
    ]));
    assert!(
        s.contains("[batch, 8]") && s.contains("total parameters: 33"),
        "{s}"
    );
}

#[test]
fn predict_asks_on_a_terminal_and_asks_again_after_a_word() {
    // `script` (util-linux) gives the binary a terminal for stdin.
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "this test needs `script` (util-linux; Debian's bsdutils package): .ci/run installs it"
    );
    let dir = workdir("prompt");
    let model = dir.join("a.safetensors");
    ok(&[
        "train",
        "--data",
        &data("article.csv"),
        "--arch",
        "linear(3,1,bias=false), sigmoid",
        "--init",
        "article",
        "--loss",
        "sse",
        "--lr",
        "1",
        "--batch-size",
        "full",
        "--epochs",
        "15000",
        "--dtype",
        "f64",
        "--quiet",
        "--out",
        p(&model),
    ]);
    let cmd = format!("{BIN} predict --model {}", p(&model));
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"1\nabc\n0\n0\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Input 1 of 3") && text.contains("Input 3 of 3"),
        "{text}"
    );
    assert!(text.contains("Please type a number."), "{text}");
    assert!(text.contains("0.99995840"), "{text}");
}
