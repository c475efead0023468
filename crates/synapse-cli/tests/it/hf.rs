//! Hugging Face GPT-2 folders wherever a model file is taken (SPEC section
//! 12), against the reference folders of
//! crates/synapse-train/tests/data/gpt2 (values from its make.py).

use std::path::PathBuf;

use crate::common::{fails_cleanly, ok_in as ok, workdir};

fn folder(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../synapse-train/tests/data/gpt2");
    root.join(name).to_string_lossy().into_owned()
}

/// `generate` of 20 tokens at temperature 0 after values.json's prompt,
/// the text without its last newline.
fn greedy(dir: &std::path::Path, model: &str) -> String {
    greedy_with(dir, model, &[])
}

/// [`greedy`] with more flags.
fn greedy_with(dir: &std::path::Path, model: &str, more: &[&str]) -> String {
    let mut args = vec![
        "generate",
        "--model",
        model,
        "--prompt",
        "The synapse command trains a small model",
        "--length",
        "20",
        "--temperature",
        "0",
    ];
    args.extend(more);
    let out = ok(dir, &args);
    out.trim_end_matches('\n').to_string()
}

/// `--weights bf16`: transformers' greedy text with the same matrices
/// rounded to bfloat16 (wte, so the tied head, and every Conv1D weight;
/// the rest float32), made by:
///
/// ```python
/// import torch, transformers
/// for name in ["tiny-trained", "tiny-random"]:
///     m = transformers.GPT2LMHeadModel.from_pretrained(name, torch_dtype=torch.float32).eval()
///     tok = transformers.PreTrainedTokenizerFast(tokenizer_file=f"{name}/tokenizer.json")
///     with torch.no_grad():
///         for n, p in m.named_parameters():
///             if n.endswith("wte.weight") or (n.endswith(".weight") and p.dim() == 2 and "wpe" not in n):
///                 p.copy_(p.to(torch.bfloat16).float())
///     ids = tok("The synapse command trains a small model", return_tensors="pt").input_ids
///     out = m.generate(ids, max_new_tokens=20, do_sample=False, pad_token_id=0)
///     print(name, repr(tok.decode(out[0])))
/// ```
///
/// (transformers 5.25, torch 2.15). The rounding leaves both folders'
/// greedy text as in float32; `synapse-nn`'s `tests/it/bf16.rs` checks the
/// scores themselves.
#[test]
fn generate_with_bf16_weights_gives_the_rounded_models_greedy_text() {
    let dir = workdir("hf_bf16");
    assert_eq!(
        greedy_with(&dir, &folder("tiny-trained"), &["--weights", "bf16"]),
        "The synapse command trains a small model file,\n\n\n  line (`synapse train --model.safetensors --model.safetensors --"
    );
    assert_eq!(
        greedy_with(&dir, &folder("tiny-random"), &["--weights", "bf16"]),
        format!(
            "The synapse command trains a small model{}",
            "rain".repeat(20)
        )
    );
    fails_cleanly(
        &dir,
        &[
            "generate",
            "--model",
            &folder("tiny-random"),
            "--weights",
            "f16",
        ],
        2,
        &["--weights"],
    );
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
    assert_eq!(
        greedy(&dir, &model),
        "The synapse command trains a small model file,\n\n\n  line (`synapse train --model.safetensors --model.safetensors --"
    );
}

