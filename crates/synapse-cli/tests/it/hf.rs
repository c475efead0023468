//! Hugging Face GPT-2 folders wherever a model file is taken (SPEC section
//! 12), against the reference folders of
//! crates/synapse-train/tests/data/gpt2 (values from its make.py).

use std::path::PathBuf;

use crate::common::{fails_cleanly, ok_in as ok, workdir};

fn folder(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../synapse-train/tests/data/gpt2");
    root.join(name).to_string_lossy().into_owned()
}

#[test]
fn summary_and_generate_read_an_untied_folder() {
    let dir = workdir("hf_summary_generate");
    let model = folder("tiny-trained");
    let summary = ok(&dir, &["summary", "--model", &model]);
    assert!(
        summary.contains("attention(32,4,causal=true,dropout=0.1)"),
        "{summary}"
    );
    assert!(
        summary.contains("gelu(tanh)") && summary.contains("linear(32,512,bias=false)"),
        "{summary}"
    );
    // transformers' greedy text (values.json greedy_f32.text, KV cache).
    let out = ok(
        &dir,
        &[
            "generate",
            "--model",
            &model,
            "--prompt",
            "The synapse command trains a small model",
            "--length",
            "20",
            "--temperature",
            "0",
        ],
    );
    assert_eq!(
        out.trim_end_matches('\n'),
        "The synapse command trains a small model file,\n\n\n  line (`synapse train --model.safetensors --model.safetensors --"
    );
}

#[test]
fn a_tied_folder_reads_and_a_folder_without_config_is_one_error_line() {
    let dir = workdir("hf_refused");
    // tiny-random ties lm_head to wte: its greedy text (values.json).
    let summary = ok(&dir, &["summary", "--model", &folder("tiny-random")]);
    assert!(summary.contains("bias=false,tied=0)"), "{summary}");
    let out = ok(
        &dir,
        &[
            "generate",
            "--model",
            &folder("tiny-random"),
            "--prompt",
            "The synapse command trains a small model",
            "--length",
            "20",
            "--temperature",
            "0",
        ],
    );
    assert_eq!(
        out.trim_end_matches('\n'),
        format!("The synapse command trains a small model{}", "rain".repeat(20))
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fails_cleanly(
        &dir,
        &["summary", "--model", empty.to_str().unwrap()],
        2,
        &["has no config.json"],
    );
}
