//! Hugging Face folders (SPEC section 12): what is refused, and how.
//!
//! The reference folders are `tests/data/gpt2/` (see its README.md).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde_json::Value;
use synapse_nn::Mode;
use synapse_train::{generate, Model, Sampling};

fn reference(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gpt2")
        .join(name)
}

/// A copy of `tiny-random` in a fresh folder, changed by `edit`.
fn folder_with(edit: impl FnOnce(&Path)) -> (tempdir::Dir, PathBuf) {
    let tmp = tempdir::Dir::new();
    let dir = tmp.path().join("gpt2");
    std::fs::create_dir(&dir).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(reference("tiny-random").join(f), dir.join(f)).unwrap();
    }
    edit(&dir);
    (tmp, dir)
}

fn load_error(dir: &Path) -> String {
    Model::load(dir, None, &Device::Cpu)
        .unwrap_err()
        .to_string()
}

fn values(folder: &str) -> Value {
    let text = std::fs::read_to_string(reference("values.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["folders"][folder].clone()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x.as_array() {
            Some(row) => row.iter().map(|y| y.as_f64().unwrap()).collect(),
            None => vec![x.as_f64().unwrap()],
        })
        .collect()
}

/// Both folders, untied (`tiny-trained`: its own `lm_head`, eps 1e-6,
/// dropouts 0.1) and tied (`tiny-random`: `lm_head` is `wte`, read as
/// `linear(D,V,bias=false,tied=0)`), read in f64 give transformers' f64
/// logits at every position of the prompt (`values.json`, made by `make.py`: `model.double()` of
/// `from_pretrained(DIR, attn_implementation="eager")`), its tokenizer the
/// prompt's ids, and greedy generation transformers' tokens with a KV cache
/// (`generate(ids, do_sample=False, max_new_tokens=20)`, float32).
#[test]
fn both_folders_give_transformers_logits_and_greedy_tokens() {
    for folder in ["tiny-trained", "tiny-random"] {
        folder_gives_transformers_logits_and_greedy_tokens(folder);
    }
}

fn folder_gives_transformers_logits_and_greedy_tokens(folder: &str) {
    let dir = reference(folder);
    let want = values(folder);
    let tied = want["tie_word_embeddings"].as_bool().unwrap();
    let model = synapse_train::hf::load_folder(&dir, None, Some(DType::F64), &Device::Cpu).unwrap();
    let head = model.net.spec().elements().last().unwrap().to_string();
    assert_eq!(head.ends_with("tied=0)"), tied, "{folder}: {head}");
    let tok = model.tokenizer.as_ref().expect("the folder's tokenizer");
    let prompt = want["prompt"].as_str().unwrap();
    let ids: Vec<u32> = tok.encode(prompt).unwrap();
    let want_ids: Vec<u32> = want["prompt_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(ids, want_ids);
    let t = ids.len();
    let x = Tensor::from_vec(
        ids.iter().map(|&i| i64::from(i)).collect::<Vec<_>>(),
        (1, t),
        &Device::Cpu,
    )
    .unwrap();
    let logits = model.net.forward(&x, Mode::Eval).unwrap();
    let ours = logits.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let theirs = numbers(&want["logits_f64"]);
    assert_eq!(ours.len(), theirs.len());
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-10,
        "{folder}: largest relative difference {worst:e}"
    );

    let model = Model::load(&dir, None, &Device::Cpu).unwrap();
    assert_eq!(model.net.dtype(), DType::F32);
    let s = Sampling {
        length: 20,
        temperature: 0.0,
        ..Sampling::default()
    };
    let text = generate(&model, prompt, &s).unwrap();
    assert_eq!(
        text,
        want["greedy_f32"]["text"].as_str().unwrap(),
        "{folder}"
    );
}

