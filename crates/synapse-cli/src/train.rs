//! `synapse train`: check every file, load, (normalise), initialise, fit,
//! then write the model and the plot together, atomically.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{anyhow, bail, Result};
use synapse_nn::{ArchSpec, Init, Sequential};
use synapse_train::distributed::agree;
use synapse_train::distributed::Collective;
use synapse_train::job::{Opt, Prior, TrainData, TrainJob};
use synapse_train::{write_all_contents_atomic, Content, History, Model, Trainer};

use crate::args::TrainArgs;
use crate::config::{device, dtype, flagged, nn_error, parse_spec};
use crate::job::error as job_error;
use crate::log::{EpochLog, Tee};
use crate::paths::Files;
use crate::plot::render_history;
use crate::progress::Progress;

pub fn run(a: &TrainArgs) -> Result<()> {
    run_on(a, None)
}

/// How the weights start: a scheme drawn from the seed, or a file.
enum Start {
    Scheme(Init),
    File(PathBuf),
}

/// `--init`: a scheme's name, or a FILE.npz / FILE.safetensors.
fn start(a: &TrainArgs) -> Result<Start> {
    let lower = a.init.to_ascii_lowercase();
    if lower.ends_with(".npz") || lower.ends_with(".safetensors") || Path::new(&a.init).is_dir() {
        return Ok(Start::File(a.init.clone().into()));
    }
    let init = a.init.parse::<Init>().map_err(|e| nn_error("--init", e))?;
    Ok(Start::Scheme(init))
}

/// The command line's own flags (the stack, its start, its float type and
/// the files it writes), checked.
fn check_own_flags(a: &TrainArgs) -> Result<(ArchSpec, Start)> {
    let spec = match (&a.arch, Path::new(&a.init)) {
        (Some(text), _) => parse_spec(text, "--arch")?,
        (None, dir) if dir.is_dir() => {
            synapse_train::hf::read_spec(dir).map_err(flagged("--init"))?
        }
        (None, _) => bail!(
            "missing required flags: --arch <SPEC> (optional only with --init DIR, a Hugging Face folder)"
        ),
    };
    // The cap guards against a mistyped --arch; a folder's stack is the
    // size its model already has (GPT-2 small: 124M).
    let from_folder = a.arch.is_none();
    synapse_train::check_parameters(&spec, a.allow_large || from_folder).map_err(job_error)?;
    let start = start(a)?;
    if let Some(p) = &a.plot {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ext != "svg" && ext != "png" {
            bail!(
                "--plot {}: expected a file ending in .svg or .png",
                p.display()
            );
        }
        crate::plot::register_font().map_err(|e| anyhow!("--plot {}: {e}", p.display()))?;
    }
    if let Some(p) = &a.log {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !ext.eq_ignore_ascii_case("csv") {
            bail!("--log {}: expected a file ending in .csv", p.display());
        }
    }
    Ok((spec, start))
}

/// `train`, as one of the ranks of `ranks` when distributed (see
/// `distributed.rs`): rank 0 alone prints and writes the files. The steps, in
/// the order of SPEC section 9 (what a run may change, and when): nothing is
/// written until every check has passed; then the live outputs (`--log`,
/// `--checkpoint`) as training goes; `--out` and `--plot` together at the end.
pub fn run_on(a: &TrainArgs, ranks: Option<Rc<dyn Collective>>) -> Result<()> {
    let leader = ranks.as_ref().is_none_or(|c| c.rank() == 0);
    let (spec, start) = check_own_flags(a)?;
    let job = TrainJob::check(crate::job::options(a)?, None).map_err(job_error)?;
    let files = files(a, &start);
    files.check()?;
    let dtype = dtype(a.dtype);
    let dev = device(a.device)?;
    // The starting model: drawn, or read from --init (with what its model
    // file keeps: labels, normalisation).
    let (net, prior) = match &start {
        Start::Scheme(init) => (
            Sequential::init(&spec, *init, a.seed, dtype, &dev)?,
            Prior::default(),
        ),
        Start::File(path) => {
            synapse_train::job::load_start(path, &spec, dtype, &dev).map_err(flagged("--init"))?
        }
    };
    let data = TrainData::assemble(&job, &spec, dtype, &prior).map_err(job_error)?;
    let mut trainer = job.trainer(net, &data, false, None).map_err(job_error)?;
    if let Some(c) = ranks.clone() {
        trainer = trainer.with_collective(c);
    }
    // Everything else that can be checked before training: the data against
    // the stack, batchnorm batches, one batch's memory.
    let rows = data.train();
    trainer
        .check_ready(rows, data.val())
        .map_err(|e| data_error(a, e))?;
    synapse_train::check_activations(
        &spec,
        &rows.row_shape(),
        job.batch_size.rows(rows.len()).min(rows.len()),
        dtype,
        a.allow_large,
    )
    .map_err(job_error)?;
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
fn files<'a>(a: &'a TrainArgs, start: &'a Start) -> Files<'a> {
    let init_file = match start {
        Start::File(p) => Some(p.as_path()),
        Start::Scheme(_) => None,
    };
    Files::default()
        .input("--data", a.data.as_deref())
        .input("--text", a.text.as_deref())
        .input("--tokenizer", a.tokenizer.as_deref())
        .input("--val", a.val.as_deref())
        .input("--init", init_file)
        .input("--resume", a.resume.as_deref())
        .output("--out", Some(&a.out))
        .output("--checkpoint", a.checkpoint.as_deref())
        .output("--plot", a.plot.as_deref())
        .output("--log", a.log.as_deref())
        .may_share("--resume", "--checkpoint")
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
        e => job_error(e),
    })?;
    logged?;
    Ok(trainer.history().clone())
}

/// A refusal of the training data, named by the flag of its file.
fn data_error(a: &TrainArgs, e: synapse_train::Error) -> anyhow::Error {
    let (opt, path) = match (&a.text, &a.data) {
        (Some(p), _) => (Opt::Text, p),
        (None, Some(p)) => (Opt::Data, p),
        (None, None) => return job_error(e),
    };
    match e {
        synapse_train::Error::Config { ref name, .. }
            if name == "data" || name == "arch" || name == "loss" || name == "context" =>
        {
            job_error(synapse_train::Error::About {
                opt,
                path: Some(path.clone()),
                error: Box::new(e),
            })
        }
        other => job_error(other),
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
    job.finish_model(&mut model, data, history);
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
