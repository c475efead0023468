//! `synapse train`: check every file, load, (normalise), initialise, fit,
//! then write the model and the plot together, atomically.

use std::path::Path;
use std::rc::Rc;

use anyhow::{anyhow, bail, Result};
use synapse_nn::{Adam, ElementSpec, Loss, Optimizer, Sequential, Sgd};
use synapse_train::distributed::agree;
use synapse_train::distributed::Collective;
use synapse_train::{
    load, load_weights, settings, train_val_split, write_all_contents_atomic, Checkpoint,
    ClassWeights, Classes, Content, Dataset, EarlyStopping, History, LoadOptions, Model,
    Normalizer, Rows, Text, TextWindows, TrainConfig, Trainer,
};

use crate::args::TrainArgs;
use crate::config::{
    about_file, check_target_applies, device, flagged, targets, train_error, InitChoice,
    OptimizerChoice, TrainJob,
};
use crate::log::{EpochLog, Tee};
use crate::paths::Files;
use crate::plot::render_history;
use crate::progress::Progress;

pub fn run(a: &TrainArgs) -> Result<()> {
    run_on(a, None)
}

/// `train`, as one of the ranks of `ranks` when distributed (see
/// `distributed.rs`): rank 0 alone prints and writes the files. The steps, in
/// the order of SPEC section 9 (what a run may change, and when): nothing is
/// written until every check has passed; then the live outputs (`--log`,
/// `--checkpoint`) as training goes; `--out` and `--plot` together at the end.
pub fn run_on(a: &TrainArgs, ranks: Option<Rc<dyn Collective>>) -> Result<()> {
    let leader = ranks.as_ref().is_none_or(|c| c.rank() == 0);
    let job = TrainJob::from_args(a)?;
    let files = files(a, &job);
    files.check()?;
    let data = TrainData::load(a, &job)?;
    let mut trainer = build_trainer(a, &job, &data, ranks.clone())?;
    // Everything else that can be checked before training: the data against
    // the stack, batchnorm batches, one batch's memory.
    let rows = data.train();
    trainer
        .check_ready(rows, data.val())
        .map_err(|e| data_error(a, e))?;
    synapse_train::check_activations(
        &job.spec,
        &rows.row_shape(),
        job.batch_size.rows(rows.len()).min(rows.len()),
        job.dtype,
        a.allow_large,
    )
    .map_err(train_error)?;
    let history = fit(a, &files, &mut trainer, &data, leader)?;
    // Rank 0 writes; every rank learns whether that worked (no rank is left
    // waiting for one that failed).
    let written = if leader {
        write_outputs(a, &files, &job, &trainer, &data, &history)
    } else {
        Ok(())
    };
    match &ranks {
        Some(c) => agree(
            &**c,
            written.map_err(|e| synapse_train::Error::Collective {
                reason: crate::message::render(&e),
            }),
        )
        .map_err(|e| match e {
            synapse_train::Error::Collective { reason } => anyhow!(reason),
            other => other.into(),
        })?,
        None => written?,
    }
    if leader && !a.quiet {
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

/// Every file of the run by flag, checked before any work (`paths.rs`).
fn files<'a>(a: &'a TrainArgs, job: &'a TrainJob) -> Files<'a> {
    let init_file = match &job.init {
        InitChoice::File(p) => Some(p.as_path()),
        InitChoice::Scheme(_) => None,
    };
    Files::default()
        .input("--data", a.data.as_deref())
        .input("--text", a.text.as_deref())
        .input("--val", a.val.as_deref())
        .input("--init", init_file)
        .input("--resume", a.resume.as_deref())
        .output("--out", Some(&a.out))
        .output("--checkpoint", a.checkpoint.as_deref())
        .output("--plot", a.plot.as_deref())
        .output("--log", a.log.as_deref())
        .may_share("--resume", "--checkpoint")
}

/// The rows to train and validate on, as the stack sees them.
struct TrainData {
    examples: Examples,
    normalize: Option<Normalizer>,
    class_weights: Option<Vec<f64>>,
}

/// A table of rows (`--data`) or a text's windows (`--text`).
enum Examples {
    Table {
        /// The whole `--data` file as read (its labels go into the model file).
        data: Dataset,
        /// Training rows, normalised when asked.
        train: Dataset,
        /// Validation rows (`--val` or `--val-split`), normalised like `train`.
        val: Option<Dataset>,
    },
    Text {
        train: TextWindows,
        val: Option<TextWindows>,
    },
}

impl TrainData {
    /// Reads `--data` (and `--val`) or `--text`, checks them against the
    /// stack and the loss, splits off validation rows, and fits the
    /// normalisation.
    fn load(a: &TrainArgs, job: &TrainJob) -> Result<Self> {
        match (&a.data, &a.text) {
            (_, Some(path)) => Self::text(a, path),
            (Some(path), None) => Self::table(a, job, path),
            (None, None) => bail!("give --data FILE or --text FILE"),
        }
    }

    /// `--text FILE --context T [--stride S]`.
    fn text(a: &TrainArgs, path: &Path) -> Result<Self> {
        let count = |flag: &str, text: &str| match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(anyhow!(
                "{flag} `{text}`: expected a whole number of at least 1"
            )),
        };
        let context = count("--context", a.context.as_deref().unwrap_or(""))?;
        let stride = match &a.stride {
            Some(s) => count("--stride", s)?,
            None => context,
        };
        let text = std::sync::Arc::new(Text::load(path).map_err(flagged("--text"))?);
        let (train, val) =
            Text::split(&text, context, stride, a.val_split).map_err(|e| match e {
                synapse_train::Error::Config { name, reason } if name == "val-split" => {
                    anyhow!("--val-split {reason}")
                }
                e => about_file("--text", path, e),
            })?;
        Ok(Self {
            examples: Examples::Text { train, val },
            normalize: None,
            class_weights: None,
        })
    }

    /// `--data FILE` (and `--val FILE`).
    fn table(a: &TrainArgs, job: &TrainJob, path: &Path) -> Result<Self> {
        check_target_applies(a.target.as_deref(), path, "--data")?;
        if let Some(v) = &a.val {
            check_target_applies(a.target.as_deref(), v, "--val")?;
        }
        let classes = if job.loss.is_classification() {
            Classes::Infer
        } else {
            Classes::No
        };
        let options = LoadOptions {
            targets: targets(a.target.as_deref())?,
            classes,
            dtype: job.dtype,
            ids: matches!(job.spec.elements().first(), Some(ElementSpec::Embedding(_))),
        };
        let data = load(path, &options).map_err(flagged("--data"))?;
        synapse_train::check_training_data(&job.spec, job.loss, &data)
            .map_err(|e| about_file("--data", path, e))?;
        let (train, val) = match (&a.val, a.val_split) {
            (Some(val_path), _) => {
                let known = match (&data.labels, job.loss) {
                    (Some(l), _) => Classes::Known(l.clone()),
                    (None, Loss::CrossEntropy) => Classes::Infer,
                    _ => Classes::No,
                };
                let v = load(
                    val_path,
                    &LoadOptions {
                        classes: known,
                        ..options.clone()
                    },
                )
                .map_err(flagged("--val"))?;
                same_columns(&data, &v, path, val_path)?;
                synapse_train::check_fits(&job.spec, job.loss, &v)
                    .map_err(|e| about_file("--val", val_path, e))?;
                (data.clone(), Some(v))
            }
            (None, Some(f)) => {
                let (t, v) = train_val_split(&data, f, a.seed)?;
                (t, Some(v))
            }
            (None, None) => (data.clone(), None),
        };
        let class_weights = match a.class_weights.as_deref() {
            Some(text) => {
                let asked: ClassWeights = text.parse().map_err(train_error)?;
                let classes = data.class_count()?;
                Some(
                    asked
                        .resolve(job.loss, &train, classes)
                        .map_err(train_error)?,
                )
            }
            None => None,
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
        Ok(Self {
            examples: Examples::Table { data, train, val },
            normalize,
            class_weights,
        })
    }

    /// The training rows.
    fn train(&self) -> &dyn Rows {
        match &self.examples {
            Examples::Table { train, .. } => train,
            Examples::Text { train, .. } => train,
        }
    }

    /// The validation rows, if any.
    fn val(&self) -> Option<&dyn Rows> {
        match &self.examples {
            Examples::Table { val, .. } => val.as_ref().map(|v| v as &dyn Rows),
            Examples::Text { val, .. } => val.as_ref().map(|v| v as &dyn Rows),
        }
    }
}

/// The stack (drawn or from `--init`), its optimizer and the trainer, resumed
/// from `--resume` when given.
fn build_trainer(
    a: &TrainArgs,
    job: &TrainJob,
    data: &TrainData,
    ranks: Option<Rc<dyn Collective>>,
) -> Result<Trainer> {
    let dev = device(a.device)?;
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
        early_stopping: EarlyStopping::from_options(job.early_stop, a.save_best),
        checkpoint: a.checkpoint.clone(),
        class_weights: data.class_weights.clone(),
        schedule: job.schedule,
        clip_norm: job.clip_norm,
        // A run that diverges writes no model: no copy of the weights to keep.
        restore_on_divergence: false,
    };
    let mut trainer = Trainer::new(net, job.loss, optimizer, config).map_err(train_error)?;
    if let Some(c) = ranks {
        trainer = trainer.with_collective(c);
    }
    let identify = a.checkpoint.is_some() || a.resume.is_some();
    trainer
        .checkpoint_metadata
        .insert("settings".into(), run_settings(a, job, data, identify)?);
    if let Some(path) = &a.resume {
        let ckpt = Checkpoint::load(path).map_err(flagged("--resume"))?;
        trainer.resume(&ckpt).map_err(|e| resume_error(path, e))?;
    }
    Ok(trainer)
}

/// Trains, with progress and the live `--log` (rank 0 alone), and returns
/// the history. The log is created when training begins, after the trainer's
/// own checks and, distributed, the ranks' agreement.
fn fit(
    a: &TrainArgs,
    files: &Files,
    trainer: &mut Trainer,
    data: &TrainData,
    leader: bool,
) -> Result<History> {
    let mut log = a
        .log
        .as_deref()
        .filter(|_| leader)
        .map(|p| EpochLog::new(p, trainer.history()));
    let mut progress = Progress::new(a.quiet || !leader);
    let result = trainer.fit(
        data.train(),
        data.val(),
        &mut Tee(&mut progress, log.as_mut()),
    );
    progress.finish();
    let logged = log.map(EpochLog::finish).transpose();
    result.map_err(|e| match e {
        // A checkpoint or the log (the only files written during training).
        e @ synapse_train::Error::Io { .. } => files.flagged("--checkpoint", e),
        e => train_error(e),
    })?;
    logged?;
    Ok(trainer.history().clone())
}

/// A refusal of the training data, named by the flag of its file.
fn data_error(a: &TrainArgs, e: synapse_train::Error) -> anyhow::Error {
    let (flag, path) = match (&a.text, &a.data) {
        (Some(p), _) => ("--text", p),
        (None, Some(p)) => ("--data", p),
        (None, None) => return train_error(e),
    };
    match e {
        synapse_train::Error::Config { ref name, .. }
            if name == "data" || name == "arch" || name == "loss" || name == "context" =>
        {
            about_file(flag, path, e)
        }
        other => train_error(other),
    }
}

/// `--out` and `--plot`, written together: everything that can fail is done
/// before the first file is replaced (the plot is drawn first, the model is
/// written straight to its temporary file), and both are renamed only when
/// both were written. A failure names the flag of the file that failed.
fn write_outputs(
    a: &TrainArgs,
    files: &Files,
    job: &TrainJob,
    trainer: &Trainer,
    data: &TrainData,
    history: &History,
) -> Result<()> {
    let mut model = Model::new(trainer.network().clone());
    model.loss = Some(job.loss);
    match &data.examples {
        Examples::Table { data, .. } => model.labels = data.labels.clone(),
        Examples::Text { train, .. } => {
            model.vocab = Some(train.text().vocab().to_vec());
            model.context = Some(train.context());
        }
    }
    model.normalize = data.normalize.clone();
    model
        .metadata
        .insert("epochs".into(), history.epochs.len().to_string());
    if let Some(last) = history.last() {
        model
            .metadata
            .insert("final_loss".into(), last.loss.to_string());
    }
    let plot_bytes = a
        .plot
        .as_ref()
        .map(|p| render_history(history, p))
        .transpose()?;
    let write_model = |w: &mut dyn std::io::Write| {
        model
            .write_to(w)
            .map_err(|e| std::io::Error::other(e.to_string()))
    };
    let mut outputs: Vec<(&Path, Content)> = vec![(&a.out, Content::Writer(&write_model))];
    if let (Some(p), Some(bytes)) = (&a.plot, &plot_bytes) {
        outputs.push((p, Content::Bytes(bytes)));
    }
    write_all_contents_atomic(&outputs).map_err(|e| files.flagged("--out", e))
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
        } => match setting.as_str() {
            "--data" | "--val" | "--text" if checkpoint != "(none)" && run != "(none)" => format!(
                "{setting} holds other rows than the checkpoint's run was trained on (the file changed, or another file was given)"
            ),
            _ => {
                let run = as_flags(setting, run);
                let has = match run.strip_prefix("without ") {
                    Some(flag) => format!("no {flag}"),
                    None => run.trim_start_matches("with ").to_string(),
                };
                format!(
                    "the checkpoint was made {}, this run has {has}",
                    as_flags(setting, checkpoint)
                )
            }
        },
        synapse_train::Error::NothingLeft { trained, epochs } => format!(
            "the checkpoint has already trained {trained} epochs and --epochs is {epochs}: nothing is left to do (give --epochs {trained} or more)"
        ),
        other => other.to_string(),
    };
    anyhow!("--resume {}: {text}", path.display())
}

