//! `synapse generate`: text from a character model (SPEC section 10): the
//! prompt, then `--length` characters drawn by `synapse_train::generate`.

use anyhow::{anyhow, Result};
use candle_core::Device;
use synapse_train::{generate, Model, Sampling};

use crate::args::GenerateArgs;
use crate::config::flagged;
use crate::stdout::Stdout;

pub fn run(a: &GenerateArgs) -> Result<()> {
    let count = |flag: &str, text: &str, min: usize| match text.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(anyhow!(
            "{flag} `{text}`: expected a whole number of at least {min}"
        )),
    };
    let length = count("--length", &a.length, 0)?;
    let top_k = a
        .top_k
        .as_deref()
        .map(|k| count("--top-k", k, 1))
        .transpose()?;
    let model = Model::load(&a.model, None, &Device::Cpu).map_err(flagged("--model"))?;
    let sampling = Sampling {
        length,
        temperature: a.temperature,
        top_k,
        seed: a.seed,
    };
    let text = generate(&model, &a.prompt, &sampling).map_err(|e| match e {
        synapse_train::Error::Config { name, reason } if name == "model" => {
            anyhow!("--model {}: {reason}", a.model.display())
        }
        synapse_train::Error::Config { name, reason } => anyhow!("--{name}: {reason}"),
        other => other.into(),
    })?;
    let mut out = Stdout::lock();
    out.line(text)?;
    Ok(out.finish()?)
}
