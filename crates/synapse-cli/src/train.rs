//! `synapse train`: check every file, load, (normalise), initialise, fit,
//! then write the model and the plot together, atomically.

use std::path::Path;
use std::rc::Rc;

use anyhow::{anyhow, bail, Result};
use synapse_nn::{Adam, Loss, Optimizer, Sequential, Sgd};
use synapse_train::distributed::Collective;
use synapse_train::{
    load, load_weights, settings, train_val_split, write_all_contents_atomic, Checkpoint, Classes,
    Content, Dataset, EarlyStopping, LoadOptions, Model, Normalizer, TrainConfig, Trainer,
};

use crate::args::TrainArgs;
use crate::config::{
    about_file, check_target_applies, device, flagged, targets, InitChoice, OptimizerChoice,
    TrainJob,
};
use crate::log::{EpochLog, Tee};
use crate::paths::Files;
use crate::plot::render_history;
use crate::progress::Progress;

pub fn run(a: &TrainArgs) -> Result<()> {
    run_on(a, None)
}

/// `train`, as one of the ranks of `ranks` when distributed (see
/// `distributed.rs`): rank 0 alone prints and writes the files.
pub fn run_on(a: &TrainArgs, ranks: Option<Rc<dyn Collective>>) -> Result<()> {
    let leader = ranks.as_ref().is_none_or(|c| c.rank() == 0);
    let job = TrainJob::from_args(a)?;
    let init_file = match &job.init {
        InitChoice::File(p) => Some(p.as_path()),
        InitChoice::Scheme(_) => None,
    };
    Files::default()
        .input("--data", Some(&a.data))
        .input("--val", a.val.as_deref())
        .input("--init", init_file)
        .input("--resume", a.resume.as_deref())
        .output("--out", Some(&a.out))
        .output("--checkpoint", a.checkpoint.as_deref())
        .output("--plot", a.plot.as_deref())
        .output("--log", a.log.as_deref())
        .may_share("--resume", "--checkpoint")
        .check()?;
    check_target_applies(a.target.as_deref(), &a.data, "--data")?;
    if let Some(v) = &a.val {
        check_target_applies(a.target.as_deref(), v, "--val")?;
    }
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
    let data = load(&a.data, &options).map_err(flagged("--data"))?;
    synapse_train::check_training_data(&job.spec, job.loss, &data)
        .map_err(|e| about_file("--data", &a.data, e))?;
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
            )
            .map_err(flagged("--val"))?;
            same_columns(&data, &v, &a.data, path)?;
            synapse_train::check_fits(&job.spec, job.loss, &v)
                .map_err(|e| about_file("--val", path, e))?;
            (data.clone(), Some(v))
        }
        (None, Some(f)) => {
            let (t, v) = train_val_split(&data, f, a.seed)?;
            (t, Some(v))
        }
        (None, None) => (data.clone(), None),
    };
    let class_weights = a
        .class_weights
        .as_deref()
        .map(|text| class_weights(text, &train, data.class_count()?))
        .transpose()?;
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

    let net = match &job.init {
        InitChoice::Scheme(init) => Sequential::init(&job.spec, *init, a.seed, job.dtype, &dev)?,
        InitChoice::File(path) => {
            load_weights(path, &job.spec, job.dtype, &dev).map_err(flagged("--init"))?
        }
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
        early_stopping: match (job.early_stop, a.save_best) {
            (Some(patience), _) => Some(EarlyStopping {
                patience,
                ..Default::default()
            }),
            // The best validation epoch's weights, without stopping early.
            (None, true) => Some(EarlyStopping {
                patience: usize::MAX,
                ..Default::default()
            }),
            (None, false) => None,
        },
        checkpoint: a.checkpoint.clone(),
        class_weights,
        schedule: job.schedule,
        clip_norm: job.clip_norm,
        // A run that diverges writes no model: no copy of the weights to keep.
        restore_on_divergence: false,
    };
    let mut trainer = Trainer::new(net, job.loss, optimizer, config)?;
    if let Some(c) = ranks {
        trainer = trainer.with_collective(c);
    }
    trainer
        .checkpoint_metadata
        .insert("settings".into(), run_settings(a, &job));
    if let Some(path) = &a.resume {
        let ckpt = Checkpoint::load(path).map_err(flagged("--resume"))?;
        trainer.resume(&ckpt).map_err(|e| resume_error(path, e))?;
    }
    // Rank 0 alone writes the log and prints progress.
    let mut log = a
        .log
        .as_deref()
        .filter(|_| leader)
        .map(|p| EpochLog::start(p, trainer.history()))
        .transpose()?;
    let mut progress = Progress::new(a.quiet || !leader);
    let result = trainer.fit(&train, val.as_ref(), &mut Tee(&mut progress, log.as_mut()));
    progress.finish();
    let logged = log.map(EpochLog::finish).transpose();
    result?;
    logged?;
    if !leader {
        return Ok(());
    }

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
    // Everything that can fail is done before the first file is replaced:
    // the plot is drawn first, the model is written straight to its
    // temporary file (no copy of it in memory), and both are renamed only
    // when both were written.
    let plot_bytes = a
        .plot
        .as_ref()
        .map(|p| render_history(&history, p))
        .transpose()?;
    let write_model = |w: &mut dyn std::io::Write| {
        model
            .write_to(w)
            .map_err(|e| std::io::Error::other(e.to_string()))
    };
    let mut files: Vec<(&Path, Content)> = vec![(&a.out, Content::Writer(&write_model))];
    if let (Some(p), Some(bytes)) = (&a.plot, &plot_bytes) {
        files.push((p, Content::Bytes(bytes)));
    }
    write_all_contents_atomic(&files).map_err(|e| anyhow!("--out {e}"))?;
    if !a.quiet {
        let last = history.last().map_or(String::new(), |e| {
            let val = e.val.map_or(String::new(), |v| {
                format!(", val_loss {}", crate::progress::figure(v.loss))
            });
            format!(": loss {}{val}", crate::progress::figure(e.loss))
        });
        eprintln!(
            "trained {} epochs{last}; saved {}",
            history.epochs.len(),
            a.out.display()
        );
    }
    Ok(())
}