#[test]
fn another_model_type_a_pickle_and_a_missing_config_are_one_line_each() {
    let (_t, dir) = folder_with(|d| {
        let text = std::fs::read_to_string(d.join("config.json")).unwrap();
        std::fs::write(d.join("config.json"), text.replace("\"gpt2\"", "\"llama\"")).unwrap();
    });
    let e = load_error(&dir);
    assert!(
        e.contains("config.json") && e.contains("model_type `llama`"),
        "{e}"
    );

    let (_t, dir) = folder_with(|d| {
        std::fs::rename(d.join("model.safetensors"), d.join("pytorch_model.bin")).unwrap();
    });
    let e = load_error(&dir);
    assert!(
        e.contains("pytorch_model.bin") && e.contains("save_pretrained"),
        "{e}"
    );

    let (_t, dir) = folder_with(|d| std::fs::remove_file(d.join("config.json")).unwrap());
    let e = load_error(&dir);
    assert!(e.contains("has no config.json"), "{e}");

    let (_t, dir) = folder_with(|d| std::fs::remove_file(d.join("model.safetensors")).unwrap());
    let e = load_error(&dir);
    assert!(e.contains("has no model.safetensors"), "{e}");
    assert!(!e.contains('\n') && !e.contains("backtrace"), "{e}");
}

mod tempdir {
    //! A folder removed when dropped.
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "synapse-hf-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `--init DIR` (`load_start`) reads the folder once, as the stack given,
/// in the float type asked for, with the folder's own tensors.
#[test]
fn a_folder_as_the_start_of_training_keeps_its_tensors_in_the_asked_type() {
    let dir = reference("tiny-trained");
    let spec: synapse_nn::ArchSpec = synapse_train::hf::read_config(&dir)
        .unwrap()
        .spec_text()
        .parse()
        .unwrap();
    let (net, prior) =
        synapse_train::job::load_start(&dir, &spec, DType::F64, &Device::Cpu).unwrap();
    assert_eq!(net.dtype(), DType::F64);
    assert!(prior.labels.is_none() && prior.normalize.is_none());
    let read = Model::load(&dir, Some(&spec), &Device::Cpu).unwrap();
    for ((name, a), (_, b)) in net.state().into_iter().zip(read.net.state()) {
        let a = a
            .to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a, b, "{name}");
    }
}

/// The config an export writes is read back from the stack alone, and
/// equals the folder's own `config.json` (tiny-trained: 2 layers, 4 heads,
/// every dropout 0.1, epsilon 1e-6, not tied; tiny-random: tied).
#[test]
fn the_exported_config_is_the_folders_own() {
    for name in ["tiny-trained", "tiny-random"] {
        let dir = reference(name);
        let model = Model::load(&dir, None, &Device::Cpu).unwrap();
        let ours = synapse_train::hf::config_of(model.net.spec()).unwrap();
        let theirs: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let n = |k: &str| theirs[k].as_u64().unwrap() as usize;
        let f = |k: &str| theirs[k].as_f64().unwrap();
        assert_eq!(
            (
                ours.vocab_size,
                ours.n_positions,
                ours.n_embd,
                ours.n_layer,
                ours.n_head
            ),
            (
                n("vocab_size"),
                n("n_positions"),
                n("n_embd"),
                n("n_layer"),
                n("n_head")
            ),
            "{name}"
        );
        assert_eq!(ours.n_inner, 4 * n("n_embd"), "{name}");
        assert_eq!(
            (
                ours.layer_norm_epsilon,
                ours.embd_pdrop,
                ours.attn_pdrop,
                ours.resid_pdrop
            ),
            (
                f("layer_norm_epsilon"),
                f("embd_pdrop"),
                f("attn_pdrop"),
                f("resid_pdrop")
            ),
            "{name}"
        );
        assert_eq!(ours.tied, name == "tiny-random", "{name}");
    }
}

/// One layer is the fewest GPT-2 has: the stack of a one-layer config is
/// read back as that config; the stack without any layer is refused.
#[test]
fn a_one_layer_stack_is_of_gpt2s_form_and_none_is_not() {
    use synapse_train::hf::{config_of, Gpt2Config};
    let text = std::fs::read_to_string(reference("tiny-trained/config.json")).unwrap();
    let mut config = Gpt2Config::parse(&text).unwrap();
    config.n_layer = 1;
    let spec = config.spec_text().parse().unwrap();
    let back = config_of(&spec).unwrap();
    assert_eq!(back.n_layer, 1);
    assert_eq!(back.spec_text(), config.spec_text());
    config.n_layer = 0;
    let e = config_of(&config.spec_text().parse().unwrap()).unwrap_err();
    assert!(e.contains("a pair of residual blocks per layer"), "{e}");
}

