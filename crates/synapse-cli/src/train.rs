//! `synapse train`: load, (normalise), initialise, fit, save atomically.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use synapse_nn::{Adam, Loss, Optimizer, Sequential, Sgd};
use synapse_train::{
    load, load_weights, train_val_split, Checkpoint, Classes, Dataset, EarlyStopping, LoadOptions,
    Model, Normalizer, TrainConfig, Trainer,
};

use crate::args::TrainArgs;
use crate::config::{device, targets, InitChoice, OptimizerChoice, TrainJob};
use crate::plot::plot_history;
use crate::progress::Progress;

pub fn run(a: &TrainArgs) -> Result<()> {
    let job = TrainJob::from_args(a)?;
    let dev = device(a.device)?;
    let classes = if job.loss.is_classification() {
        Classes::Infer
    } else {
        Classes::No
    };
    let options = LoadOptions {
        targets: targets(a.target.as_deref())?,
        classes,
        dtype: job.dtype,
    };
    let data = load(&a.data, &options)?;
    let (train, val) = match (&a.val, a.val_split) {
        (Some(path), _) => {
            let known = match (&data.labels, job.loss) {
                (Some(l), _) => Classes::Known(l.clone()),
                (None, Loss::CrossEntropy) => Classes::Infer,
                _ => Classes::No,
            };
            let v = load(
                path,
                &LoadOptions {
                    classes: known,
                    ..options.clone()
                },
            )?;
            (data.clone(), Some(v))
        }
        (None, Some(f)) => {
            let (t, v) = train_val_split(&data, f, a.seed)?;
            (t, Some(v))
        }
        (None, None) => (data.clone(), None),
    };
    let normalize = if a.normalize {
        Some(Normalizer::fit(train.x())?)
    } else {
        None
    };
    let scaled = |d: &Dataset| -> Result<Dataset> {
        match &normalize {
            Some(n) => Ok(d.with_x(n.apply(d.x())?)?),
            None => Ok(d.clone()),
        }
    };
    let (train, val) = (scaled(&train)?, val.as_ref().map(scaled).transpose()?);
    let fits = |d: &Dataset, path: &Path| -> Result<()> {
        synapse_train::check_fits(&job.spec, job.loss, d)
            .map_err(|e| anyhow!("{}: {e}", path.display()))
    };
    fits(&train, &a.data)?;
    if let Some(v) = &val {
        fits(v, a.val.as_deref().unwrap_or(&a.data))?;
    }

    let net = match &job.init {
        InitChoice::Scheme(init) => Sequential::init(&job.spec, *init, a.seed, job.dtype, &dev)?,
        InitChoice::File(path) => load_weights(path, &job.spec, job.dtype, &dev)?,
    };
    let optimizer: Box<dyn Optimizer> = match job.optimizer {
        OptimizerChoice::Sgd(c) => Box::new(Sgd::new(net.parameters(), c)?),
        OptimizerChoice::Adam(c) => Box::new(Adam::new(net.parameters(), c)?),
    };
    let config = TrainConfig {
        epochs: job.epochs,
        batch_size: job.batch_size,
        shuffle: !a.no_shuffle,
        seed: a.seed,
        early_stopping: job.early_stop.map(|patience| EarlyStopping {
            patience,
            ..Default::default()
        }),
        checkpoint: a.checkpoint.clone(),
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, job.loss, optimizer, config)?;
    trainer
        .checkpoint_metadata
        .insert("settings".into(), settings(a, &job));
    if let Some(path) = &a.resume {
        let ckpt = Checkpoint::load(path)?;
        trainer
            .resume(&ckpt)
            .with_context(|| format!("--resume {}", path.display()))?;
    }
    let mut progress = Progress::new(a.quiet);
    let result = trainer.fit(&train, val.as_ref(), &mut progress);
    progress.finish();
    result?;

    let history = trainer.history().clone();
    let mut model = Model::new(trainer.network().clone());
    model.loss = Some(job.loss);
    model.labels = data.labels.clone();
    model.normalize = normalize;
    model
        .metadata
        .insert("epochs".into(), history.epochs.len().to_string());
    if let Some(last) = history.last() {
        model
            .metadata
            .insert("final_loss".into(), last.loss.to_string());
    }
    model.save(&a.out)?;
    if let Some(plot) = &a.plot {
        plot_history(&history, plot)?;
    }
    if !a.quiet {
        let last = history.last().map_or(String::new(), |e| {
            let val = e
                .val
                .map_or(String::new(), |v| format!(", val_loss {:.6}", v.loss));
            format!(": loss {:.6}{val}", e.loss)
        });
        eprintln!(
            "trained {} epochs{last}; saved {}",
            history.epochs.len(),
            a.out.display()
        );
    }
    Ok(())
}

/// The flags a resumed run must share with the run it continues.
fn settings(a: &TrainArgs, job: &TrainJob) -> String {
    format!(
        "data={}; target={:?}; optimizer={:?}; init={}; normalize={}; val={:?}; val-split={:?}; early-stop={:?}",
        a.data.display(),
        a.target,
        job.optimizer,
        a.init,
        a.normalize,
        a.val,
        a.val_split,
        job.early_stop
    )
}
