//! The model a job starts from when it is read from a file (`--init FILE`):
//! its weights, and what its model file keeps that training goes on with
//! ([`Prior`]: the class words and the normalisation). An `.npz` of
//! weights keeps neither.

use std::path::Path;

use candle_core::{DType, Device};
use synapse_nn::{ArchSpec, Sequential};

use super::data::Prior;
use crate::{load_weights, Model, Result};

/// The weights of `path` as a stack of `spec` in `dtype`, and its prior.
pub fn load_start(
    path: &Path,
    spec: &ArchSpec,
    dtype: DType,
    device: &Device,
) -> Result<(Sequential, Prior)> {
    if path.is_dir() {
        // A Hugging Face folder: read (memory-mapped) once, in `dtype`; it
        // keeps no class words or normalisation.
        let model = crate::hf::load_folder(path, Some(spec), Some(dtype), device)?;
        return Ok((model.net, Prior::default()));
    }
    let net = load_weights(path, spec, dtype, device)?;
    let npz = path
        .to_string_lossy()
        .to_ascii_lowercase()
        .ends_with(".npz");
    let prior = if npz {
        Prior::default()
    } else {
        let model = Model::load(path, Some(spec), device)?;
        Prior {
            labels: model.labels,
            normalize: model.normalize,
        }
    };
    Ok((net, prior))
}
