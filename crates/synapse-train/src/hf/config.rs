//! A GPT-2 folder's `config.json` (SPEC section 12), read and written.
//!
//! The keys that change the forward pass are read and checked; a value the
//! stack of [`Gpt2Config::spec_text`] cannot hold (another `model_type`,
//! activation, attention scaling, cross-attention) is an error naming the
//! key. `n_inner` null means `4 n_embd`; `tie_word_embeddings` absent means
//! tied, as transformers reads them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The keys of `config.json` that decide the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Gpt2Config {
    /// `vocab_size` (V).
    pub vocab_size: usize,
    /// `n_positions` (P): the longest window.
    pub n_positions: usize,
    /// `n_embd` (D).
    pub n_embd: usize,
    /// `n_layer`: transformer blocks.
    pub n_layer: usize,
    /// `n_head` (H): D is a multiple of it.
    pub n_head: usize,
    /// `n_inner`: the MLP's hidden width (null: 4D).
    pub n_inner: usize,
    /// `layer_norm_epsilon`.
    pub layer_norm_epsilon: f64,
    /// `embd_pdrop`, `attn_pdrop`, `resid_pdrop`.
    pub embd_pdrop: f64,
    pub attn_pdrop: f64,
    pub resid_pdrop: f64,
    /// `tie_word_embeddings` (absent: true).
    pub tied: bool,
    /// `bos_token_id` / `eos_token_id`: as read; on export the tokenizer's
    /// `<|endoftext|>` (50256 in GPT-2's, 0 in one made by synapse), or 0
    /// without a tokenizer.
    pub bos_token_id: Option<u64>,
    pub eos_token_id: Option<u64>,
}

/// `config.json` as transformers writes it, the keys we read.
#[derive(Deserialize, Serialize)]
struct Raw {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    n_positions: Option<usize>,
    n_embd: Option<usize>,
    n_layer: Option<usize>,
    n_head: Option<usize>,
    n_inner: Option<usize>,
    layer_norm_epsilon: Option<f64>,
    activation_function: Option<String>,
    embd_pdrop: Option<f64>,
    attn_pdrop: Option<f64>,
    resid_pdrop: Option<f64>,
    tie_word_embeddings: Option<bool>,
    scale_attn_weights: Option<bool>,
    scale_attn_by_inverse_layer_idx: Option<bool>,
    reorder_and_upcast_attn: Option<bool>,
    add_cross_attention: Option<bool>,
    bos_token_id: Option<Value>,
    eos_token_id: Option<Value>,
}

/// GPT-2's activation under transformers' names: `gelu_new` (the tanh
/// approximation) and its aliases.
const TANH_GELU: [&str; 3] = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"];

