//! `synapse summary`: the table of synapse-train's `summary` for `--arch`,
//! or for `--model` with the model's dtype, loss, labels and normalisation.

use anyhow::Result;
use candle_core::Device;
use synapse_train::summary::{render, render_model};
use synapse_train::Model;

use crate::args::SummaryArgs;
use crate::config::{flagged, parse_spec};

pub fn run(a: &SummaryArgs) -> Result<()> {
    match (&a.model, &a.arch) {
        (Some(path), arch) => {
            let arch = arch
                .as_deref()
                .map(|s| parse_spec(s, "--arch"))
                .transpose()?;
            let m = Model::load(path, arch.as_ref(), &Device::Cpu).map_err(flagged("--model"))?;
            print!("{}", render_model(&m));
        }
        (None, Some(text)) => print!("{}", render(&parse_spec(text, "--arch")?)),
        (None, None) => unreachable!("clap requires one of --model and --arch"),
    }
    Ok(())
}
