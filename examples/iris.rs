//! Iris flowers (150 rows, 4 measurements, 3 species named by words).
//!
//! Expected result: test accuracy of at least 0.95 on 30 held-out rows; the
//! species words become class indices in sorted order (setosa, versicolor, virginica).

use std::path::Path;

use anyhow::Result;
use synapse::prelude::*;
use synapse::train::{
    load, train_val_split, BatchSize, Classes, LoadOptions, Normalizer, Silent, TrainConfig,
    Trainer,
};

fn main() -> Result<()> {
    synapse::train::runtime::configure();
    let options = LoadOptions {
        classes: Classes::Infer,
        ..Default::default()
    };
    let data = load(Path::new("examples/data/iris.csv"), &options)?;
    let (train, test) = train_val_split(&data, 0.2, 3)?;
    let norm = Normalizer::fit(train.x())?;
    let (train, test) = (
        train.with_x(norm.apply(train.x())?)?,
        test.with_x(norm.apply(test.x())?)?,
    );

    let spec: ArchSpec = "linear(4,16), tanh, linear(16,3)".parse()?;
    let net = Sequential::init(&spec, Init::Torch, 3, DType::F32, &Device::Cpu)?;
    let opt = Adam::new(
        net.parameters(),
        AdamConfig {
            lr: 0.01,
            ..Default::default()
        },
    )?;
    let config = TrainConfig {
        epochs: 100,
        batch_size: BatchSize::Rows(16),
        seed: 3,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, Loss::CrossEntropy, Box::new(opt), config)?;
    trainer.fit(&train, None, &mut Silent)?;

    let accuracy = trainer.evaluate(&test)?.accuracy.unwrap_or(0.0);
    println!(
        "iris: classes {:?}",
        data.labels.as_deref().unwrap_or_default()
    );
    println!(
        "test accuracy: {accuracy:.4} on {} rows (expected >= 0.95)",
        test.rows()
    );
    anyhow::ensure!(
        accuracy >= 0.95,
        "test accuracy {accuracy:.4} is below 0.95"
    );
    Ok(())
}
