//! Handwritten digits (8x8 images, 1,797 rows, 10 classes; scikit-learn's copy
//! of the UCI set) with an MLP of one hidden layer.
//!
//! Expected result: test accuracy of at least 0.97 on the 360 held-out rows,
//! in a few seconds with `cargo run --release --example digits`.

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
    // Pixels are 0..16: standardise with the training rows' statistics.
    let norm = Normalizer::fit(train.x())?;
    let (train, test) = (
        train.with_x(norm.apply(train.x())?)?,
        test.with_x(norm.apply(test.x())?)?,
    );

    let spec: ArchSpec = "linear(64,128), relu, linear(128,10)".parse()?;
    let net = Sequential::init(&spec, Init::Torch, 7, DType::F32, &Device::Cpu)?;
    let opt = Adam::new(
        net.parameters(),
        AdamConfig {
            lr: 1e-3,
            ..Default::default()
        },
    )?;
    let config = TrainConfig {
        epochs: 40,
        batch_size: BatchSize::Rows(32),
        seed: 7,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, Loss::CrossEntropy, Box::new(opt), config)?;
    trainer.fit(&train, None, &mut Silent)?;

    let m = trainer.evaluate(&test)?;
    let accuracy = m.accuracy.unwrap_or(0.0);
    println!(
        "digits: {} training rows, {} test rows, `{spec}`",
        train.rows(),
        test.rows()
    );
    println!(
        "final training loss: {:.4}",
        trainer.history().last().map_or(f64::NAN, |e| e.loss)
    );
    println!(
        "test accuracy: {accuracy:.4} (expected >= 0.97) in {:.2?}",
        start.elapsed()
    );
    anyhow::ensure!(
        accuracy >= 0.97,
        "test accuracy {accuracy:.4} is below 0.97"
    );
    Ok(())
}