#[test]
fn a_tied_folder_reads_and_a_folder_without_config_is_one_error_line() {
    let dir = workdir("hf_refused");
    // tiny-random ties lm_head to wte: its greedy text (values.json).
    let summary = ok(&dir, &["summary", "--model", &folder("tiny-random")]);
    assert!(summary.contains("bias=false,tied=0)"), "{summary}");
    assert_eq!(
        greedy(&dir, &folder("tiny-random")),
        format!(
            "The synapse command trains a small model{}",
            "rain".repeat(20)
        )
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

/// The tensors of a folder's `model.safetensors`, by name, as f64 values.
fn folder_tensors(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<f64>> {
    tensors_of(&dir.join("model.safetensors"))
}

/// The tensors of a safetensors file, by name, as f64 values.
fn tensors_of(file: &std::path::Path) -> std::collections::BTreeMap<String, Vec<f64>> {
    candle_core::safetensors::load(file, &candle_core::Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(name, t)| {
            let t = t.to_dtype(candle_core::DType::F64).unwrap();
            (name, t.flatten_all().unwrap().to_vec1::<f64>().unwrap())
        })
        .collect()
}

fn config(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

/// `export --format hf` of a folder transformers wrote gives its tensors
/// back, by transformers' own names, bit for bit (f32 in, f32 out; the tied
/// one without `lm_head.weight`, as `save_pretrained` writes it), the
/// config's sizes, the tokenizer, and a folder that reads as the same model.
#[test]
fn export_hf_gives_transformers_folders_back() {
    let dir = workdir("hf_export");
    for name in ["tiny-random", "tiny-trained"] {
        let original = std::path::PathBuf::from(folder(name));
        let out = dir.join(name);
        let printed = ok(
            &dir,
            &[
                "export",
                "--format",
                "hf",
                "--model",
                original.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(printed.contains("GPT-2 folder"), "{printed}");
        assert_eq!(folder_tensors(&out), folder_tensors(&original), "{name}");
        let (ours, theirs) = (config(&out), config(&original));
        for key in [
            "model_type",
            "vocab_size",
            "n_positions",
            "n_embd",
            "n_layer",
            "n_head",
            "layer_norm_epsilon",
            "embd_pdrop",
            "attn_pdrop",
            "resid_pdrop",
        ] {
            assert_eq!(ours[key], theirs[key], "{name}: {key}");
        }
        let tied = |c: &serde_json::Value| c["tie_word_embeddings"].as_bool().unwrap_or(true);
        assert_eq!(tied(&ours), tied(&theirs), "{name}: tie_word_embeddings");
        assert_eq!(
            std::fs::read_to_string(out.join("tokenizer.json")).unwrap(),
            std::fs::read_to_string(original.join("tokenizer.json")).unwrap()
        );
        let a = ok(&dir, &["summary", "--model", out.to_str().unwrap()]);
        let b = ok(&dir, &["summary", "--model", original.to_str().unwrap()]);
        assert_eq!(
            a.replace(out.to_str().unwrap(), ""),
            b.replace(original.to_str().unwrap(), "")
        );
    }
}

#[test]
fn export_hf_refuses_a_full_folder_a_folder_inside_and_another_form() {
    let dir = workdir("hf_export_refused");
    let original = folder("tiny-random");
    let full = dir.join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("notes.txt"), "keep me").unwrap();
    let export = |model: &str, out: &str| {
        vec![
            "export".to_string(),
            "--format".into(),
            "hf".into(),
            "--model".into(),
            model.into(),
            "--out".into(),
            out.into(),
        ]
    };
    let args = export(&original, full.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails_cleanly(&dir, &args, 2, &["--out", "not empty"]);
    assert_eq!(
        std::fs::read_to_string(full.join("notes.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);

    let inside = format!("{original}/copy");
    let args = export(&original, &inside);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails_cleanly(&dir, &args, 2, &["--out", "inside the --model folder"]);
    assert!(!std::path::Path::new(&inside).exists());

    let spec = "linear(3,4), tanh, linear(4,2)".parse().unwrap();
    let net = synapse_nn::Sequential::init(
        &spec,
        synapse_nn::Init::Torch,
        1,
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let model = dir.join("mlp.safetensors");
    synapse_train::Model::new(net).save(&model).unwrap();
    let out = dir.join("mlp_hf");
    let args = export(model.to_str().unwrap(), out.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails_cleanly(
        &dir,
        &args,
        2,
        &["not of GPT-2's form", "element 0 `linear(3,4)`"],
    );
    assert!(!out.exists());
}

/// The f64 fine-tune of `tiny-random` from the shell equals PyTorch's
/// (`finetune.json`, made by make.py: `GPT2LMHeadModel` in f64, windows of
/// 16 tokens at stride 16, batches of 2 in order, 3 steps of
/// `AdamW(lr=0.01, weight_decay=0.01, eps=1e-8)`): the epoch's loss (the
/// mean of the 3 step losses) and every final tensor to 1e-9, read back
/// through `export --format hf` by transformers' names. The key block of
/// `c_attn.bias` is compared on its own terms: its gradient is zero in
/// exact arithmetic (softmax ignores a shift shared by every key), so Adam
/// steps on rounding noise there, in PyTorch as here; each of the 3 steps
/// moves it by at most about `lr`, which bounds the difference.
#[test]
fn an_f64_fine_tune_from_the_shell_equals_pytorch() {
    let dir = workdir("hf_finetune");
    let data = std::path::PathBuf::from(folder(""));
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("finetune.json")).unwrap())
            .unwrap();
    let (model, log, out) = (
        dir.join("ft.safetensors"),
        dir.join("ft.csv"),
        dir.join("ft_hf"),
    );
    let p = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let args = [
        "train",
        "--init",
        &folder("tiny-random"),
        "--text",
        &p(&data.join("finetune.txt")),
        "--context",
        "16",
        "--stride",
        "16",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--no-shuffle",
        "--optimizer",
        "adamw",
        "--lr",
        "0.01",
        "--weight-decay",
        "0.01",
        "--eps",
        "1e-8",
        "--dtype",
        "f64",
        "--loss",
        "cross-entropy",
        "--log",
        &p(&log),
        "--out",
        &p(&model),
    ];
    ok(&dir, &args);
    let losses: Vec<f64> = reference["losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mean = losses.iter().sum::<f64>() / losses.len() as f64;
    let row = std::fs::read_to_string(&log).unwrap();
    let header: Vec<&str> = row.lines().next().unwrap().split(',').collect();
    let values: Vec<&str> = row.lines().nth(1).unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == "loss").unwrap();
    let loss: f64 = values[at].parse().unwrap();
    assert!((loss - mean).abs() < 1e-9, "loss {loss} vs PyTorch {mean}");

    ok(
        &dir,
        &[
            "export",
            "--format",
            "hf",
            "--model",
            &p(&model),
            "--out",
            &p(&out),
        ],
    );
    let ours = folder_tensors(&out);
    let theirs = tensors_of(&data.join("finetune_final.safetensors"));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let d = 32;
    for (name, want) in &theirs {
        let got = &ours[name];
        for (k, (a, b)) in got.iter().zip(want).enumerate() {
            let key_block = name.ends_with("attn.c_attn.bias") && (d..2 * d).contains(&k);
            let tol = if key_block { 3.0 * 0.01 } else { 1e-9 };
            assert!((a - b).abs() <= tol, "{name}[{k}]: {a} vs PyTorch {b}");
        }
    }
}
