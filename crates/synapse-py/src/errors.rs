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

/// A synapse-train error raised from a call whose data arguments are named
/// `data` (`X`, `validation_data`...): a `Config` error about the data gets
/// that name in front.
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
        E::Config { name, reason } => match name.as_str() {
            "data" | "x" | "context" => PyValueError::new_err(format!("{data}: {reason}")),
            "y" => PyValueError::new_err(format!("y: {reason}")),
            "arch" => PyValueError::new_err(format!("spec: {reason}")),
            other => PyValueError::new_err(format!("{} {reason}", keyword(other))),
        },
        E::TooLarge {
            option,
            reason,
            allowable,
        } => {
            let allow = if allowable {
                "; pass allow_large=True to train it anyway"
            } else {
                ""
            };
            PyValueError::new_err(format!("{}: {reason}{allow}", keyword(option)))
        }
        // An input value an element cannot take (an id outside the vocabulary).
        E::Nn(e @ synapse_nn::Error::Input { .. }) => PyValueError::new_err(format!("{data}: {e}")),
        E::Nn(e) => nn_error(e),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// A synapse-nn error: settings named by their keyword, the rest as it is.
pub fn nn_error(e: synapse_nn::Error) -> PyErr {
    use synapse_nn::Error as E;
    match e {
        E::Setting {
            name: "nesterov",
            value,
            expected,
        } => PyValueError::new_err(format!("nesterov needs {expected} (momentum is {value})")),
        E::Setting {
            name,
            value,
            expected,
        } => PyValueError::new_err(format!("{name} {value}: expected {expected}")),
        E::Config { name, reason } => PyValueError::new_err(format!("{} {reason}", keyword(&name))),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// A candle error (an internal failure, not the caller's input).
pub fn candle_error(e: candle_core::Error) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// The keyword argument of a library option: `batch-size` is `batch_size`.
pub fn keyword(option: &str) -> String {
    match option {
        "arch" => "spec".into(),
        "clip-norm" => "clip_grad_norm".into(),
        other => other.replace('-', "_"),
    }
}
