//! Tokenizers (SPEC section 12) against the reference data of
//! `tests/data/gpt2` (made by the `tokenizers` Python package, see its
//! README): encoding, decoding, training byte for byte, windows of tokens,
//! model files and generation by tokens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device};
use synapse_nn::{Init, Sequential};
use synapse_train::tokenizer::{train_bpe, train_bpe_from_texts, Tokenizer};
use synapse_train::{generate, Model, Rows, Sampling, Text};

fn gpt2(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gpt2")
        .join(file)
}

fn json(file: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(gpt2(file)).unwrap()).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// `prompt_ids` and `prompt_decoded` of values.json, for both folders.
#[test]
fn the_reference_tokenizers_encode_and_decode_the_prompt_as_python_does() {
    let values = json("values.json");
    let prompt = values["prompt"].as_str().unwrap();
    for (folder, n) in [("tiny-random", 384), ("tiny-trained", 512)] {
        let tok = Tokenizer::load(&gpt2(&format!("{folder}/tokenizer.json"))).unwrap();
        assert_eq!(tok.vocab_size(), n, "{folder}");
        let want = &values["folders"][folder];
        let got = tok.encode(prompt).unwrap();
        assert_eq!(got, ids(&want["prompt_ids"]), "{folder}");
        assert_eq!(
            tok.decode(&got).unwrap(),
            want["prompt_decoded"].as_str().unwrap()
        );
    }
}

/// The crate's trainer with GPT-2's settings on corpus.txt writes the
/// reference tokenizers byte for byte (Python's `BpeTrainer` made them).
#[test]
fn training_on_the_corpus_gives_the_reference_files_byte_for_byte() {
    for (folder, n) in [("tiny-random", 384), ("tiny-trained", 512)] {
        let tok = train_bpe(&[gpt2("corpus.txt")], n).unwrap();
        let want = std::fs::read_to_string(gpt2(&format!("{folder}/tokenizer.json"))).unwrap();
        assert_eq!(tok.json(), want, "{folder}");
    }
    let e = train_bpe_from_texts(&["abc"], 256).unwrap_err().to_string();
    assert!(e.contains("256") && e.contains("257"), "{e}");
    let e = train_bpe(&[gpt2("missing.txt")], 300)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.txt"), "{e}");
}

/// finetune.txt encoded once and cut as SPEC section 10 cuts characters:
/// finetune.json's ids and its six windows of 16.
#[test]
fn windows_of_tokens_are_the_reference_windows() {
    let reference = json("finetune.json");
    let tok = Arc::new(Tokenizer::load(&gpt2("tiny-random/tokenizer.json")).unwrap());
    let text = Arc::new(Text::load_tokens(&gpt2("finetune.txt"), tok).unwrap());
    assert_eq!(text.len(), 106);
    let (train, val) = Text::split(&text, 16, 16, None).unwrap();
    assert!(val.is_none());
    let windows = reference["windows"].as_array().unwrap();
    assert_eq!(train.len(), windows.len());
    let rows: Vec<u32> = (0..windows.len() as u32).collect();
    let (x, y) = train.batch(&rows).unwrap();
    let (x, y) = (x.to_vec2::<i64>().unwrap(), y.to_vec2::<f32>().unwrap());
    for (k, w) in windows.iter().enumerate() {
        let input: Vec<i64> = ids(&w["input"]).iter().map(|&i| i64::from(i)).collect();
        let target: Vec<f32> = ids(&w["target"]).iter().map(|&i| i as f32).collect();
        assert_eq!(x[k], input, "window {k}");
        assert_eq!(y[k], target, "window {k}");
    }
}

fn token_model(spec: &str) -> Model {
    let spec = spec.parse().unwrap();
    let mut m =
        Model::new(Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap());
    m.tokenizer = Some(Tokenizer::load(&gpt2("tiny-random/tokenizer.json")).unwrap());
    m.context = Some(8);
    m
}

/// The model file keeps the tokenizer's JSON (metadata `tokenizer`, no
/// `vocab`) and checks it against the stack when read.
#[test]
fn a_model_file_keeps_its_tokenizer_and_checks_it_against_the_stack() {
    let model = token_model("embedding(384,8), linear(8,384)");
    let bytes = model.to_bytes().unwrap();
    let back = Model::from_bytes(Path::new("m"), &bytes, None, &Device::Cpu).unwrap();
    assert_eq!(back.tokenizer, model.tokenizer);
    assert!(back.vocab.is_none());
    assert!(back.metadata.contains_key("tokenizer"));
    assert!(!back.metadata.contains_key("vocab"));
    // A stack whose embedding takes fewer ids than the tokenizer gives.
    let small = token_model("embedding(100,8), linear(8,100)");
    let e = Model::from_bytes(
        Path::new("m"),
        &small.to_bytes().unwrap(),
        None,
        &Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("384") && e.contains("100"), "{e}");
    // Both kinds of vocabulary.
    let mut both = token_model("embedding(384,8), linear(8,384)");
    both.vocab = Some(vec!['a'; 1]);
    let e = Model::from_bytes(
        Path::new("m"),
        &both.to_bytes().unwrap(),
        None,
        &Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("both"), "{e}");
}

