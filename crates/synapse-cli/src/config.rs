//! From parsed flags to plain, checked settings: every error names its flag.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use candle_core::{DType, Device};
use synapse_nn::{ArchSpec, Loss};
use synapse_train::Targets;

use crate::args::{DTypeArg, DeviceArg};

/// `--model FILE` (with `--arch SPEC` for a file without synapse metadata)
/// on `--device`: the model and its device.
pub fn load_model(
    path: &Path,
    arch: Option<&str>,
    device_arg: DeviceArg,
) -> Result<(synapse_train::Model, Device)> {
    let dev = device(device_arg)?;
    let arch = arch.map(|s| parse_spec(s, "--arch")).transpose()?;
    let model =
        synapse_train::Model::load(path, arch.as_ref(), &dev).map_err(flagged("--model"))?;
    Ok((model, dev))
}

pub fn parse_spec(text: &str, flag: &str) -> Result<ArchSpec> {
    text.parse::<ArchSpec>().map_err(|e| anyhow!("{flag}: {e}"))
}

/// `--loss`: the library's list and message.
pub fn parse_loss(text: &str) -> Result<Loss> {
    text.parse::<Loss>().map_err(|e| nn_error("--loss", e))
}

/// A synapse-nn refusal of a value given by `flag`, as `FLAG reason` (the
/// library's message, not a copy of its rule).
pub fn nn_error(flag: &str, e: synapse_nn::Error) -> anyhow::Error {
    match e {
        synapse_nn::Error::Config { reason, .. } => anyhow!("{flag} {reason}"),
        other => anyhow!("{flag}: {other}"),
    }
}

pub fn dtype(d: DTypeArg) -> DType {
    match d {
        DTypeArg::F32 => DType::F32,
        DTypeArg::F64 => DType::F64,
    }
}

pub fn device(d: DeviceArg) -> Result<Device> {
    match d {
        DeviceArg::Cpu => Ok(Device::Cpu),
        DeviceArg::Cuda if cfg!(feature = "cuda") => {
            Device::new_cuda(0).map_err(|e| anyhow!("--device cuda: no usable CUDA device ({e})"))
        }
        DeviceArg::Cuda => bail!(
            "--device cuda: this synapse was built without CUDA; rebuild it with `cargo install --path crates/synapse-cli --features cuda`"
        ),
    }
}

/// Prefixes a library error with the flag that named its file:
/// `--data data.csv: line 3, ...`.
pub fn flagged(flag: &'static str) -> impl Fn(synapse_train::Error) -> anyhow::Error {
    move |e| {
        let text = format!("{flag} {e}");
        anyhow::Error::new(e).context(text)
    }
}

/// A library error about a data file, as `FLAG FILE: reason`.
pub fn about_file(flag: &str, path: &Path, e: synapse_train::Error) -> anyhow::Error {
    let reason = match &e {
        synapse_train::Error::Config { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    let reason = synapse_train::job::render(&reason, synapse_train::job::Naming::Flags);
    anyhow!("{flag} {}: {reason}", path.display())
}

/// Splits `a,b,c` into column names, each named once.
pub fn columns(text: &str, flag: &str) -> Result<Vec<String>> {
    let cols: Vec<String> = text.split(',').map(|c| c.trim().to_string()).collect();
    if cols.iter().any(String::is_empty) {
        bail!("{flag} `{text}`: expected column names separated by commas");
    }
    if let Some((_, c)) = cols
        .iter()
        .enumerate()
        .find(|(i, c)| cols[..*i].contains(c))
    {
        bail!("{flag} `{text}`: the column `{c}` is named twice");
    }
    Ok(cols)
}

/// `--target` names CSV columns; an npz file has arrays `x` and `y` instead.
pub fn check_target_applies(target: Option<&str>, data: &Path, flag: &str) -> Result<()> {
    if target.is_some() && synapse_train::is_npz(data) {
        bail!(
            "--target: {flag} {} is an npz file, whose targets are its array `y`; --target names CSV columns",
            data.display()
        );
    }
    Ok(())
}

pub fn targets(target: Option<&str>) -> Result<Targets> {
    Ok(match target {
        Some(t) => Targets::Named(columns(t, "--target")?),
        None => Targets::Last,
    })
}
