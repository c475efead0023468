//! `synapse eval`: the loss and metrics of a model on labelled data.

use anyhow::{anyhow, bail, Result};
use synapse_nn::Loss;
use synapse_train::{check_fits, load, Classes, Confusion, LoadOptions, Metrics};

use crate::args::EvalArgs;
use crate::config::{about_file, check_target_applies, flagged, load_model, parse_loss, targets};
use crate::stdout::Stdout;

pub fn run(a: &EvalArgs) -> Result<()> {
    check_target_applies(a.target.as_deref(), &a.data, "--data")?;
    let (model, dev) = load_model(&a.model, a.arch.as_deref(), a.device)?;
    let loss = match (&a.loss, model.loss) {
        (Some(l), _) => parse_loss(l)?,
        (None, Some(l)) => l,
        (None, None) => {
            return Err(anyhow!(
                "--model {}: the model has no loss metadata; give --loss",
                a.model.display()
            ))
        }
    };
    let classes = match (&model.labels, loss) {
        (Some(l), Loss::CrossEntropy) => Classes::Known(l.clone()),
        (None, Loss::CrossEntropy) => Classes::Infer,
        _ => Classes::No,
    };
    let options = LoadOptions {
        targets: targets(a.target.as_deref())?,
        classes,
        dtype: model.net.dtype(),
        ids: model.net.takes_ids(),
    };
    let data = load(&a.data, &options).map_err(flagged("--data"))?;
    check_fits(model.net.spec(), loss, &data).map_err(|e| about_file("--data", &a.data, e))?;
    let data = match &model.normalize {
        Some(n) => data.with_x(n.apply(data.x())?)?,
        None => data,
    };
    let data = data.to_device(&dev, model.net.dtype())?;
    let out = synapse_train::predict(&model.net, data.x())?;
    // Every check before the first line is printed.
    let confusion = match a.confusion {
        true => match Confusion::of(loss, &out, data.y())? {
            Some(c) => Some(c),
            None => bail!("--confusion needs a classifier; the model was trained with {loss}"),
        },
        false => None,
    };
    let figures = Metrics::compute(loss, &out, data.y())?.figures();
    let mut stdout = Stdout::lock();
    for (name, value) in figures {
        stdout.line(format_args!("{name}: {}", crate::progress::figure(value)))?;
    }
    if let Some(c) = confusion {
        let names: Vec<String> = (0..c.counts.len())
            .map(|i| match &model.labels {
                Some(l) if l.len() == c.counts.len() => l[i].clone(),
                _ => i.to_string(),
            })
            .collect();
        stdout.line("confusion (rows: true class, columns: predicted class):")?;
        stdout.line(format_args!("true\\predicted,{}", names.join(",")))?;
        for (name, row) in names.iter().zip(&c.counts) {
            let counts: Vec<String> = row.iter().map(usize::to_string).collect();
            stdout.line(format_args!("{name},{}", counts.join(",")))?;
        }
    }
    Ok(stdout.finish()?)
}
