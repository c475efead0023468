//! `Sequential::with_bf16_weights` (generation with bfloat16 weights): the
//! same scores as the f32 stack whose matrices were rounded to bfloat16 by
//! candle and multiplied by candle's own f32 ops (only the order of the f32
//! additions differs), over the full window and step by step over the
//! caches; the tie kept as one variable; the bfloat16 kernel really runs;
//! and a backward through it is an error, not a panic.

use std::collections::HashMap;

use crate::largest_gap;
use candle_core::{DType, Device, Tensor, Var};
use synapse_nn::{kernel_calls_of, with_fused_ops, Decoder, Init, Mode, Sequential};

/// GPT-2's form in small: a tied head, pre-norm blocks, a causal attention.
const GPT: &str = "embedding(11,16), positional(12,16), residual(layernorm(16), attention(16,2,causal=true)), residual(layernorm(16), linear(16,32), gelu(tanh), linear(32,16)), layernorm(16), linear(16,11,bias=false,tied=0)";

/// Names of the tensors `with_bf16_weights` keeps in bfloat16, for `GPT`.
fn is_matrix(name: &str) -> bool {
    name == "0.weight"
        || name.ends_with("in_proj_weight")
        || name.ends_with("out_proj.weight")
        || name == "3.1.weight"
        || name == "3.3.weight"
}

#[test]
fn bf16_weights_give_the_scores_of_the_rounded_f32_stack() {
    let spec = GPT.parse().unwrap();
    let dev = &Device::Cpu;
    let net = Sequential::init(&spec, Init::Torch, 3, DType::F32, dev).unwrap();
    let bf16 = net.with_bf16_weights().unwrap();
    assert_eq!(bf16.dtype(), DType::F32);

    // What is in bfloat16, and the tie: the head's weight is the table.
    let state: HashMap<String, Var> = bf16.parameters().into_iter().collect();
    for (name, v) in &state {
        let want = if is_matrix(name) {
            DType::BF16
        } else {
            DType::F32
        };
        assert_eq!(v.dtype(), want, "{name}");
    }
    assert_eq!(
        state.len(),
        net.parameters().len(),
        "the tie is one variable"
    );

    // The reference: candle's rounding of each matrix, widened back to f32,
    // in a plain f32 stack, run with candle's ops (no kernel).
    let rounded: HashMap<String, Tensor> = net
        .state()
        .into_iter()
        .map(|(name, t)| {
            let t = if is_matrix(&name) {
                t.to_dtype(DType::BF16)
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap()
            } else {
                t
            };
            (name, t)
        })
        .collect();
    let reference = Sequential::from_tensors(&spec, &rounded, DType::F32, dev).unwrap();

    let ids = Tensor::new(&[[3i64, 1, 4, 1, 5, 9, 2, 6, 5, 3]], dev).unwrap();
    let want = with_fused_ops(false, || reference.forward(&ids, Mode::Eval)).unwrap();
    let before = kernel_calls_of("dense-bf16");
    let got = bf16.forward(&ids, Mode::Eval).unwrap();
    assert!(
        kernel_calls_of("dense-bf16") > before,
        "the bf16 kernel did not run"
    );
    let scale = largest_gap(&want, &want.zeros_like().unwrap());
    let gap = largest_gap(&got, &want);
    assert!(gap <= 1e-5 * scale, "full window: {gap} of {scale}");
    // Not the f32 stack's scores: the rounding is real.
    let f32_scores = net.forward(&ids, Mode::Eval).unwrap();
    assert!(largest_gap(&f32_scores, &got) > 100.0 * gap.max(1e-7));

    // Step by step over the caches: the full window's last position.
    let all: Vec<u32> = [3u32, 1, 4, 1, 5, 9, 2, 6, 5, 3].to_vec();
    let mut dec = Decoder::new(&bf16);
    let mut last = dec.step(&all[..4]).unwrap().expect("steps");
    for &id in &all[4..] {
        last = dec.step(&[id]).unwrap().expect("steps");
    }
    let full_last = got.get(0).unwrap().get(all.len() - 1).unwrap();
    let step_gap = largest_gap(&last, &full_last);
    assert!(step_gap <= 1e-5 * scale, "steps: {step_gap} of {scale}");
}

#[test]
fn an_f64_stack_goes_to_f32_and_a_backward_is_an_error() {
    let spec = "linear(5,7), relu, linear(7,3)".parse().unwrap();
    let dev = &Device::Cpu;
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F64, dev).unwrap();
    let bf16 = net.with_bf16_weights().unwrap();
    let x = Tensor::ones((2, 5), DType::F32, dev).unwrap();
    let y = bf16.forward(&x, Mode::Eval).unwrap();
    assert_eq!((y.dtype(), y.dims()), (DType::F32, &[2, 3][..]));
    let loss = y.sum_all().unwrap();
    assert!(loss.backward().is_err(), "a backward through bf16 weights");
}
