//! Tokenizers from the shell (SPEC section 12): `train --tokenizer` then
//! `generate`, `synapse tokenizer`, and the refusals.

use std::fs;
use std::path::PathBuf;

use synapse_train::Tokenizer;

use crate::common::{fails_cleanly, ok_in, snapshot, workdir};

fn gpt2(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../synapse-train/tests/data/gpt2")
        .join(file)
}

/// A folder with the reference tokenizer (384 tokens) and a text.
fn setup(test: &str) -> PathBuf {
    let dir = workdir(test);
    fs::copy(gpt2("tiny-random/tokenizer.json"), dir.join("tok.json")).unwrap();
    fs::copy(gpt2("finetune.txt"), dir.join("text.txt")).unwrap();
    dir
}

const ARCH: &str = "embedding(384,8), lstm(8,8), linear(8,384)";

#[test]
fn train_with_a_tokenizer_then_generate_counts_tokens() {
    let dir = setup("tok-generate");
    ok_in(
        &dir,
        &[
            "train",
            "--text",
            "text.txt",
            "--tokenizer",
            "tok.json",
            "--context",
            "8",
            "--arch",
            ARCH,
            "--loss",
            "cross-entropy",
            "--epochs",
            "2",
            "--quiet",
            "--out",
            "m.safetensors",
        ],
    );
    let model =
        synapse_train::Model::load(&dir.join("m.safetensors"), None, &candle_core::Device::Cpu)
            .unwrap();
    let tok = model
        .tokenizer
        .clone()
        .expect("the model keeps its tokenizer");
    assert_eq!(
        tok.json(),
        fs::read_to_string(dir.join("tok.json")).unwrap()
    );
    assert!(model.vocab.is_none());
    // A prompt character no text had: byte-level, so no error.
    let prompt = "The synapse ⚡";
    let out = ok_in(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--prompt",
            prompt,
            "--length",
            "7",
            "--temperature",
            "0",
        ],
    );
    let text = out.strip_suffix('\n').unwrap();
    assert!(text.starts_with(prompt), "{text}");
    // 7 tokens after the prompt's: the prompt's encoding, then 7 more ids
    // that the greedy model gives again.
    let prompt_ids = tok.encode(prompt).unwrap().len();
    let longer = ok_in(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--prompt",
            prompt,
            "--length",
            "8",
            "--temperature",
            "0",
        ],
    );
    assert!(longer.len() >= out.len(), "{longer} {out}");
    assert!(prompt_ids > 0);
    // No tokens: the prompt decoded, exactly; seven: more than the prompt.
    let none = ok_in(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--prompt",
            prompt,
            "--length",
            "0",
        ],
    );
    assert_eq!(none, format!("{prompt}\n"));
    assert_ne!(text, prompt);
    let summary = ok_in(&dir, &["summary", "--model", "m.safetensors"]);
    assert!(
        summary.contains("384 tokens (tokenizer), context 8"),
        "{summary}"
    );
}

