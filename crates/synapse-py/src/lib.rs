//! `synapse_nn._native`, the extension module of the Python package
//! `synapse_nn` (SPEC section 11; the Python side is in `python/`).
//!
//! A thin layer over synapse-train and synapse-nn: numpy arrays in and out
//! (`arrays.rs`), `fit`'s keywords mapped onto the library's training job
//! (`options.rs`, `synapse_train::job`), its arguments as the job's inputs
//! (`data.rs`), training on rayon's pool with the GIL released and Ctrl-C
//! answered between batches (`run.rs`), the `Sequential` class
//! (`sequential.rs`), state dicts (`state.rs`), and the library's errors
//! as Python exceptions (`errors.rs`). No rule and no message of its own
//! beyond naming the Python argument.

use pyo3::prelude::*;

mod arrays;
mod data;
mod errors;
mod options;
mod run;
mod sequential;
mod state;

use sequential::PySequential;

/// Where `read` took `X`'s values from, and whether numpy converted it
/// first (for the zero-copy test): `(address, converted)`.
#[pyfunction]
#[pyo3(signature = (x, dtype="float32"))]
fn _read_address(x: &Bound<'_, PyAny>, dtype: &str) -> PyResult<(usize, bool)> {
    let kind = match dtype {
        "int64" => arrays::Kind::Ids,
        "float64" => arrays::Kind::Floats(candle_core::DType::F64),
        _ => arrays::Kind::Floats(candle_core::DType::F32),
    };
    let r = arrays::read(x, "X", kind)?;
    Ok((r.address, r.converted))
}

/// Every keyword `fit` takes (the training job's options and Python's own).
#[pyfunction]
fn _fit_keywords() -> Vec<&'static str> {
    options::keywords()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySequential>()?;
    m.add_function(wrap_pyfunction!(_fit_keywords, m)?)?;
    m.add_function(wrap_pyfunction!(_read_address, m)?)?;
    Ok(())
}