/// A sharded checkpoint's index names files inside the folder only: a
/// missing one, one in a sub-folder or one above is refused by name.
#[test]
fn a_shard_index_names_files_in_the_folder() {
    for name in [
        "missing.safetensors",
        "sub/model.safetensors",
        "../model.safetensors",
    ] {
        let (_tmp, dir) = folder_with(|d| {
            std::fs::remove_file(d.join("model.safetensors")).unwrap();
            let index = format!(
                r#"{{"metadata": {{}}, "weight_map": {{"transformer.wte.weight": "{name}"}}}}"#
            );
            std::fs::write(d.join("model.safetensors.index.json"), index).unwrap();
        });
        let e = load_error(&dir);
        assert!(
            e.contains(&format!("names {name}, which is not a file in the folder")),
            "{name}: {e}"
        );
    }
}

/// The exported `bos_token_id` and `eos_token_id` are the tokenizer's
/// `<|endoftext|>` (here moved from id 0 to 383, as GPT-2's is at 50256),
/// and 0 for a model without a tokenizer.
#[test]
fn the_exported_config_ends_texts_with_the_tokenizers_end_of_text() {
    let (_tmp, dir) = folder_with(|dir| {
        let path = dir.join("tokenizer.json");
        let mut t: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let vocab = t["model"]["vocab"].as_object_mut().unwrap();
        let last = vocab
            .iter()
            .find(|(_, id)| id.as_u64() == Some(383))
            .map(|(k, _)| k.clone())
            .unwrap();
        vocab.insert(last, 0.into());
        vocab.insert("<|endoftext|>".into(), 383.into());
        t["added_tokens"][0]["id"] = 383.into();
        std::fs::write(&path, t.to_string()).unwrap();
    });
    let mut model = Model::load(&dir, None, &Device::Cpu).unwrap();
    let ids = |out: &Path| {
        let c: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        (c["bos_token_id"].as_u64(), c["eos_token_id"].as_u64())
    };
    let out = dir.parent().unwrap().join("out");
    synapse_train::hf::export_folder(&model, &out).unwrap();
    assert_eq!(ids(&out), (Some(383), Some(383)));
    model.tokenizer = None;
    let bare = dir.parent().unwrap().join("bare");
    synapse_train::hf::export_folder(&model, &bare).unwrap();
    assert_eq!(ids(&bare), (Some(0), Some(0)));
}

/// `train --init DIR --text FILE` cuts windows with the folder's own
/// tokenizer: found when the folder has one, none otherwise.
#[test]
fn a_folders_own_tokenizer_is_found_when_it_has_one() {
    let dir = reference("tiny-random");
    assert_eq!(
        synapse_train::hf::folder_tokenizer(&dir),
        Some(dir.join("tokenizer.json"))
    );
    let (_tmp, bare) = folder_with(|d| std::fs::remove_file(d.join("tokenizer.json")).unwrap());
    assert_eq!(synapse_train::hf::folder_tokenizer(&bare), None);
}

/// A folder stored in f64, started from in f32, gives the f32 folder's own
/// tensors (the values round trip through f64 exactly).
#[test]
fn an_f64_folder_read_in_f32_gives_the_f32_tensors() {
    let (_tmp, dir) = folder_with(|d| {
        let path = d.join("model.safetensors");
        let tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
        let wide: std::collections::HashMap<String, Tensor> = tensors
            .into_iter()
            .map(|(k, t)| (k, t.to_dtype(DType::F64).unwrap()))
            .collect();
        candle_core::safetensors::save(&wide, &path).unwrap();
    });
    let spec: synapse_nn::ArchSpec = synapse_train::hf::read_config(&dir)
        .unwrap()
        .spec_text()
        .parse()
        .unwrap();
    let (net, _) = synapse_train::job::load_start(&dir, &spec, DType::F32, &Device::Cpu).unwrap();
    let want = Model::load(&reference("tiny-random"), Some(&spec), &Device::Cpu).unwrap();
    for ((name, a), (_, b)) in net.state().into_iter().zip(want.net.state()) {
        assert_eq!(a.dtype(), DType::F32, "{name}");
        let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a, b, "{name}");
    }
}
