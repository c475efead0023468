//! Writing a model of GPT-2's form as a folder that
//! `GPT2LMHeadModel.from_pretrained` reads (SPEC section 12).
//!
//! The model's stack is matched against the stack its own sizes would give
//! ([`Gpt2Config::spec_text`]), element by element: the first that differs
//! is the error. The folder gets `config.json`, `model.safetensors`
//! (transformers' names, `Conv1D` weights back to `[in, out]`, metadata
//! `format = pt`, the model's float type) and `tokenizer.json` when the
//! model keeps one; the files are written together, atomically (a failed
//! export replaces none of them).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use synapse_nn::ArchSpec;

use super::config::Gpt2Config;
use super::load::{CONFIG, TOKENIZER, WEIGHTS};
use super::names::entries;
use crate::{write_all_contents_atomic, Content, Error, Model, Result};

/// Writes `model` as a GPT-2 folder at `dir` (made when missing).
pub fn export_folder(model: &Model, dir: &Path) -> Result<()> {
    let spec = model.net.spec();
    let mut config = config_of(spec).map_err(|e| Error::config("--format hf", e))?;
    // GPT-2 begins and ends a text with `<|endoftext|>`.
    let end = model.tokenizer.as_ref().and_then(|t| t.end_of_text());
    config.bos_token_id = end.map(u64::from);
    config.eos_token_id = end.map(u64::from);
    let state: HashMap<String, _> = model.net.state().into_iter().collect();
    let mut tensors = Vec::new();
    for e in entries(config.n_layer, config.tied) {
        let t = state.get(&e.ours).ok_or_else(|| {
            Error::config("--format hf", format!("the model has no tensor {}", e.ours))
        })?;
        let t = match e.transposed {
            true => t.t()?.contiguous()?,
            false => t.clone(),
        };
        tensors.push((e.hf, t));
    }
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    let mut weights = Vec::new();
    crate::safetensors_bytes::write(&mut weights, &tensors, metadata)?;
    let config_text = config.to_json();
    let tokenizer = model.tokenizer.as_ref().map(|t| t.json());
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let (c, w, t) = (dir.join(CONFIG), dir.join(WEIGHTS), dir.join(TOKENIZER));
    let mut files = vec![
        (c.as_path(), Content::Bytes(config_text.as_bytes())),
        (w.as_path(), Content::Bytes(&weights)),
    ];
    if let Some(text) = tokenizer {
        files.push((t.as_path(), Content::Bytes(text.as_bytes())));
    }
    write_all_contents_atomic(&files)
}

/// The config whose stack is `spec`, or which element does not fit.
pub fn config_of(spec: &ArchSpec) -> std::result::Result<Gpt2Config, String> {
    let texts: Vec<String> = spec.elements().iter().map(ToString::to_string).collect();
    let misfit = |i: usize, expected: &str| {
        format!(
            "the model is not of GPT-2's form: element {i} `{}` does not fit (expected {expected})",
            texts.get(i).map_or("(none)", String::as_str)
        )
    };
    let sizes0 = sizes(&texts[0], "embedding").ok_or_else(|| misfit(0, "`embedding(V,D)`"))?;
    let (v, d) = (sizes0[0], sizes0[1]);
    let p = texts
        .get(1)
        .and_then(|t| sizes(t, "positional"))
        .map(|s| s[0])
        .ok_or_else(|| misfit(1, &format!("`positional(P,{d})`")))?;
    let embd_pdrop = texts
        .get(2)
        .and_then(|t| probability(t, "dropout("))
        .ok_or_else(|| misfit(2, "`dropout(P)`"))?;
    let n = texts.len();
    if n < 7 || !(n - 5).is_multiple_of(2) {
        return Err(misfit(n.min(3), "a pair of residual blocks per layer"));
    }
    let block = texts.get(3).map_or("", String::as_str);
    let mlp = texts.get(4).map_or("", String::as_str);
    let head_text = texts.last().map_or("", String::as_str);
    let heads = block
        .find("attention(")
        .and_then(|at| sizes(&block[at..], "attention"))
        .and_then(|s| s.get(1).copied())
        .ok_or_else(|| {
            misfit(
                3,
                "`residual(layernorm(D), attention(D,H,causal=true), dropout(P))`",
            )
        })?;
    let inner = mlp
        .find("linear(")
        .and_then(|at| sizes(&mlp[at..], "linear"))
        .and_then(|s| s.get(1).copied())
        .ok_or_else(|| {
            misfit(
                4,
                "`residual(layernorm(D), linear(D,I), gelu(tanh), linear(I,D), dropout(P))`",
            )
        })?;
    let config = Gpt2Config {
        vocab_size: v,
        n_positions: p,
        n_embd: d,
        n_layer: (n - 5) / 2,
        n_head: heads,
        n_inner: inner,
        layer_norm_epsilon: option(block, "eps=").unwrap_or(synapse_nn::DEFAULT_NORM_EPS),
        embd_pdrop,
        attn_pdrop: option(block, "dropout=").unwrap_or(0.0),
        resid_pdrop: block
            .rfind("dropout(")
            .and_then(|at| probability(&block[at..], "dropout("))
            .unwrap_or(0.0),
        tied: head_text.contains("tied="),
        bos_token_id: None,
        eos_token_id: None,
    };
    let expected: ArchSpec = config
        .spec_text()
        .parse()
        .map_err(|_| misfit(0, "a stack of GPT-2's form"))?;
    for (i, (ours, theirs)) in spec.elements().iter().zip(expected.elements()).enumerate() {
        if ours != theirs {
            return Err(misfit(i, &format!("`{theirs}`")));
        }
    }
    Ok(config)
}

/// The leading whole numbers of `kind(A,B,...)`.
fn sizes(text: &str, kind: &str) -> Option<Vec<usize>> {
    let args = text.strip_prefix(kind)?.strip_prefix('(')?;
    let args = &args[..args.find(')')?];
    let out: Vec<usize> = args
        .split(',')
        .map_while(|a| a.trim().parse().ok())
        .collect();
    (!out.is_empty()).then_some(out)
}

/// The number after `key` (as in `eps=0.001`) up to `,` or `)`.
fn option(text: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest.find([',', ')'])?;
    rest[..end].trim().parse().ok()
}

/// `dropout(P)`'s P.
fn probability(text: &str, open: &str) -> Option<f64> {
    option(text.strip_prefix(open).map(|_| text)?, open)
}
