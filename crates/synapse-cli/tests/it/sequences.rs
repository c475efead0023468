//! Sequence models from the shell (SPEC section 10): every bad input of
//! issue 19's list refused with one `error:` line naming the element, the
//! sizes and the row and position; a character model with every new kind
//! trained, resumed bit for bit and sampled; `predict` and `summary` on
//! sequence outputs, checked against the library's own forward pass.

use std::fs;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use synapse_nn::Mode;
use synapse_train::Model;

use crate::common::{fails_cleanly, ok_in as ok, workdir, write_arrays, write_npz, Values};

/// An npz of int64 ids `x` `[N, T]` and int64 class targets `y` (`[N]` or
/// `[N, T]`).
fn write_ids(path: &Path, x: &[Vec<i64>], y_shape: &[usize], y: &[i64]) {
    write_npz(
        path,
        &[
            ("x", vec![x.len(), x[0].len()], Values::I64(x.concat())),
            ("y", y_shape.to_vec(), Values::I64(y.to_vec())),
        ],
    );
}

fn train<'a>(data: &'a str, arch: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        data,
        "--arch",
        arch,
        "--loss",
        "cross-entropy",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        "out.safetensors",
    ]
}

#[test]
fn sequence_data_errors_name_the_element_the_sizes_and_the_row_and_position() {
    let dir = workdir("seq-errors");
    let d = &dir;
    write_ids(
        &d.join("big.npz"),
        &[vec![1, 2, 3], vec![4, 12, 5]],
        &[2],
        &[0, 1],
    );
    write_ids(
        &d.join("neg.npz"),
        &[vec![1, 2, 3], vec![4, 5, -1]],
        &[2],
        &[0, 1],
    );
    write_ids(
        &d.join("nine.npz"),
        &[vec![1; 9], vec![2; 9]],
        &[2],
        &[0, 1],
    );
    write_ids(
        &d.join("badclass.npz"),
        &[vec![1, 2, 3], vec![4, 1, 5]],
        &[2, 3],
        &[0, 1, -100, 1, -3, 0],
    );
    write_arrays(
        &d.join("flat.npz"),
        &[
            ("x", vec![4, 3], vec![0.5; 12]),
            ("y", vec![4], vec![0., 1., 0., 1.]),
        ],
    );
    write_arrays(
        &d.join("seq.npz"),
        &[
            ("x", vec![2, 5, 3], vec![0.5; 30]),
            ("y", vec![2, 5, 3], vec![0.5; 30]),
        ],
    );
    let embed = "embedding(10,4), seqmean, linear(4,2)";
    for (args, needles) in [
        (
            train("big.npz", embed),
            &[
                "--data big.npz",
                "row 2, position 2",
                "id 12",
                "embedding(10,4)",
                "V = 10",
            ][..],
        ),
        (
            train("neg.npz", embed),
            &["row 2, position 3", "id -1", "embedding(10,4)"],
        ),
        (
            train(
                "nine.npz",
                "embedding(10,16), positional(8,16), seqmean, linear(16,2)",
            ),
            &[
                "sequences of 9 ids",
                "element 1 `positional(8,16)`",
                "holds 8 positions but gets 9",
            ],
        ),
        (
            train("flat.npz", "attention(10,3), seqmean, linear(10,2)"),
            &["--arch", "`attention(10,3)`", "D = 10", "HEADS = 3"],
        ),
        (
            train("seq.npz", "residual(linear(3,4)), linear(4,3)"),
            &[
                "--arch",
                "`residual(linear(3,4))`",
                "[batch, 3] into [batch, 4]",
                "keep its input's shape",
            ],
        ),
        (
            train("flat.npz", "lstm(3,4), last, linear(4,2)"),
            &[
                "flat (3 values)",
                "`lstm(3,4)`",
                "[batch, T, 3]",
                "gets [batch, 3]",
            ],
        ),
        (
            train("flat.npz", "linear(3,2), last"),
            &["element 1 `last`", "[batch, T, D]", "gets [batch, 2]"],
        ),
        (
            train("badclass.npz", "embedding(10,4), linear(4,2)"),
            &["--data badclass.npz", "row 2, position 2", "`-3`", "-100"],
        ),
    ] {
        fails_cleanly(d, &args, 2, needles);
    }
}