#[test]
fn a_tokenizer_larger_than_the_embedding_is_one_line_naming_both_sizes() {
    let dir = setup("tok-too-large");
    let before = snapshot(&dir);
    fails_cleanly(
        &dir,
        &[
            "train",
            "--text",
            "text.txt",
            "--tokenizer",
            "tok.json",
            "--context",
            "8",
            "--arch",
            "embedding(100,8), linear(8,100)",
            "--loss",
            "cross-entropy",
            "--out",
            "m.safetensors",
        ],
        2,
        &["--tokenizer tok.json", "384", "embedding(100,D)"],
    );
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn the_tokenizer_command_writes_a_tokenizer_that_loads_and_round_trips() {
    let dir = setup("tok-command");
    fs::copy(gpt2("corpus.txt"), dir.join("corpus.txt")).unwrap();
    let out = ok_in(
        &dir,
        &[
            "tokenizer",
            "--text",
            "corpus.txt",
            "text.txt",
            "--vocab-size",
            "300",
            "--out",
            "t.json",
        ],
    );
    assert!(out.contains("300 tokens"), "{out}");
    let tok = Tokenizer::load(&dir.join("t.json")).unwrap();
    assert_eq!(tok.vocab_size(), 300);
    let text = "synapse trains small networks: ünïcödé ⚡ too\n";
    assert_eq!(tok.decode(&tok.encode(text).unwrap()).unwrap(), text);
    // The same inputs give the same bytes.
    let first = fs::read(dir.join("t.json")).unwrap();
    ok_in(
        &dir,
        &[
            "tokenizer",
            "--text",
            "corpus.txt",
            "text.txt",
            "--vocab-size",
            "300",
            "--out",
            "t.json",
        ],
    );
    assert_eq!(fs::read(dir.join("t.json")).unwrap(), first);
    // GPT-2's settings: the reference file, which Python's trainer made.
    ok_in(
        &dir,
        &[
            "tokenizer",
            "--text",
            "corpus.txt",
            "--vocab-size",
            "384",
            "--out",
            "ref.json",
        ],
    );
    assert_eq!(
        fs::read(dir.join("ref.json")).unwrap(),
        fs::read(dir.join("tok.json")).unwrap()
    );
}

#[test]
fn tokenizer_refusals_name_their_flag_and_change_nothing() {
    let dir = setup("tok-refusals");
    fs::write(dir.join("bad.txt"), b"ok\xff").unwrap();
    fs::write(dir.join("old.json"), "old").unwrap();
    let before = snapshot(&dir);
    let t = |args: &[&str], needles: &[&str]| {
        fails_cleanly(&dir, args, 2, needles);
        assert_eq!(snapshot(&dir), before, "{args:?}");
    };
    t(
        &[
            "tokenizer",
            "--text",
            "missing.txt",
            "--vocab-size",
            "300",
            "--out",
            "old.json",
        ],
        &["--text", "missing.txt"],
    );
    t(
        &[
            "tokenizer",
            "--text",
            "text.txt",
            "--vocab-size",
            "256",
            "--out",
            "old.json",
        ],
        &["--vocab-size", "256", "257"],
    );
    t(
        &[
            "tokenizer",
            "--text",
            "bad.txt",
            "--vocab-size",
            "300",
            "--out",
            "old.json",
        ],
        &["--text", "bad.txt", "byte 2", "UTF-8"],
    );
    // --tokenizer applies to --text only.
    t(
        &[
            "train",
            "--data",
            "data.csv",
            "--tokenizer",
            "tok.json",
            "--arch",
            "linear(3,1)",
            "--loss",
            "mse",
            "--out",
            "m.safetensors",
        ],
        &["--tokenizer applies to --text only"],
    );
    t(
        &[
            "train",
            "--text",
            "text.txt",
            "--tokenizer",
            "missing.json",
            "--context",
            "8",
            "--arch",
            ARCH,
            "--loss",
            "cross-entropy",
            "--out",
            "m.safetensors",
        ],
        &["--tokenizer", "missing.json"],
    );
    t(
        &[
            "train",
            "--text",
            "text.txt",
            "--tokenizer",
            "text.txt",
            "--context",
            "8",
            "--arch",
            ARCH,
            "--loss",
            "cross-entropy",
            "--out",
            "m.safetensors",
        ],
        &["--tokenizer", "text.txt", "tokenizer.json"],
    );
}

/// A resume with another tokenizer (or none) is refused naming --tokenizer.
#[test]
fn a_resume_with_another_tokenizer_is_refused() {
    let dir = setup("tok-resume");
    fs::copy(gpt2("tiny-trained/tokenizer.json"), dir.join("other.json")).unwrap();
    let run = |tok: Option<&str>, epochs: &str, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "train",
            "--text",
            "text.txt",
            "--context",
            "8",
            "--arch",
            "embedding(512,8), linear(8,512)",
            "--loss",
            "cross-entropy",
            "--quiet",
            "--out",
            "m.safetensors",
            "--epochs",
            epochs,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(t) = tok {
            a.extend(["--tokenizer".to_string(), t.to_string()]);
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let args = run(Some("tok.json"), "1", &["--checkpoint", "c.ckpt"]);
    ok_in(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    for tok in [Some("other.json"), None] {
        let args = run(tok, "2", &["--resume", "c.ckpt"]);
        fails_cleanly(
            &dir,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            2,
            &["--resume c.ckpt", "--tokenizer"],
        );
    }
    let args = run(Some("tok.json"), "2", &["--resume", "c.ckpt"]);
    ok_in(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
}
