//! minGPT's adder: a small causal transformer learns two-digit addition.
//!
//! Each example is the 7 digits of `a b c` with `c = a + b`: `a` and `b` as
//! two digits each, then the three digits of `c` written least significant
//! first (the order in which a person adds, carrying to the left), as
//! Karpathy's minGPT `projects/adder` writes them. `12 + 39 = 51` is
//! `1 2 3 9 1 5 0`. The model reads the first 6 digits and predicts each
//! next digit (a GPT); only its guesses for the three digits of `c` count in
//! the loss, the other positions are ignored with the target `-100`
//! (PyTorch's `ignore_index`).
//!
//! The model: two transformer blocks (pre-norm, as GPT-2), each a residual
//! self-attention with a causal mask (a position sees only itself and the
//! positions before it) and a residual MLP, width 48, 3 heads, about 58,000
//! parameters. Trained with AdamW (lr 0.003, batch 64) on 80% of the 10,000
//! pairs, it is tested on the other 2,000 by generation, as minGPT does:
//! given `a b` only, it writes the three digits of `c` one at a time, each
//! from its own previous guesses (greedy: the most likely digit).
//!
//! Expected result: at least 99% of the held-out sums exactly right (all
//! three digits), in well under a minute, with
//! `cargo run --release --example adder`.

use std::time::Instant;

use anyhow::Result;
use synapse::nn::IGNORE_INDEX;
use synapse::prelude::*;
use synapse::train::{
    train_val_split, BatchSize, Dataset, EpochRecord, Observer, TrainConfig, Trainer,
};

/// The digits of `a b c` for every `a, b` in `0..100`: inputs `[10000, 6]`
/// (the first six digits) and targets `[10000, 6]` (the next digit at each
/// position, -100 where that next digit is still part of `a b`).
fn additions() -> Result<Dataset> {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for a in 0..100u32 {
        for b in 0..100u32 {
            let c = a + b;
            let digits = [a / 10, a % 10, b / 10, b % 10, c % 10, c / 10 % 10, c / 100];
            x.extend_from_slice(&digits[..6]);
            // Position t predicts digit t + 1; positions 0, 1, 2 predict digits
            // of `a b`, which the model cannot know: they do not count.
            for (t, &next) in digits[1..].iter().enumerate() {
                y.push(if t < 3 {
                    IGNORE_INDEX as f32
                } else {
                    next as f32
                });
            }
        }
    }
    let n = x.len() / 6;
    Ok(Dataset::new(
        Tensor::from_vec(x, (n, 6), &Device::Cpu)?,
        Tensor::from_vec(y, (n, 6), &Device::Cpu)?,
    )?)
}

/// Greedy generation: from the four digits of `a b` (`[N, 4]` ids), three
/// times run the model and append its most likely next digit. Returns the
/// three generated digits of each row, `[N, 3]`.
fn complete(net: &Sequential, ab: &Tensor) -> Result<Tensor> {
    let mut seq = ab.clone();
    for _ in 0..3 {
        let logits = net.forward(&seq, Mode::Eval)?; // [N, t, 10]
        let t = logits.dim(1)?;
        let next = logits.narrow(1, t - 1, 1)?.argmax_keepdim(2)?; // [N, 1, 1]
        seq = Tensor::cat(&[&seq, &next.squeeze(2)?], 1)?;
    }
    Ok(seq.narrow(1, 4, 3)?)
}

/// Prints each epoch's training loss and its held-out loss and digit accuracy
/// (teacher-forced: each digit of `c` predicted from the true ones before it).
struct PrintEpochs;

impl Observer for PrintEpochs {
    fn on_epoch_end(&mut self, r: &EpochRecord) {
        let val = r.val.unwrap_or_default();
        println!(
            "epoch {:2}  loss {:.4}  held-out loss {:.4}  digit accuracy {:.4}  ({:.1}s)",
            r.epoch,
            r.loss,
            val.loss,
            val.accuracy.unwrap_or(0.0),
            r.seconds
        );
    }
}

fn main() -> Result<()> {
    // Thread settings for the CPU, as the `synapse` command makes them.
    synapse::train::runtime::configure();
    let start = Instant::now();
    let (train, test) = train_val_split(&additions()?, 0.2, 3)?;

    let block = "residual(layernorm(48), attention(48,3,causal=true)), \
                 residual(layernorm(48), linear(48,192), gelu, linear(192,48))";
    let spec: ArchSpec = format!(
        "embedding(10,48), positional(6,48), {block}, {block}, layernorm(48), linear(48,10)"
    )
    .parse()?;
    let net = Sequential::init(&spec, Init::Torch, 3, DType::F32, &Device::Cpu)?;
    let parameters: usize = net.parameters().iter().map(|(_, v)| v.elem_count()).sum();
    println!("adder: `{spec}`");
    println!(
        "{parameters} parameters, {} training sums, {} held out",
        train.rows(),
        test.rows()
    );

    let opt = Adam::new(
        net.parameters(),
        AdamConfig {
            lr: 3e-3,
            ..AdamConfig::adamw()
        },
    )?;
    let config = TrainConfig {
        epochs: 10,
        batch_size: BatchSize::Rows(64),
        seed: 3,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, Loss::CrossEntropy, Box::new(opt), config)?;
    // The held-out sums are evaluated after each epoch only to be printed:
    // nothing is chosen by them (no early stopping, no best epoch).
    trainer.fit(&train, Some(&test), &mut PrintEpochs)?;

    // Generation on the held-out sums: the model sees only `a b`.
    let guess = complete(trainer.network(), &test.x().narrow(1, 0, 4)?)?;
    // The targets at positions 3, 4, 5 are the three digits of `c`.
    let truth = test.y().narrow(1, 3, 3)?.to_dtype(DType::U32)?;
    let right = guess.eq(&truth)?.to_dtype(DType::U32)?.min_keepdim(1)?;
    let right = right.sum_all()?.to_scalar::<u32>()? as usize;
    let accuracy = right as f64 / test.rows() as f64;
    println!(
        "held-out sums exactly right: {right} of {} = {accuracy:.4} (expected >= 0.99) in {:.1?}",
        test.rows(),
        start.elapsed()
    );
    anyhow::ensure!(
        accuracy >= 0.99,
        "held-out exact-match accuracy {accuracy:.4} is below 0.99"
    );
    Ok(())
}
