//! `synapse export`: a model file as an ONNX model (SPEC section 7), written atomically.
//!
//! Checks come first (`--opset`, the `--out` folder, the model file), so a
//! failed export leaves no file behind; the library's `save_onnx` writes
//! through `write_atomic`.

use anyhow::{anyhow, Result};
use candle_core::Device;
use synapse_train::{onnx, save_onnx, Model};

use crate::args::ExportArgs;
use crate::config::check_out_folder;

pub fn run(a: &ExportArgs) -> Result<()> {
    onnx::check_opset(a.opset).map_err(|e| match e {
        synapse_train::Error::Config { reason, .. } => anyhow!("--opset: {reason}"),
        other => other.into(),
    })?;
    check_out_folder(&a.out, "--out")?;
    let model = Model::load(&a.model, None, &Device::Cpu)?;
    save_onnx(&model, a.opset, &a.out)?;
    let spec = model.net.spec();
    println!(
        "{}: ONNX opset {}, input [batch, {}] {}, output [batch, {}]",
        a.out.display(),
        a.opset,
        spec.input_dim(),
        synapse_train::dtype_name(model.net.dtype()),
        spec.output_dim()
    );
    Ok(())
}