/// A trainer setting's value as the flags that give it: `with --lr 0.1`,
/// `with --no-shuffle`, `without --no-shuffle`, `with --save-best`,
/// `with neither --early-stop nor --save-best`.
fn as_flags(setting: &str, value: &str) -> String {
    match setting {
        "shuffle" if value == "false" => "with --no-shuffle".into(),
        "shuffle" => "without --no-shuffle".into(),
        "early-stopping" if value == "none" => "with neither --early-stop nor --save-best".into(),
        // `--save-best` alone: never stop, keep the best epoch.
        "early-stopping" if value.starts_with(&format!("patience {},", usize::MAX)) => {
            "with --save-best (and no --early-stop)".into()
        }
        "early-stopping" => {
            let patience = value
                .strip_prefix("patience ")
                .and_then(|v| v.split(',').next())
                .unwrap_or(value);
            format!("with --early-stop {patience}")
        }
        "schedule" => format!("with --lr-schedule {value}"),
        "clip-norm" if value == "none" => "without --clip-grad-norm".into(),
        "clip-norm" => format!("with --clip-grad-norm {value}"),
        "class-weights" if value == "none" => "without --class-weights".into(),
        "--nesterov" | "--normalize" if value == "true" => format!("with {setting}"),
        "--nesterov" | "--normalize" => format!("without {setting}"),
        s if s.starts_with("--") => format!("with {s} {value}"),
        s => format!("with --{s} {value}"),
    }
}

