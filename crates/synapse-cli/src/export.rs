//! `synapse export`: a model file as an ONNX model (SPEC section 7), or with
//! `--format hf` as a GPT-2 folder (SPEC section 12), written atomically.
//!
//! Checks come first (`--opset`, the `--out` file or folder, the model
//! file, the model's form), so a failed export leaves no file behind; the
//! library's `save_onnx` writes through `write_atomic`, its
//! `hf::export_folder` its files all together.

use anyhow::{anyhow, Result};
use candle_core::Device;
use synapse_train::{onnx, save_onnx, Model};

use std::path::Path;

use anyhow::bail;

use crate::args::{ExportArgs, ExportFormat};
use crate::config::flagged;
use crate::paths::Files;
use crate::stdout::Stdout;

pub fn run(a: &ExportArgs) -> Result<()> {
    if a.format == ExportFormat::Hf {
        return run_hf(a);
    }
    onnx::check_opset(a.opset).map_err(|e| match e {
        synapse_train::Error::Config { reason, .. } => anyhow!("--opset: {reason}"),
        other => other.into(),
    })?;
    Files::default()
        .input("--model", Some(&a.model))
        .output("--out", Some(&a.out))
        .check()?;
    let model = Model::load(&a.model, None, &Device::Cpu).map_err(flagged("--model"))?;
    save_onnx(&model, a.opset, &a.out).map_err(|e| match e {
        e @ synapse_train::Error::Io { .. } => flagged("--out")(e),
        e => anyhow!("--model {}: {e}", a.model.display()),
    })?;
    let spec = model.net.spec();
    let mut out = Stdout::lock();
    out.line(format_args!(
        "{}: ONNX opset {}, input {} {}, output {}",
        a.out.display(),
        a.opset,
        spec.input_shape(),
        onnx::input_type(&model)?,
        spec.output_shape()
    ))?;
    Ok(out.finish()?)
}

/// `--format hf`: the folder's checks, the model's form, then the files.
fn run_hf(a: &ExportArgs) -> Result<()> {
    check_out_folder(&a.out, &a.model)?;
    let model = Model::load(&a.model, None, &Device::Cpu).map_err(flagged("--model"))?;
    let config = synapse_train::hf::config_of(model.net.spec())
        .map_err(|e| anyhow!("--format hf: --model {}: {e}", a.model.display()))?;
    synapse_train::hf::export_folder(&model, &a.out).map_err(|e| match e {
        e @ synapse_train::Error::Io { .. } => flagged("--out")(e),
        e => anyhow!("--model {}: {e}", a.model.display()),
    })?;
    let files = match model.tokenizer {
        Some(_) => "config.json, model.safetensors, tokenizer.json",
        None => "config.json, model.safetensors",
    };
    let mut out = Stdout::lock();
    out.line(format_args!(
        "{}: GPT-2 folder ({files}): {} layers, {} heads, n_embd {}, vocab {}, {} positions{}",
        a.out.display(),
        config.n_layer,
        config.n_head,
        config.n_embd,
        config.vocab_size,
        config.n_positions,
        if config.tied {
            ", lm_head tied to wte"
        } else {
            ""
        }
    ))?;
    Ok(out.finish()?)
}

/// `--out` for a folder: new, or an empty folder, and not inside the
/// `--model` folder (whose files it would mix with).
fn check_out_folder(out: &Path, model: &Path) -> Result<()> {
    let shown = out.display();
    if out.exists() {
        if !out.is_dir() {
            bail!("--out {shown}: exists and is not a folder; --format hf writes a folder");
        }
        let mut entries = std::fs::read_dir(out).map_err(|e| anyhow!("--out {shown}: {e}"))?;
        if entries.next().is_some() {
            bail!("--out {shown}: the folder exists and is not empty; give a new or empty one");
        }
    }
    if model.is_dir() {
        let (Ok(model_dir), Some(out_abs)) = (std::fs::canonicalize(model), absolute(out)) else {
            return Ok(());
        };
        if out_abs.starts_with(&model_dir) {
            bail!(
                "--out {shown}: is inside the --model folder {}; give a folder outside it",
                model.display()
            );
        }
    }
    Ok(())
}

/// `path` made absolute through its nearest existing ancestor (resolving
/// its links), the rest appended as written.
fn absolute(path: &Path) -> Option<std::path::PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let mut rest = Vec::new();
    let mut at = path.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(at) {
            return Some(rest.iter().rev().fold(real, |p, c| p.join(c)));
        }
        rest.push(at.file_name()?.to_owned());
        at = at.parent()?;
    }
}
