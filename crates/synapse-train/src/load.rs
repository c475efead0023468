//! Reading a data file into a [`Dataset`]: `.npz` by its extension
//! ([`crate::npz_data`]), CSV otherwise ([`crate::csv_data`]). The loaders
//! depend on `dataset.rs`, never the other way round.

use std::path::Path;

use crate::{csv_data, npz_data, Dataset, LoadOptions, Result};

/// Whether `path` is read as an npz file (by its extension).
pub fn is_npz(path: &Path) -> bool {
    path.to_string_lossy()
        .to_ascii_lowercase()
        .ends_with(".npz")
}

/// Reads a dataset: `.npz` by its extension, CSV (`.csv`, `.csv.gz`, anything else) otherwise.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Dataset> {
    if is_npz(path) {
        npz_data::load_npz(path, options)
    } else {
        csv_data::load_csv(path, options)
    }
}
