//! numpy arrays in and out.
//!
//! In: a C-contiguous float32 or float64 array (or int64 ids for a stack
//! that starts with `embedding`) is read where numpy keeps it, through a
//! borrowed slice: no conversion and no copy on the numpy side; its values
//! go straight into the tensor (candle's tensors own their storage, so that
//! one copy is the tensor itself). Anything else (Fortran order, strides,
//! other number types, lists) is first converted by
//! `numpy.ascontiguousarray`. Out: a tensor's values become a new array
//! that owns them (no second copy).

use candle_core::{DType, Device, Tensor};
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::candle_error;

/// What was read, and from where: the address of the first value read and
/// whether numpy had to convert the input first.
pub struct Read {
    pub tensor: Tensor,
    pub address: usize,
    pub converted: bool,
}

/// What an input array holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Numbers: float32 and float64 are read as they are, the rest converted to `DType`.
    Floats(DType),
    /// Integer ids (int64; other integers are converted).
    Ids,
}

/// Reads `obj` (named `name` in errors) as a tensor of `kind`.
pub fn read(obj: &Bound<'_, PyAny>, name: &str, kind: Kind) -> PyResult<Read> {
    if let Some(r) = borrowed(obj, kind)? {
        return Ok(r);
    }
    let py = obj.py();
    let np = py.import("numpy")?;
    let named = |e: PyErr| PyValueError::new_err(format!("{name}: {}", e.value(py)));
    let array = np.getattr("asarray")?.call1((obj,)).map_err(named)?;
    let type_kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    let target = match (kind, type_kind.as_str()) {
        (_, "c") => {
            return Err(PyValueError::new_err(format!(
                "{name}: complex numbers are not supported; give real numbers"
            )))
        }
        (Kind::Ids, "u") => {
            // An unsigned id past int64's range would wrap to a negative one.
            let size: usize = array.getattr("size")?.extract()?;
            if size > 0 {
                let max = array.call_method0("max")?;
                if max.gt(i64::MAX)? {
                    return Err(PyValueError::new_err(format!(
                        "{name}: id {} is larger than any vocabulary (ids are int64)",
                        max.str()?
                    )));
                }
            }
            "int64"
        }
        (Kind::Ids, "i" | "b") => "int64",
        (Kind::Ids, _) => {
            return Err(PyValueError::new_err(format!(
                "{name}: the stack starts with embedding, which takes integer ids, but the array holds {}",
                array.getattr("dtype")?.str()?
            )))
        }
        (Kind::Floats(DType::F64), _) => "float64",
        (Kind::Floats(_), _) => "float32",
    };
    let converted = np
        .getattr("ascontiguousarray")?
        .call1((array, target))
        .map_err(named)?;
    let mut r = borrowed(&converted, kind)?.ok_or_else(|| {
        PyValueError::new_err(format!("{name}: could not read it as an array of numbers"))
    })?;
    r.converted = true;
    Ok(r)
}

/// The array as it is, when it is C-contiguous and of a type read directly.
fn borrowed(obj: &Bound<'_, PyAny>, kind: Kind) -> PyResult<Option<Read>> {
    match kind {
        Kind::Floats(_) => {
            if let Some(r) = slice_of::<f32>(obj)? {
                return Ok(Some(r));
            }
            slice_of::<f64>(obj)
        }
        Kind::Ids => slice_of::<i64>(obj),
    }
}

fn slice_of<T: Element + candle_core::WithDType>(obj: &Bound<'_, PyAny>) -> PyResult<Option<Read>> {
    let Ok(array) = obj.cast::<PyArrayDyn<T>>() else {
        return Ok(None);
    };
    // `as_slice` takes Fortran order too: its values would be read transposed.
    if !array.is_c_contiguous() {
        return Ok(None);
    }
    let view = array.readonly();
    let Ok(values) = view.as_slice() else {
        return Ok(None);
    };
    let shape = view.shape().to_vec();
    let tensor = Tensor::from_slice(values, shape, &Device::Cpu).map_err(candle_error)?;
    Ok(Some(Read {
        tensor,
        address: values.as_ptr() as usize,
        converted: false,
    }))
}

/// A tensor as a new numpy array of its dtype (f32, f64; integers as int64).
pub fn to_numpy<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let dims = t.dims().to_vec();
    let flat = t.flatten_all().map_err(candle_error)?;
    Ok(match t.dtype() {
        DType::F32 => owned(py, dims, flat.to_vec1::<f32>().map_err(candle_error)?)?,
        DType::F64 => owned(py, dims, flat.to_vec1::<f64>().map_err(candle_error)?)?,
        _ => {
            let v = flat
                .to_dtype(DType::I64)
                .and_then(|f| f.to_vec1::<i64>())
                .map_err(candle_error)?;
            owned(py, dims, v)?
        }
    })
}

fn owned<'py, T: Element>(
    py: Python<'py>,
    dims: Vec<usize>,
    values: Vec<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let array = ArrayD::from_shape_vec(IxDyn(&dims), values)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyArrayDyn::from_owned_array(py, array).into_any())
}