#[test]
fn text_and_generate_errors_name_the_file_the_sizes_and_the_character() {
    let dir = workdir("text-errors");
    let d = &dir;
    fs::write(d.join("t.txt"), "hello world, hello there\n").unwrap();
    fs::write(d.join("bad.txt"), b"ab\xffcd").unwrap();
    fs::write(d.join("empty.txt"), b"").unwrap();
    fs::write(d.join("short.txt"), "abc").unwrap();
    let text = |file: &'static str, context: &'static str, arch: &'static str| {
        vec![
            "train",
            "--text",
            file,
            "--context",
            context,
            "--arch",
            arch,
            "--loss",
            "cross-entropy",
            "--out",
            "lm.safetensors",
            "--quiet",
        ]
    };
    for (args, needles) in [
        (
            text("t.txt", "4", "embedding(5,4), linear(4,5)"),
            &[
                "--text t.txt",
                "11 distinct characters",
                "embedding(11,D)",
                "embedding(5,4)",
            ][..],
        ),
        (
            text("bad.txt", "2", "embedding(4,4), linear(4,4)"),
            &["--text bad.txt", "byte 2", "UTF-8"],
        ),
        (
            text("empty.txt", "2", "embedding(4,4), linear(4,4)"),
            &["--text empty.txt", "empty"],
        ),
        (
            text("short.txt", "4", "embedding(3,4), linear(4,3)"),
            &["--text short.txt", "3 characters", "context 4"],
        ),
        (
            text(
                "t.txt",
                "4",
                "embedding(11,4), positional(3,4), linear(4,11)",
            ),
            &[
                "windows of 4 characters",
                "`positional(3,4)`",
                "holds 3 positions but gets 4",
            ],
        ),
    ] {
        fails_cleanly(d, &args, 2, needles);
    }
    // A model that does not read text: generate refuses it.
    ok(
        d,
        &[
            "train",
            "--data",
            "data.csv",
            "--arch",
            "linear(3,1)",
            "--loss",
            "mse",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            "rows.safetensors",
        ],
    );
    fails_cleanly(
        d,
        &["generate", "--model", "rows.safetensors"],
        2,
        &["--model rows.safetensors", "no vocabulary"],
    );
    ok(d, &text("t.txt", "4", "embedding(11,4), linear(4,11)"));
    fails_cleanly(
        d,
        &["generate", "--model", "lm.safetensors", "--prompt", "hex"],
        2,
        &["--prompt", "`x`", "vocabulary of 11 characters"],
    );
    for bad in ["0", "1.5", "-0.2", "half"] {
        fails_cleanly(
            d,
            &["generate", "--model", "lm.safetensors", "--top-p", bad],
            2,
            &["--top-p", bad],
        );
    }
    let nucleus = ok(
        d,
        &[
            "generate",
            "--model",
            "lm.safetensors",
            "--prompt",
            "he",
            "--length",
            "30",
            "--top-k",
            "5",
            "--top-p",
            "0.5",
        ],
    );
    assert_eq!(
        nucleus.trim_end_matches('\n').chars().count(),
        32,
        "{nucleus:?}"
    );
}

/// Every new kind in one character model, `dropout` included so that the
/// generator's state matters to the resume.
const ALL_KINDS: &str = "embedding(14,8), positional(6,8), \
    residual(layernorm(8), attention(8,2,causal=true)), \
    residual(linear(8,16), gelu, dropout(0.1), linear(16,8)), \
    lstm(8,8), gru(8,8), linear(8,14)";
const TEXT: &str = "the cat sat on the mat; the rat ate the oat bran. ";

fn tensors(path: &Path) -> Vec<(String, Vec<u32>)> {
    let mut t: Vec<(String, Vec<u32>)> = candle_core::safetensors::load(path, &Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(n, t)| {
            let bits = t.flatten_all().unwrap().to_dtype(DType::F32).unwrap();
            (
                n,
                bits.to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
            )
        })
        .collect();
    t.sort();
    t
}

