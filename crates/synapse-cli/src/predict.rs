//! `synapse predict`: outputs (or classes) for `--input`, `--data`, or prompted values.

use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::{bail, Result};
use candle_core::{DType, Tensor};
use synapse_train::{
    check_labels, classes_per_position, load, predict_classes, probabilities, Classes, LoadOptions,
    NotAClassifier, Targets,
};

use crate::args::PredictArgs;

use crate::config::{check_target_applies, columns, flagged, load_model, parse_loss};
use crate::stdout::Stdout;

pub fn run(a: &PredictArgs) -> Result<()> {
    let (model, dev) = load_model(&a.model, a.arch.as_deref(), a.device)?;
    let spec = model.net.spec();
    // A row typed in is flat: it needs a stack whose input width the spec fixes.
    let width = || {
        spec.input_width().ok_or_else(|| {
            anyhow::anyhow!(
                "the model takes rows of shape {} whose size comes with the data: give --data FILE.npz",
                spec.input_shape()
            )
        })
    };
    let x = match (&a.input, &a.data) {
        (Some(text), _) => {
            let width = width().map_err(|e| anyhow::anyhow!("--input: {e}"))?;
            Tensor::from_vec(parse_row(text, width)?, (1, width), &dev)?
        }
        (None, Some(path)) => {
            let targets = match &a.target {
                Some(t) => Targets::Drop(columns(t, "--target")?),
                None => Targets::None,
            };
            let options = LoadOptions {
                targets,
                classes: Classes::No,
                dtype: DType::F64,
                ids: model.net.takes_ids(),
            };
            check_target_applies(a.target.as_deref(), path, "--data")?;
            let data = load(path, &options).map_err(flagged("--data"))?;
            if let Err(e) = spec.check_input(data.row_shape()) {
                bail!(
                    "--data {}: its rows ({}) do not fit the model: {e}",
                    path.display(),
                    if data.row_shape().len() == 1 {
                        format!("{} input columns", data.inputs())
                    } else {
                        format!("shape {:?}", data.row_shape())
                    }
                );
            }
            data.x().clone()
        }
        (None, None) => {
            let width = width()?;
            if !io::stdin().is_terminal() {
                bail!("give --input V1,V2,... or --data FILE (stdin is not a terminal to ask on)");
            }
            match ask(width)? {
                Some(row) => Tensor::from_vec(row, (1, width), &dev)?,
                None => bail!("stdin closed before all {width} inputs were given"),
            }
        }
    };
    let x = if x.dtype().is_float() {
        x.to_dtype(model.net.dtype())?
    } else {
        x
    };
    let x = match &model.normalize {
        Some(n) => n.apply(&x)?,
        None => x,
    };
    let out = synapse_train::predict(&model.net, &x)?;
    let loss = match &a.loss {
        Some(l) => Some(parse_loss(l)?),
        None => model.loss,
    };
    let mut stdout = Stdout::lock();
    if a.proba {
        let probabilities = match probabilities(loss, &out)? {
            Ok(p) => p,
            Err(NotAClassifier::Trained(other)) => {
                bail!("--proba needs a classifier; the model was trained with {other}")
            }
            Err(NotAClassifier::NoLoss) => bail!(
                "--proba: the model file has no loss metadata; give --loss cross-entropy, bce or bce-logits"
            ),
        };
        for line in format_rows(&probabilities)? {
            stdout.line(line)?;
        }
    } else if a.label {
        if check_labels(loss).is_err() {
            bail!("--label needs a classifier (a model trained with cross-entropy, bce or bce-logits)");
        }
        let name = |class: usize| match model.labels.as_ref().and_then(|l| l.get(class)) {
            Some(word) => word.clone(),
            None => class.to_string(),
        };
        if out.rank() > 2 {
            // A class per position: each row's classes, comma-separated.
            for row in classes_per_position(&out)? {
                let classes: Vec<String> = row.into_iter().map(name).collect();
                stdout.line(classes.join(","))?;
            }
        } else {
            for class in predict_classes(&model.net, loss, &out)? {
                stdout.line(name(class))?;
            }
        }
    } else {
        for line in format_rows(&out)? {
            stdout.line(line)?;
        }
    }
    Ok(stdout.finish()?)
}

/// Each row's outputs (flattened in row-major order, for sequences) in
/// Rust's shortest round-trip form for the model's dtype.
pub fn format_rows(out: &Tensor) -> Result<Vec<String>> {
    let out = &out.flatten_from(1)?;
    fn join<T: std::fmt::Display>(rows: Vec<Vec<T>>) -> Vec<String> {
        rows.iter()
            .map(|r| r.iter().map(T::to_string).collect::<Vec<_>>().join(","))
            .collect()
    }
    Ok(match out.dtype() {
        DType::F32 => join(out.to_vec2::<f32>()?),
        _ => join(out.to_dtype(DType::F64)?.to_vec2::<f64>()?),
    })
}

fn parse_row(text: &str, width: usize) -> Result<Vec<f64>> {
    let cells: Vec<&str> = text.split(',').map(str::trim).collect();
    if cells.len() != width {
        bail!(
            "--input `{text}`: {} values given, the model takes {width}",
            cells.len()
        );
    }
    cells
        .iter()
        .map(|c| match c.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => bail!("--input `{text}`: `{c}` is not a finite number"),
        })
        .collect()
}

/// Asks for each input in turn, as the article does; asks again after a non-number.
fn ask(width: usize) -> Result<Option<Vec<f64>>> {
    let mut lines = io::stdin().lock().lines();
    let mut row = Vec::with_capacity(width);
    for i in 1..=width {
        loop {
            eprint!("Input {i} of {width}: ");
            io::stderr().flush()?;
            let Some(line) = lines.next() else {
                return Ok(None);
            };
            match line?.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    row.push(v);
                    break;
                }
                _ => eprintln!("Please type a number."),
            }
        }
    }
    Ok(Some(row))
}
