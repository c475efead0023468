//! `synapse summary`: the table of synapse-train's `summary` for `--arch`,
//! or for `--model` with the model's dtype, loss, labels and normalisation.

use anyhow::Result;
use candle_core::Device;
use synapse_train::summary::{render, render_model};
use synapse_train::Model;

use crate::args::SummaryArgs;
use crate::config::{flagged, parse_spec};
use crate::stdout::Stdout;

pub fn run(a: &SummaryArgs) -> Result<()> {
    let table = match (&a.model, &a.arch) {
        (Some(path), arch) => {
            let arch = arch
                .as_deref()
                .map(|s| parse_spec(s, "--arch"))
                .transpose()?;
            let m = Model::load(path, arch.as_ref(), &Device::Cpu).map_err(flagged("--model"))?;
            render_model(&m)
        }
        (None, Some(text)) => render(&parse_spec(text, "--arch")?),
        (None, None) => unreachable!("clap requires one of --model and --arch"),
    };
    let mut out = Stdout::lock();
    out.text(&table)?;
    Ok(out.finish()?)
}
