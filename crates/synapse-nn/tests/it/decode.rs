//! `Decoder` (incremental decoding): the scores at each new position, fed
//! one step at a time over the cache, equal those of the full forward at
//! that position (attention with its KV cache, positional at its offset,
//! lstm and gru carrying their state, residual blocks, the norms), in f32
//! and f64; kinds that cannot step answer `None`.

use candle_core::{DType, Device, Tensor};
use synapse_nn::{Decoder, Init, Mode, Sequential};

const IDS: [u32; 12] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8];

/// The largest gap between the decoder's scores (the prompt `IDS[..3]` in
/// one step, then one id a step) and the full forward's, over every
/// position from the third.
fn gap(arch: &str, dtype: DType) -> f64 {
    let spec = arch.parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 7, dtype, &Device::Cpu).unwrap();
    let mut dec = Decoder::new(&net);
    let mut worst = 0f64;
    // The full forward of the window `IDS[..=at]`, at its last position.
    let mut compare = |z: Tensor, at: usize| {
        let ids: Vec<i64> = IDS[..=at].iter().map(|&i| i64::from(i)).collect();
        let x = Tensor::from_vec(ids, (1, at + 1), &Device::Cpu).unwrap();
        let y = net.forward(&x, Mode::Eval).unwrap().get(0).unwrap();
        let want = if y.rank() == 2 { y.get(at).unwrap() } else { y };
        worst = worst.max(crate::largest_gap(&z, &want));
    };
    compare(dec.step(&IDS[..3]).unwrap().expect("steps"), 2);
    for at in 3..IDS.len() {
        compare(dec.step(&IDS[at..=at]).unwrap().expect("steps"), at);
    }
    assert_eq!(dec.position(), IDS.len());
    worst
}

const MODELS: [&str; 5] = [
    "embedding(10,8), positional(16,8), residual(layernorm(8), attention(8,2,causal=true)), residual(rmsnorm(8), linear(8,16), gelu, linear(16,8), dropout(0.5)), layernorm(8), linear(8,10)",
    "embedding(10,6), lstm(6,12), linear(12,10)",
    "embedding(10,6), gru(6,12), tanh, gru(12,5), linear(5,10)",
    "embedding(10,8), positional(12,8), attention(8,4,causal=true), lstm(8,6), linear(6,10), last",
    // The scores come from an element that looks across positions: the
    // decoder takes the last position's itself.
    "embedding(10,6), lstm(6,10)",
];

/// On both paths; on the kernel path each one-token step of attention
/// reads the cache where it lies (`attention/step.rs`): 9 such steps in
/// each of the two models with attention; and the first model's GELU runs
/// in one vectorised pass at each of its 10 steps.
#[test]
fn each_step_gives_the_full_windows_scores_f64() {
    for fused in [true, false] {
        let gelu = synapse_nn::kernel_calls_of("gelu-step");
        let before = synapse_nn::kernel_calls_of("attention-step");
        synapse_nn::with_fused_ops(fused, || {
            for arch in MODELS {
                let g = gap(arch, DType::F64);
                assert!(g < 1e-12, "{arch} fused={fused}: {g}");
            }
        });
        let steps = synapse_nn::kernel_calls_of("attention-step") - before;
        assert_eq!(steps, if fused { 18 } else { 0 }, "fused={fused}");
        let gelu = synapse_nn::kernel_calls_of("gelu-step") - gelu;
        assert_eq!(gelu, if fused { 10 } else { 0 }, "fused={fused}");
    }
}

#[test]
fn each_step_gives_the_full_windows_scores_f32() {
    for arch in MODELS {
        let g = gap(arch, DType::F32);
        assert!(g < 1e-5, "{arch}: {g}");
    }
}

#[test]
fn kinds_that_cannot_step_answer_none() {
    for arch in [
        "embedding(10,8), attention(8,2), linear(8,10)",
        "embedding(10,8), lstm(8,4), seqmean, linear(4,10)",
    ] {
        let spec = arch.parse().unwrap();
        let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
        let mut dec = Decoder::new(&net);
        assert!(dec.step(&IDS[..4]).unwrap().is_none(), "{arch}");
    }
}

#[test]
fn positional_past_its_rows_answers_none() {
    let spec = "embedding(10,4), positional(4,4), linear(4,10)"
        .parse()
        .unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let mut dec = Decoder::new(&net);
    assert!(dec.step(&IDS[..4]).unwrap().is_some());
    assert!(dec.step(&IDS[4..5]).unwrap().is_none());
}

/// Past 16 positions the cache grows (16, then 32, then 64 rows), keeping
/// what it holds: each of 40 steps still gives the full window's scores.
#[test]
fn the_cache_keeps_its_keys_as_it_grows() {
    let spec = "embedding(10,8), positional(48,8), attention(8,2,causal=true), linear(8,10)"
        .parse()
        .unwrap();
    let net = Sequential::init(&spec, Init::Torch, 5, DType::F64, &Device::Cpu).unwrap();
    let ids: Vec<u32> = (0..40).map(|i| (i * 7 + 3) % 10).collect();
    let mut dec = Decoder::new(&net);
    for at in 0..ids.len() {
        let z = dec.step(&ids[at..=at]).unwrap().expect("steps");
        let window: Vec<i64> = ids[..=at].iter().map(|&i| i64::from(i)).collect();
        let x = Tensor::from_vec(window, (1, at + 1), &Device::Cpu).unwrap();
        let want = net
            .forward(&x, Mode::Eval)
            .unwrap()
            .get(0)
            .unwrap()
            .get(at)
            .unwrap();
        let g = crate::largest_gap(&z, &want);
        assert!(g < 1e-12, "position {at}: {g}");
    }
}

/// Each element's state counts the positions it has seen (the absolute
/// offset of the next): a residual block as much as the kinds that read
/// the count (positional, attention, lstm), over a step of two positions
/// and a step of one.
#[test]
fn every_state_counts_the_positions_it_has_seen() {
    let spec = "embedding(10,8), positional(16,8), residual(layernorm(8), attention(8,2,causal=true)), lstm(8,6), linear(6,10)"
        .parse()
        .unwrap();
    let net = Sequential::init(&spec, Init::Torch, 7, DType::F64, &Device::Cpu).unwrap();
    let mut states = vec![synapse_nn::StepState::default(); net.layers().len()];
    for ids in [&[3i64, 1][..], &[4]] {
        let mut y = Tensor::from_vec(ids.to_vec(), (1, ids.len()), &Device::Cpu).unwrap();
        for (layer, state) in net.layers().iter().zip(states.iter_mut()) {
            y = layer.step(&y, state).unwrap().expect("steps");
        }
    }
    // positional, residual (and its attention inside), lstm.
    for i in [1, 2, 3] {
        assert_eq!(states[i].position, 3, "element {i}");
    }
    assert_eq!(states[2].inner[1].position, 3, "the residual's attention");
}