/// A token model's stack must give one score per id of its embedding at
/// each position: `embedding(384,8), linear(8,200)` gives 200 scores for
/// the tokenizer's 384 ids and is refused when its file is read.
#[test]
fn a_token_model_that_scores_fewer_ids_than_it_reads_is_refused() {
    let narrow = token_model("embedding(384,8), linear(8,200)");
    let e = Model::from_bytes(
        Path::new("m"),
        &narrow.to_bytes().unwrap(),
        None,
        &Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    // Context 8 (token_model's): [8, 200] where [8, 384] was due.
    assert!(e.contains("[8, 200]") && e.contains("[8, 384]"), "{e}");
}

/// `length` counts tokens; the prompt is encoded (a character no text had
/// is still bytes) and the output decodes prompt and tokens together.
#[test]
fn generate_with_a_tokenizer_counts_tokens_and_decodes() {
    let model = token_model("embedding(384,8), linear(8,384)");
    let tok = model.tokenizer.clone().unwrap();
    let s = Sampling {
        length: 6,
        ..Sampling::default()
    };
    let prompt = "The synapse ⚡";
    let text = generate(&model, prompt, &s).unwrap();
    assert!(text.starts_with(prompt), "{text}");
    let prompt_ids = synapse_train::prompt_ids(&model, prompt).unwrap();
    assert_eq!(prompt_ids.len(), tok.encode(prompt).unwrap().len());
    assert_eq!(generate(&model, prompt, &s).unwrap(), text);
    let longer = generate(
        &model,
        prompt,
        &Sampling {
            length: 12,
            ..Sampling::default()
        },
    )
    .unwrap();
    assert!(longer.starts_with(&text[..prompt.len()]));
    // The tokens drawn: 6 more than the prompt's, as text_of reads them.
    let t = synapse_train::text_of(&model, &prompt_ids).unwrap();
    assert_eq!(t, prompt);
}

/// A text job's settings (stored in its checkpoints) name the tokenizer by
/// its size and content, right before the text it cuts.
#[test]
fn a_text_jobs_settings_put_the_tokenizer_before_the_text() {
    use synapse_train::job::{JobOptions, Prior, TrainData, TrainJob};
    let j = TrainJob::check(
        JobOptions {
            text: Some(gpt2("finetune.txt")),
            tokenizer: Some(gpt2("tiny-random/tokenizer.json")),
            context: Some(16),
            loss: Some("cross-entropy".into()),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let spec = "embedding(384,8), linear(8,384)".parse().unwrap();
    let data = TrainData::assemble(&j, &spec, DType::F32, &Prior::default()).unwrap();
    let settings = j.settings(&data).unwrap();
    let keys: Vec<&str> = settings
        .split("; ")
        .map(|p| p.split_once('=').unwrap().0)
        .collect();
    let at = keys.iter().position(|&k| k == "tokenizer").unwrap();
    assert_eq!(keys[at + 1], "text", "{settings}");
    assert!(settings.contains("tokenizer=384 tokens "), "{settings}");
}

/// The smallest vocabulary a byte-level BPE can have is its 256 byte
/// symbols and `<|endoftext|>`: 257 trains (no merge), 256 is refused
/// naming the flag.
#[test]
fn the_smallest_bpe_vocabulary_is_the_bytes_and_end_of_text() {
    let texts = ["low lower lowest\n"];
    let tok = train_bpe_from_texts(&texts, 257).unwrap();
    assert_eq!(tok.vocab_size(), 257);
    let e = train_bpe_from_texts(&texts, 256).unwrap_err().to_string();
    assert!(
        e.contains("vocab-size") && e.contains("at least 257"),
        "{e}"
    );
}

/// A tokenized text is empty when its tokens are none (the empty string),
/// whatever its characters would have been; one with tokens is not.
#[test]
fn a_text_of_no_tokens_is_empty() {
    let tok = Arc::new(Tokenizer::load(&gpt2("tiny-random/tokenizer.json")).unwrap());
    let none = Text::tokens_of("", tok.clone()).unwrap();
    assert!(none.is_empty());
    assert_eq!(none.len(), 0);
    let some = Text::tokens_of("the model", tok).unwrap();
    assert!(!some.is_empty());
    assert_ne!(some.len(), 0);
}
