//! `synapse export`: a model file as an ONNX model (SPEC section 7), written atomically.
//!
//! Checks come first (`--opset`, the `--out` folder, the model file), so a
//! failed export leaves no file behind; the library's `save_onnx` writes
//! through `write_atomic`.

use anyhow::{anyhow, Result};
use candle_core::Device;
use synapse_train::{onnx, save_onnx, Model};

use crate::args::ExportArgs;
use crate::config::flagged;
use crate::paths::Files;
use crate::stdout::Stdout;

pub fn run(a: &ExportArgs) -> Result<()> {
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
