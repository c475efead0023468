//! `generate` with the KV cache (the default) against the whole window for
//! every character (`kv_cache: false`): the same characters, greedy and
//! sampled (top-k, top-p), for attention, lstm and gru character models,
//! past the context (the window slides and the cache is rebuilt), from an
//! empty prompt, and for a stack that cannot step (it falls back).

use candle_core::{DType, Device};
use synapse_nn::{Init, Sequential};
use synapse_train::{generate, generate_streaming, Model, Sampling};

fn model(arch: &str, dtype: DType, context: usize) -> Model {
    let spec = arch.parse().unwrap();
    let mut m = Model::new(Sequential::init(&spec, Init::Torch, 5, dtype, &Device::Cpu).unwrap());
    m.vocab = Some("abcdefghij".chars().collect());
    m.context = Some(context);
    m
}

const MODELS: [(&str, usize); 4] = [
    ("embedding(10,8), positional(12,8), residual(layernorm(8), attention(8,2,causal=true)), residual(layernorm(8), linear(8,16), relu, linear(16,8)), linear(8,10)", 12),
    ("embedding(10,6), lstm(6,16), linear(16,10)", 40),
    ("embedding(10,6), gru(6,16), linear(16,10)", 7),
    // seqmean cannot step: the whole window every time.
    ("embedding(10,6), lstm(6,8), seqmean, linear(8,10)", 9),
];

#[test]
fn cached_and_full_window_generation_draw_the_same_characters() {
    let settings = [
        Sampling {
            length: 60,
            temperature: 0.0,
            ..Sampling::default()
        },
        Sampling {
            length: 60,
            temperature: 1.0,
            seed: 3,
            ..Sampling::default()
        },
        Sampling {
            length: 60,
            temperature: 0.7,
            top_k: Some(4),
            top_p: Some(0.8),
            seed: 9,
            ..Sampling::default()
        },
    ];
    for dtype in [DType::F32, DType::F64] {
        for (arch, context) in MODELS {
            let m = model(arch, dtype, context);
            for s in &settings {
                for prompt in ["", "abc", "jihgfedcbajihgfedcba"] {
                    let cached = generate(&m, prompt, s).unwrap();
                    let full = generate(
                        &m,
                        prompt,
                        &Sampling {
                            kv_cache: false,
                            ..s.clone()
                        },
                    )
                    .unwrap();
                    assert_eq!(cached, full, "{arch} {dtype:?} {s:?} prompt {prompt:?}");
                    assert_eq!(cached.chars().count(), prompt.chars().count() + 60);
                }
            }
        }
    }
}

#[test]
fn streaming_gives_the_prompt_then_one_character_at_a_time() {
    let m = model(MODELS[1].0, DType::F32, 40);
    let s = Sampling {
        length: 5,
        ..Sampling::default()
    };
    let mut pieces = Vec::new();
    generate_streaming(&m, "ab", &s, |p| {
        pieces.push(p.to_string());
        Ok::<(), synapse_train::Error>(())
    })
    .unwrap();
    assert_eq!(pieces.len(), 6);
    assert_eq!(pieces[0], "ab");
    assert_eq!(pieces.concat(), generate(&m, "ab", &s).unwrap());
}

/// A character cut between two tokens is given whole, once its second
/// token is drawn: never a replacement character for the half that came
/// first. The model is a bigram table set by hand (greedy: `a` then the
/// byte 0xC3 then the byte 0xA9, again and again), over a byte-level
/// tokenizer of those three tokens (GPT-2's byte-to-character map writes
/// the bytes 0xC3 and 0xA9 as `Ã` and `©`): the bytes C3 A9 are `é`.
#[test]
fn streaming_waits_for_the_rest_of_a_character() {
    let json = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,
        "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
        "post_processor":null,
        "decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
        "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,
            "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,
            "vocab":{"a":0,"\u00c3":1,"\u00a9":2},"merges":[]}}"#;
    let spec = "embedding(3,3)".parse().unwrap();
    // Row i scores the token after i highest: 0 -> 1 -> 2 -> 0.
    let table = candle_core::Tensor::new(
        &[[0f32, 9.0, 0.0], [0.0, 0.0, 9.0], [9.0, 0.0, 0.0]],
        &Device::Cpu,
    )
    .unwrap();
    let tensors = [("0.weight".to_string(), table)].into_iter().collect();
    let net = Sequential::from_tensors(&spec, &tensors, DType::F32, &Device::Cpu).unwrap();
    let mut m = Model::new(net);
    m.tokenizer = Some(synapse_train::Tokenizer::from_json(json).unwrap());
    m.context = Some(8);
    let s = Sampling {
        length: 7,
        temperature: 0.0,
        ..Sampling::default()
    };
    let mut pieces = Vec::new();
    generate_streaming(&m, "a", &s, |p| {
        pieces.push(p.to_string());
        Ok::<(), synapse_train::Error>(())
    })
    .unwrap();
    // Seven tokens after the prompt: C3 A9 a C3 A9 a C3 (the last cut).
    assert_eq!(pieces[..4], ["a", "é", "a", "é"]);
    assert!(
        pieces[..5].iter().all(|p| !p.contains('\u{FFFD}')),
        "{pieces:?}"
    );
    assert_eq!(pieces.concat(), generate(&m, "a", &s).unwrap());
    assert_eq!(pieces.concat(), "aéaéa\u{FFFD}");
}

#[test]
fn top_p_out_of_range_is_refused() {
    let m = model(MODELS[1].0, DType::F32, 40);
    for f in [0.0, -0.5, 1.5, f64::NAN] {
        let s = Sampling {
            top_p: Some(f),
            ..Sampling::default()
        };
        let e = generate(&m, "a", &s).unwrap_err().to_string();
        assert!(e.contains("top-p"), "{e}");
    }
}

/// Within the context, the cache serves every new character: no full
/// pass of the attention kernel runs (`kv_cache: false` runs one per
/// character); past the context each character is one full pass.
#[test]
fn within_the_context_the_cache_makes_no_full_pass() {
    let (arch, context) = MODELS[0];
    let m = model(arch, DType::F32, context);
    let full_passes = |prompt: &str, length: usize, kv_cache: bool| {
        let before = synapse_nn::kernel_calls_of("attention");
        let s = Sampling {
            length,
            kv_cache,
            ..Sampling::default()
        };
        generate(&m, prompt, &s).unwrap();
        synapse_nn::kernel_calls_of("attention") - before
    };
    // 3 + 9 = 12 characters: all inside the window.
    assert_eq!(full_passes("abc", 9, true), 0);
    assert_eq!(full_passes("abc", 9, false), 9);
    // A full window of 12, then 4 more: the first is scored from the
    // cache, the next 3 slide the window.
    assert_eq!(full_passes("abcdefghijab", 4, true), 3);
    // And the cache grows: after the prompt's step each new character is
    // one step of one token over it (`attention-step`), not a rebuild from
    // the whole window.
    let one_token_steps = |prompt: &str, length: usize| {
        let before = synapse_nn::kernel_calls_of("attention-step");
        let s = Sampling {
            length,
            ..Sampling::default()
        };
        generate(&m, prompt, &s).unwrap();
        synapse_nn::kernel_calls_of("attention-step") - before
    };
    assert_eq!(one_token_steps("abc", 9), 8);
}