/// `--class-weights`: `auto` (n_rows / (n_classes * rows of the class), on the
/// training rows) or one weight per class.
fn class_weights(text: &str, train: &Dataset, classes: usize) -> Result<Vec<f64>> {
    if text == "auto" {
        let mut counts = vec![0usize; classes];
        let y = train.y().to_dtype(candle_core::DType::F64)?.flatten_all()?;
        for v in y.to_vec1::<f64>()? {
            counts[v as usize] += 1;
        }
        if let Some(c) = counts.iter().position(|&n| n == 0) {
            bail!("--class-weights auto: class {c} has no training rows, so it has no weight; give the weights by hand");
        }
        let (n, k) = (train.rows() as f64, classes as f64);
        return Ok(counts.iter().map(|&c| n / (k * c as f64)).collect());
    }
    let weights: Vec<f64> = text
        .split(',')
        .map(|w| {
            w.trim()
                .parse::<f64>()
                .map_err(|_| anyhow!("--class-weights `{text}`: `{w}` is not a number"))
        })
        .collect::<Result<_>>()?;
    // The rule for the values is the loss's own.
    synapse_nn::check_class_weights(&weights, classes).map_err(|e| {
        let reason = match e {
            synapse_nn::Error::Config { reason, .. } => reason,
            other => other.to_string(),
        };
        anyhow!("--class-weights `{text}`: {reason}")
    })?;
    Ok(weights)
}

/// A `--val` file must have `--data`'s columns, by name and in order.
fn same_columns(data: &Dataset, val: &Dataset, data_path: &Path, val_path: &Path) -> Result<()> {
    let (a, b) = (
        data.input_names.iter().chain(&data.target_names),
        val.input_names.iter().chain(&val.target_names),
    );
    let (na, nb) = (
        data.input_names.len() + data.target_names.len(),
        val.input_names.len() + val.target_names.len(),
    );
    if let Some((x, y)) = a.zip(b).find(|(x, y)| x != y) {
        bail!(
            "--val {}: its columns differ from --data {}: `{y}` where --data has `{x}`",
            val_path.display(),
            data_path.display()
        );
    }
    if na != nb {
        bail!(
            "--val {}: it has {nb} columns, --data {} has {na}",
            val_path.display(),
            data_path.display()
        );
    }
    Ok(())
}

/// A refused `--resume`, naming the flag that differs.
fn resume_error(path: &Path, e: synapse_train::Error) -> anyhow::Error {
    let text = match &e {
        synapse_train::Error::ResumeMismatch {
            setting,
            checkpoint,
            run,
        } => {
            let flag = flag_of(setting);
            format!("the checkpoint was made with {flag} {checkpoint}, this run has {flag} {run}")
        }
        synapse_train::Error::NothingLeft { trained, epochs } => format!(
            "the checkpoint has already trained {trained} epochs and --epochs is {epochs}: nothing is left to do (give --epochs {trained} or more)"
        ),
        other => other.to_string(),
    };
    anyhow!("--resume {}: {text}", path.display())
}

/// The flag behind a trainer setting's name (or a flag already).
fn flag_of(setting: &str) -> String {
    let flag = match setting {
        "shuffle" => "--no-shuffle",
        "schedule" => "--lr-schedule",
        "clip-norm" => "--clip-grad-norm",
        "early-stopping" => "--early-stop",
        s if s.starts_with("--") => s,
        s => return format!("--{s}"),
    };
    flag.to_string()
}

/// The flags a resumed run must share with the run it continues, `--flag=value`.
fn run_settings(a: &TrainArgs, job: &TrainJob) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
    let optimizer = match job.optimizer {
        OptimizerChoice::Sgd(c) => vec![
            ("--optimizer", "sgd".to_string()),
            ("--momentum", c.momentum.to_string()),
            ("--nesterov", c.nesterov.to_string()),
            ("--weight-decay", c.weight_decay.to_string()),
        ],
        OptimizerChoice::Adam(c) => vec![
            (
                "--optimizer",
                if c.decoupled { "adamw" } else { "adam" }.to_string(),
            ),
            ("--beta1", c.beta1.to_string()),
            ("--beta2", c.beta2.to_string()),
            ("--eps", c.eps.to_string()),
            ("--weight-decay", c.weight_decay.to_string()),
        ],
    };
    let mut pairs = vec![
        ("--data", a.data.display().to_string()),
        ("--target", opt(a.target.clone())),
        ("--init", a.init.clone()),
        ("--normalize", a.normalize.to_string()),
        (
            "--val",
            opt(a.val.as_ref().map(|p| p.display().to_string())),
        ),
        ("--val-split", opt(a.val_split.map(|f| f.to_string()))),
    ];
    pairs.extend(optimizer);
    settings::join(&pairs)
}