impl Gpt2Config {
    /// Parses and checks `config.json`'s text; the error names the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: Raw = serde_json::from_str(text).map_err(|e| format!("not a config ({e})"))?;
        match raw.model_type.as_deref() {
            Some("gpt2") => {}
            Some(other) => {
                return Err(format!(
                    "model_type `{other}` is not supported (synapse reads `gpt2`)"
                ))
            }
            None => return Err("has no model_type (synapse reads `gpt2`)".into()),
        }
        let size = |v: Option<usize>, key: &str, default: Option<usize>| {
            v.or(default)
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{key} must be a whole number greater than 0"))
        };
        let (vocab_size, n_positions) = (
            size(raw.vocab_size, "vocab_size", Some(50257))?,
            size(raw.n_positions, "n_positions", Some(1024))?,
        );
        let n_embd = size(raw.n_embd, "n_embd", Some(768))?;
        let n_layer = size(raw.n_layer, "n_layer", Some(12))?;
        let n_head = size(raw.n_head, "n_head", Some(12))?;
        if n_embd % n_head != 0 {
            return Err(format!(
                "n_embd {n_embd} is not a multiple of n_head {n_head}"
            ));
        }
        let n_inner = size(raw.n_inner, "n_inner", Some(4 * n_embd))?;
        let eps = raw.layer_norm_epsilon.unwrap_or(1e-5);
        if !(eps.is_finite() && eps > 0.0) {
            return Err(format!("layer_norm_epsilon {eps} must be greater than 0"));
        }
        let act = raw.activation_function.as_deref().unwrap_or("gelu_new");
        if !TANH_GELU.contains(&act) {
            return Err(format!(
                "activation_function `{act}` is not supported (synapse reads gelu_new, GPT-2's)"
            ));
        }
        let flag = |v: Option<bool>, key: &str, want: bool| match v {
            Some(b) if b != want => Err(format!("{key} {b} is not supported (only {want})")),
            _ => Ok(()),
        };
        flag(raw.scale_attn_weights, "scale_attn_weights", true)?;
        flag(
            raw.scale_attn_by_inverse_layer_idx,
            "scale_attn_by_inverse_layer_idx",
            false,
        )?;
        flag(
            raw.reorder_and_upcast_attn,
            "reorder_and_upcast_attn",
            false,
        )?;
        flag(raw.add_cross_attention, "add_cross_attention", false)?;
        let p = |v: Option<f64>, key: &str| {
            let p = v.unwrap_or(0.1);
            if (0.0..1.0).contains(&p) {
                Ok(p)
            } else {
                Err(format!("{key} {p} is not a probability in [0, 1)"))
            }
        };
        Ok(Self {
            vocab_size,
            n_positions,
            n_embd,
            n_layer,
            n_head,
            n_inner,
            layer_norm_epsilon: eps,
            embd_pdrop: p(raw.embd_pdrop, "embd_pdrop")?,
            attn_pdrop: p(raw.attn_pdrop, "attn_pdrop")?,
            resid_pdrop: p(raw.resid_pdrop, "resid_pdrop")?,
            tied: raw.tie_word_embeddings.unwrap_or(true),
            bos_token_id: raw.bos_token_id.as_ref().and_then(Value::as_u64),
            eos_token_id: raw.eos_token_id.as_ref().and_then(Value::as_u64),
        })
    }

    /// The stack of SPEC section 12, as spec text.
    pub fn spec_text(&self) -> String {
        let (v, p, d, h) = (self.vocab_size, self.n_positions, self.n_embd, self.n_head);
        let (inner, eps) = (self.n_inner, self.layer_norm_epsilon);
        let mut parts = vec![
            format!("embedding({v},{d})"),
            format!("positional({p},{d})"),
            format!("dropout({})", self.embd_pdrop),
        ];
        for _ in 0..self.n_layer {
            parts.push(format!(
                "residual(layernorm({d},eps={eps}), attention({d},{h},causal=true,dropout={}), dropout({}))",
                self.attn_pdrop, self.resid_pdrop
            ));
            parts.push(format!(
                "residual(layernorm({d},eps={eps}), linear({d},{inner}), gelu(tanh), linear({inner},{d}), dropout({}))",
                self.resid_pdrop
            ));
        }
        parts.push(format!("layernorm({d},eps={eps})"));
        let tie = if self.tied { ",tied=0" } else { "" };
        parts.push(format!("linear({d},{v},bias=false{tie})"));
        parts.join(", ")
    }

    /// `config.json` as `GPT2LMHeadModel.save_pretrained` writes it (the keys
    /// that matter, and the ones that keep transformers' defaults explicit).
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        let mut put = |k: &str, v: Value| {
            map.insert(k.to_string(), v);
        };
        put("activation_function", "gelu_new".into());
        put("architectures", vec!["GPT2LMHeadModel"].into());
        put("attn_pdrop", self.attn_pdrop.into());
        put("bos_token_id", self.bos_token_id.unwrap_or(0).into());
        put("embd_pdrop", self.embd_pdrop.into());
        put("eos_token_id", self.eos_token_id.unwrap_or(0).into());
        put("layer_norm_epsilon", self.layer_norm_epsilon.into());
        put("model_type", "gpt2".into());
        put("n_embd", self.n_embd.into());
        put("n_head", self.n_head.into());
        put("n_inner", self.n_inner.into());
        put("n_layer", self.n_layer.into());
        put("n_positions", self.n_positions.into());
        put("reorder_and_upcast_attn", false.into());
        put("resid_pdrop", self.resid_pdrop.into());
        put("scale_attn_by_inverse_layer_idx", false.into());
        put("scale_attn_weights", true.into());
        put("tie_word_embeddings", self.tied.into());
        put("vocab_size", self.vocab_size.into());
        let mut text = serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_small_defaults_and_the_stack() {
        let c = Gpt2Config::parse(r#"{"model_type": "gpt2", "n_layer": 1}"#).unwrap();
        assert_eq!(
            (c.vocab_size, c.n_positions, c.n_embd, c.n_head),
            (50257, 1024, 768, 12)
        );
        assert_eq!((c.n_inner, c.tied), (3072, true));
        assert_eq!(
            c.spec_text(),
            "embedding(50257,768), positional(1024,768), dropout(0.1), \
             residual(layernorm(768,eps=0.00001), attention(768,12,causal=true,dropout=0.1), dropout(0.1)), \
             residual(layernorm(768,eps=0.00001), linear(768,3072), gelu(tanh), linear(3072,768), dropout(0.1)), \
             layernorm(768,eps=0.00001), linear(768,50257,bias=false,tied=0)"
        );
    }

    #[test]
    fn values_the_stack_cannot_hold_name_their_key() {
        let bad = [
            (r#"{"model_type": "llama"}"#, "model_type `llama`"),
            (r#"{}"#, "has no model_type"),
            (
                r#"{"model_type": "gpt2", "n_embd": 10, "n_head": 3}"#,
                "n_embd 10",
            ),
            (
                r#"{"model_type": "gpt2", "activation_function": "relu"}"#,
                "activation_function `relu`",
            ),
            (
                r#"{"model_type": "gpt2", "scale_attn_by_inverse_layer_idx": true}"#,
                "scale_attn_by_inverse_layer_idx",
            ),
            (r#"{"model_type": "gpt2", "n_layer": 0}"#, "n_layer"),
            (r#"{"model_type": "gpt2", "attn_pdrop": 1.5}"#, "attn_pdrop"),
            (
                r#"{"model_type": "gpt2", "layer_norm_epsilon": -1}"#,
                "layer_norm_epsilon",
            ),
            // 0 too: a row of equal values would divide by 0.
            (
                r#"{"model_type": "gpt2", "layer_norm_epsilon": 0}"#,
                "layer_norm_epsilon",
            ),
        ];
        for (text, says) in bad {
            let e = Gpt2Config::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn written_config_reads_back() {
        let c = Gpt2Config::parse(
            r#"{"model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 2, "vocab_size": 384,
                "n_positions": 64, "tie_word_embeddings": false, "layer_norm_epsilon": 1e-6,
                "attn_pdrop": 0.0, "resid_pdrop": 0.2, "embd_pdrop": 0.3}"#,
        )
        .unwrap();
        // Ids absent are written as GPT-2's 0 (`<|endoftext|>`).
        let back = Gpt2Config::parse(&c.to_json()).unwrap();
        assert_eq!((back.bos_token_id, back.eos_token_id), (Some(0), Some(0)));
        let c = Gpt2Config {
            bos_token_id: Some(0),
            eos_token_id: Some(0),
            ..c
        };
        assert_eq!(back, c);
    }
}
