//! Handwritten digits (8x8 images, 1,797 rows, 10 classes) with a small
//! convolutional network, on the same split as `examples/digits.rs`.
//!
//! Expected result: held-out accuracy of at least 0.985 on the 360 test rows
//! (the MLP of `digits.rs` reaches about 0.978), with
//! `cargo run --release --example digits_cnn`.
//!
//! The stack: the 64 pixels of a row become a 1x8x8 image, 32 3x3 filters,
//! a 2x2 max pool, dropout, and a linear layer to the 10 classes. Dropout
//! works in training mode only; `evaluate` runs in evaluation mode.
//!
//! The same from the shell (`--val-split 0.2 --seed 7` is this split):
//!
//! ```sh
//! synapse train --data examples/data/digits.csv.gz --loss cross-entropy --normalize \
//!   --arch 'reshape(1,8,8), conv2d(1,32,3,padding=1), relu, maxpool2d(2), flatten, dropout(0.5), linear(512,10)' \
//!   --optimizer adam --lr 0.002 --epochs 25 --batch-size 32 --val-split 0.2 --seed 7 --out cnn.safetensors
//! ```

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use synapse::prelude::*;
use synapse::train::{
    load, train_val_split, BatchSize, Classes, LoadOptions, Normalizer, Silent, TrainConfig,
    Trainer,
};

fn main() -> Result<()> {
    synapse::train::runtime::configure();
    let start = Instant::now();
    let options = LoadOptions {
        classes: Classes::Infer,
        ..Default::default()
    };
    let data = load(Path::new("examples/data/digits.csv.gz"), &options)?;
    let (train, test) = train_val_split(&data, 0.2, 7)?;
    let norm = Normalizer::fit(train.x())?;
    let (train, test) = (
        train.with_x(norm.apply(train.x())?)?,
        test.with_x(norm.apply(test.x())?)?,
    );

    let spec: ArchSpec =
        "reshape(1,8,8), conv2d(1,32,3,padding=1), relu, maxpool2d(2), flatten, dropout(0.5), linear(512,10)"
            .parse()?;
    let net = Sequential::init(&spec, Init::Torch, 7, DType::F32, &Device::Cpu)?;
    let opt = Adam::new(
        net.parameters(),
        AdamConfig {
            lr: 2e-3,
            ..Default::default()
        },
    )?;
    let config = TrainConfig {
        epochs: 25,
        batch_size: BatchSize::Rows(32),
        seed: 7,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, Loss::CrossEntropy, Box::new(opt), config)?;
    trainer.fit(&train, None, &mut Silent)?;

    let m = trainer.evaluate(&test)?;
    let accuracy = m.accuracy.unwrap_or(0.0);
    println!(
        "digits_cnn: {} training rows, {} test rows, `{spec}`",
        train.rows(),
        test.rows()
    );
    println!(
        "final training loss: {:.4}",
        trainer.history().last().map_or(f64::NAN, |e| e.loss)
    );
    println!(
        "test accuracy: {accuracy:.4} (expected >= 0.985) in {:.2?}",
        start.elapsed()
    );
    anyhow::ensure!(
        accuracy >= 0.985,
        "test accuracy {accuracy:.4} is below 0.985"
    );
    Ok(())
}