#[test]
fn a_character_model_with_every_new_kind_resumes_bit_for_bit_and_generates() {
    let dir = workdir("lm-all");
    let d = &dir;
    fs::write(d.join("t.txt"), TEXT.repeat(4)).unwrap();
    let args = |epochs: &'static str, out: &'static str| {
        vec![
            "train",
            "--text",
            "t.txt",
            "--context",
            "6",
            "--stride",
            "3",
            "--arch",
            ALL_KINDS,
            "--loss",
            "cross-entropy",
            "--optimizer",
            "adamw",
            "--lr",
            "0.01",
            "--batch-size",
            "8",
            "--val-split",
            "0.25",
            "--epochs",
            epochs,
            "--quiet",
            "--out",
            out,
        ]
    };
    ok(d, &args("4", "whole.safetensors"));
    let mut first = args("2", "part.safetensors");
    first.extend(["--checkpoint", "run.ckpt"]);
    ok(d, &first);
    let mut second = args("4", "part.safetensors");
    second.extend(["--resume", "run.ckpt"]);
    ok(d, &second);
    assert_eq!(
        tensors(&d.join("part.safetensors")),
        tensors(&d.join("whole.safetensors"))
    );

    // summary: the window's shapes, the vocabulary and the context.
    let summary = ok(d, &["summary", "--model", "whole.safetensors"]);
    assert!(summary.starts_with("input: [batch, 6]\n"), "{summary}");
    assert!(summary.contains("lstm(8,8)"), "{summary}");
    assert!(summary.contains("[batch, 6, 14]"), "{summary}");
    assert!(
        summary.contains("text: 14 characters, context 6"),
        "{summary}"
    );

    // generate: the prompt, then exactly --length characters; the same seed
    // gives the same text, another seed another.
    let gen = |seed: &'static str| {
        ok(
            d,
            &[
                "generate",
                "--model",
                "whole.safetensors",
                "--prompt",
                "the ",
                "--length",
                "40",
                "--seed",
                seed,
            ],
        )
    };
    let a = gen("3");
    assert!(a.starts_with("the "), "{a}");
    assert_eq!(a.trim_end_matches('\n').chars().count(), 44, "{a:?}");
    assert_eq!(a, gen("3"));
    assert_ne!(a, gen("4"));

    // --temperature 0 is greedy: the most likely character each time, with
    // the model fed at most its last 6 characters. Checked here with the
    // library's forward pass, one step at a time.
    let greedy = ok(
        d,
        &[
            "generate",
            "--model",
            "whole.safetensors",
            "--prompt",
            "the c",
            "--length",
            "12",
            "--temperature",
            "0",
        ],
    );
    let model = Model::load(&d.join("whole.safetensors"), None, &Device::Cpu).unwrap();
    let vocab = model.vocab.clone().unwrap();
    let mut text: Vec<char> = "the c".chars().collect();
    for _ in 0..12 {
        let window = &text[text.len().saturating_sub(6)..];
        let ids: Vec<i64> = window
            .iter()
            .map(|c| vocab.iter().position(|v| v == c).unwrap() as i64)
            .collect();
        let x = Tensor::from_vec(ids, (1, window.len()), &Device::Cpu).unwrap();
        let logits = model.net.forward(&x, Mode::Eval).unwrap();
        let last: Vec<f32> = logits
            .get(0)
            .unwrap()
            .get(window.len() - 1)
            .unwrap()
            .to_vec1()
            .unwrap();
        let best = (0..last.len()).fold(0, |b, i| if last[i] > last[b] { i } else { b });
        text.push(vocab[best]);
    }
    assert_eq!(
        greedy.trim_end_matches('\n'),
        text.iter().collect::<String>()
    );
}

