//! Regression on real data: disease progression after one year for 442
//! diabetes patients from 10 unscaled baseline measurements.
//!
//! Expected result: the test MSE of the MLP is clearly below the MSE of always
//! predicting the training mean (about 3,000 against about 5,000 here); both are printed.

use std::path::Path;

use anyhow::Result;
use synapse::prelude::*;
use synapse::train::{
    load, train_val_split, BatchSize, LoadOptions, Normalizer, Silent, TrainConfig, Trainer,
};

fn main() -> Result<()> {
    synapse::train::runtime::configure();
    let data = load(
        Path::new("examples/data/diabetes.csv"),
        &LoadOptions::default(),
    )?;
    let (train, test) = train_val_split(&data, 0.2, 5)?;
    let norm = Normalizer::fit(train.x())?;
    let (train, test) = (
        train.with_x(norm.apply(train.x())?)?,
        test.with_x(norm.apply(test.x())?)?,
    );

    // Scale the target too, and undo it for the figures.
    let (mean, std) = (train.y().mean_all()?.to_scalar::<f32>()? as f64, 75.0);
    let scale = |y: &Tensor| -> Result<Tensor> { Ok(((y - mean)? / std)?) };
    let (train_s, test_s) = (
        train.with_y(scale(train.y())?)?,
        test.with_y(scale(test.y())?)?,
    );

    let spec: ArchSpec = "linear(10,32), relu, linear(32,1)".parse()?;
    let net = Sequential::init(&spec, Init::Torch, 5, DType::F32, &Device::Cpu)?;
    let opt = Adam::new(
        net.parameters(),
        AdamConfig {
            lr: 1e-3,
            weight_decay: 1e-3,
            ..Default::default()
        },
    )?;
    let config = TrainConfig {
        epochs: 200,
        batch_size: BatchSize::Rows(32),
        seed: 5,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, Loss::Mse, Box::new(opt), config)?;
    trainer.fit(&train_s, None, &mut Silent)?;

    let pred = ((trainer.predict(test_s.x())? * std)? + mean)?;
    let mse = (pred - test.y())?.sqr()?.mean_all()?.to_scalar::<f32>()?;
    let baseline = (test.y() - mean)?.sqr()?.mean_all()?.to_scalar::<f32>()?;
    println!(
        "diabetes: {} training rows, {} test rows, `{spec}`",
        train.rows(),
        test.rows()
    );
    println!("test MSE: {mse:.1}   MSE of predicting the mean ({mean:.1}): {baseline:.1}");
    anyhow::ensure!(
        mse < 0.8 * baseline,
        "the MLP does not beat the mean clearly"
    );
    Ok(())
}
