//! `synapse generate`: text from a character model (SPEC section 10): the
//! prompt, then `--length` characters drawn by
//! `synapse_train::generate_streaming`, each written and flushed as it is
//! decoded; `--weights bf16` first keeps the large matrices in bfloat16
//! (`Sequential::with_bf16_weights`).

use anyhow::{anyhow, Result};
use candle_core::Device;
use synapse_train::{generate_streaming, Model, Sampling};

use crate::args::{GenerateArgs, WeightsArg};
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
    let top_p = a
        .top_p
        .as_deref()
        .map(|f| match f.parse::<f64>() {
            Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
            _ => Err(anyhow!(
                "--top-p `{f}`: expected a number above 0 and at most 1"
            )),
        })
        .transpose()?;
    let mut model = Model::load(&a.model, None, &Device::Cpu).map_err(flagged("--model"))?;
    if a.weights == WeightsArg::Bf16 {
        model.net = model
            .net
            .with_bf16_weights()
            .map_err(|e| anyhow!("--weights bf16: {e}"))?;
    }
    let sampling = Sampling {
        length,
        temperature: a.temperature,
        top_k,
        top_p,
        seed: a.seed,
        kv_cache: true,
    };
    let mut out = Stdout::lock();
    let streamed = generate_streaming(&model, &a.prompt, &sampling, |piece| {
        out.text(piece)?;
        out.flush()?;
        Ok::<(), anyhow::Error>(())
    });
    streamed.map_err(|e| match e.downcast::<synapse_train::Error>() {
        Ok(synapse_train::Error::Config { name, reason }) if name == "model" => {
            anyhow!("--model {}: {reason}", a.model.display())
        }
        Ok(synapse_train::Error::Config { name, reason }) => anyhow!("--{name}: {reason}"),
        Ok(other) => other.into(),
        Err(e) => e,
    })?;
    out.line("")?;
    Ok(out.finish()?)
}