#[test]
fn predict_prints_sequence_outputs_row_major_and_a_class_per_position() {
    let dir = workdir("seq-predict");
    let d = &dir;
    let x = vec![vec![1, 2, 3, 4], vec![4, 3, 2, 1], vec![0, 0, 5, 5]];
    let y = [0, 1, -100, 2, 0, 1, 1, 1, 2, 0, -100, 1];
    write_ids(&d.join("seq.npz"), &x, &[3, 4], &y);
    let arch = "embedding(6,4), residual(attention(4,2)), linear(4,3)";
    ok(d, &train("seq.npz", arch));
    let model = Model::load(&d.join("out.safetensors"), None, &Device::Cpu).unwrap();
    let ids = Tensor::from_vec(x.concat(), (3, 4), &Device::Cpu).unwrap();
    let logits: Vec<Vec<Vec<f32>>> = model
        .net
        .forward(&ids, Mode::Eval)
        .unwrap()
        .to_vec3()
        .unwrap();

    let printed = ok(
        d,
        &["predict", "--model", "out.safetensors", "--data", "seq.npz"],
    );
    let rows: Vec<&str> = printed.lines().collect();
    assert_eq!(rows.len(), 3, "{printed}");
    for (row, want) in rows.iter().zip(&logits) {
        let got: Vec<f32> = row.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(got, want.concat(), "{row}");
    }

    let labels = ok(
        d,
        &[
            "predict",
            "--model",
            "out.safetensors",
            "--data",
            "seq.npz",
            "--label",
        ],
    );
    let want: Vec<String> = logits
        .iter()
        .map(|row| {
            let classes: Vec<String> = row
                .iter()
                .map(|p| {
                    (0..p.len())
                        .fold(0, |b, i| if p[i] > p[b] { i } else { b })
                        .to_string()
                })
                .collect();
            classes.join(",")
        })
        .collect();
    assert_eq!(labels.lines().collect::<Vec<_>>(), want);
}

#[test]
fn a_character_model_whose_metadata_does_not_fit_its_stack_is_refused() {
    let dir = workdir("lm-metadata");
    let d = &dir;
    let save = |file: &str, arch: &str, context: usize| {
        let spec = arch.parse().unwrap();
        let net = synapse_nn::Sequential::init(
            &spec,
            synapse_nn::Init::Torch,
            1,
            DType::F32,
            &Device::Cpu,
        )
        .unwrap();
        let mut model = Model::new(net);
        model.loss = Some(synapse_nn::Loss::CrossEntropy);
        model.vocab = Some(vec!['a', 'b', 'c', 'd', 'e']);
        model.context = Some(context);
        model.save(&d.join(file)).unwrap();
    };
    // Seven scores for five characters: generate drew ids that name none.
    save("wide.safetensors", "embedding(5,4), linear(4,7)", 4);
    save(
        "long.safetensors",
        "embedding(5,4), positional(3,4), linear(4,5)",
        4,
    );
    for command in ["generate", "summary", "export"] {
        let mut args = vec![command, "--model", "wide.safetensors"];
        if command == "export" {
            args.extend(["--out", "m.onnx"]);
        }
        fails_cleanly(
            d,
            &args,
            2,
            &["--model wide.safetensors", "5 characters", "7 scores"],
        );
    }
    fails_cleanly(
        d,
        &[
            "generate",
            "--model",
            "long.safetensors",
            "--prompt",
            "abcdeabcde",
        ],
        2,
        &["--model long.safetensors", "context 4", "positional(3,4)"],
    );
}

#[test]
fn a_class_out_of_range_at_a_position_is_named_by_its_row_and_position() {
    let dir = workdir("seq-class-range");
    let d = &dir;
    write_ids(
        &d.join("big_class.npz"),
        &[vec![1, 2, 3], vec![4, 1, 5]],
        &[2, 3],
        &[0, 1, -100, 1, 11, 0],
    );
    let err = fails_cleanly(
        d,
        &train("big_class.npz", "embedding(10,4), linear(4,10)"),
        2,
        &[
            "--data big_class.npz",
            "row 2, position 2",
            "class 11",
            "10 outputs",
        ],
    );
    assert!(!err.contains("12 classes"), "{err}");
}
