//! `state_dict()` and `load_state_dict()`: parameters and buffers by
//! PyTorch's `nn.Sequential` names (SPEC section 2), as numpy arrays, so
//! that `model.load_state_dict({k: torch.from_numpy(v) for k, v in
//! net.state_dict().items()})` loads them into the same stack in PyTorch,
//! and the other way round. The names, shapes and values are checked by
//! `Sequential::from_tensors`.

use std::collections::HashMap;

use candle_core::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMapping};
use synapse_nn::Sequential;

use crate::arrays::{read, to_numpy, Kind};
use crate::errors::nn_error;

/// Every parameter and buffer, copied into new arrays, in state_dict order.
pub fn state_dict<'py>(py: Python<'py>, net: &Sequential) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, t) in net.state() {
        d.set_item(name, to_numpy(py, &t)?)?;
    }
    Ok(d)
}

/// A new stack of `net`'s spec, dtype and device holding the tensors of
/// `state`. With `strict`, exactly the stack's names; without, what is
/// missing keeps `net`'s values and unknown names are left out.
pub fn load_state_dict(
    net: &Sequential,
    state: &Bound<'_, PyAny>,
    strict: bool,
) -> PyResult<Sequential> {
    let state = state.cast::<PyMapping>()?;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for item in state.items()?.try_iter()? {
        let (name, value): (String, Bound<'_, PyAny>) = item?.extract()?;
        let kind = if name.ends_with("num_batches_tracked") {
            Kind::Ids
        } else {
            Kind::Floats(net.dtype())
        };
        tensors.insert(name.clone(), read(&as_array(&value)?, &name, kind)?.tensor);
    }
    if !strict {
        let own = net.state();
        tensors.retain(|k, _| own.iter().any(|(n, _)| n == k));
        for (name, t) in own {
            tensors.entry(name).or_insert(t);
        }
    }
    Sequential::from_tensors(net.spec(), &tensors, net.dtype(), net.device()).map_err(nn_error)
}

/// A torch tensor (`detach().cpu().numpy()`), or the value as it is.
fn as_array<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if value.hasattr("detach")? && value.hasattr("numpy")? {
        return value
            .call_method0("detach")?
            .call_method0("cpu")?
            .call_method0("numpy");
    }
    Ok(value.clone())
}
