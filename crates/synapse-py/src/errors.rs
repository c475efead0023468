//! The library's errors as Python exceptions, named by the keyword or the
//! argument that caused them. The messages are the library's own; this
//! file only says which exception and puts the Python name in front, as the
//! command line puts its flag (`lr 0: expected ...` where the CLI says
//! `--lr 0: expected ...`).
//!
//! | library error | exception |
//! | --- | --- |
//! | the loss diverged | `RuntimeError` |
//! | a file that cannot be read or written | `FileNotFoundError`, `PermissionError`, `OSError` |
//! | anything about the input (data, spec, settings, files' content) | `ValueError` |

use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::PyErr;
use synapse_train::job::{message, nn_message, render, Naming};

/// A synapse-train error raised from a call whose data arguments are named
/// `data` (`X`, `validation_data`...): a `Config` error about the data gets
/// that name in front; the training job's errors name their keyword
/// (`synapse_train::job::message`, the command line's text with keywords).
pub fn train_error(e: synapse_train::Error, data: &str) -> PyErr {
    use synapse_train::Error as E;
    match e {
        E::Diverged { .. } => PyRuntimeError::new_err(e.to_string()),
        E::Io { ref source, .. } => {
            let text = e.to_string();
            match source.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(text),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(text),
                _ => PyOSError::new_err(text),
            }
        }
        E::About { ref error, .. } if matches!(**error, E::Io { .. }) => {
            let E::About { error, .. } = e else {
                unreachable!()
            };
            train_error(*error, data)
        }
        E::Config {
            ref name,
            ref reason,
        } if matches!(name.as_str(), "data" | "x" | "context") => {
            PyValueError::new_err(format!("{data}: {}", render(reason, Naming::Keywords)))
        }
        // The targets' own errors, and the checks of targets against the
        // stack: the culprit is `y`.
        E::Config {
            ref name,
            ref reason,
        } if matches!(name.as_str(), "y" | "targets") => {
            PyValueError::new_err(format!("y: {}", render(reason, Naming::Keywords)))
        }
        E::Config {
            ref name,
            ref reason,
        } if name == "arch" => {
            PyValueError::new_err(format!("spec: {}", render(reason, Naming::Keywords)))
        }
        // An input value an element cannot take (an id outside the vocabulary).
        E::Nn(ref e @ synapse_nn::Error::Input { .. }) => {
            PyValueError::new_err(format!("{data}: {}", nn_message(e, Naming::Keywords)))
        }
        other => PyValueError::new_err(message(&other, Naming::Keywords)),
    }
}

/// A synapse-nn error: settings named by their keyword, the rest as it is.
pub fn nn_error(e: synapse_nn::Error) -> PyErr {
    PyValueError::new_err(nn_message(&e, Naming::Keywords))
}

/// A candle error (an internal failure, not the caller's input).
pub fn candle_error(e: candle_core::Error) -> PyErr {
    PyRuntimeError::new_err(synapse_train::candle_message(&e))
}

/// `seed=`: a whole number from 0 to 2^32 - 1, named in the error.
pub fn seed(v: Option<&pyo3::Bound<'_, pyo3::PyAny>>) -> pyo3::PyResult<Option<u32>> {
    use pyo3::types::PyAnyMethods;
    let Some(v) = v else { return Ok(None) };
    match v.extract::<u32>() {
        Ok(s) => Ok(Some(s)),
        Err(_) if v.extract::<i128>().is_ok() || v.extract::<u128>().is_ok() => {
            Err(PyValueError::new_err(format!(
                "seed {}: expected a whole number from 0 to 4294967295",
                v.str()?
            )))
        }
        Err(e) => Err(pyo3::exceptions::PyTypeError::new_err(format!("seed: {e}"))),
    }
}