/// The flags a resumed run must share with the run it continues,
/// `--flag=value`. The data files are identified by their content (a
/// fingerprint of the rows, computed only when a checkpoint is written or
/// read), not by the text of their paths: `./d.csv` and `d.csv` are one file,
/// and a file changed in place is another.
fn run_settings(a: &TrainArgs, job: &TrainJob, data: &TrainData, identify: bool) -> Result<String> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
    let content = |d: Option<&Dataset>| -> Result<String> {
        Ok(match d {
            Some(d) if identify => format!("rows {:016x}", d.fingerprint()?),
            Some(_) => "given".into(),
            None => "(none)".into(),
        })
    };
    let (table, val_file) = match &data.examples {
        Examples::Table { data: d, val, .. } => (Some(d), val.as_ref().filter(|_| a.val.is_some())),
        Examples::Text { .. } => (None, None),
    };
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
        ("--data", content(table)?),
        (
            "--text",
            match &data.examples {
                Examples::Text { train, .. } if identify => {
                    format!("rows {:016x}", train.fingerprint()?)
                }
                Examples::Text { .. } => "given".into(),
                Examples::Table { .. } => "(none)".into(),
            },
        ),
        ("--context", opt(a.context.clone())),
        ("--stride", opt(a.stride.clone())),
        ("--target", opt(a.target.clone())),
        ("--normalize", a.normalize.to_string()),
        ("--val", content(val_file)?),
        ("--val-split", opt(a.val_split.map(|f| f.to_string()))),
    ];
    pairs.extend(optimizer);
    Ok(settings::join(&pairs))
}
