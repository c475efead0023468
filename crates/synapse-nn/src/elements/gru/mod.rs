//! `gru(IN,H)`, SPEC section 10's `GRU(IN, H)`: PyTorch's
//! `nn.GRU(IN, H, batch_first=True)` with a zero initial state, returning
//! the output sequence.
//!
//! For each step `t` (gates in PyTorch's order r, z, n; `σ` the sigmoid),
//! in PyTorch's order of operations:
//! ```text
//! gi = x_t W_ih^T + b_ih        gh = h_{t-1} W_hh^T + b_hh        [batch, 3H]
//! r = σ(gh_r + gi_r)     z = σ(gh_z + gi_z)     n = tanh(gi_n + r * gh_n)
//! h_t = (h_{t-1} - n) z + n     (= (1 - z) n + z h_{t-1})     y_t = h_t
//! ```
//! This module is the kind's cell ([`Gates`]); the element around it is
//! the generic recurrent one of `recurrent/mod.rs`. Shapes, state and init:
//! see there (`G = 3`). ONNX: `GRU`
//! with `linear_before_reset=1` (PyTorch's form), the gate blocks reordered
//! to ONNX's z, r, h. Reference: `synapse_reference::RefGru`.
//!
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops (`recurrent/mod.rs`: the input products of every step as one
//! product, then the steps, each step this cell's `Gates::step` below;
//! autodiff differentiates them on any device), and the CPU
//! kernel, one op for the whole sequence with its own backward through
//! time: the cell's arithmetic in `kernel.rs`, the frame around it (the
//! products, threads) in `recurrent/kernel.rs`.
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use synapse_nn::Gru;
//! let dev = Device::Cpu;
//! let var = |v: Vec<f64>, s: &[usize]| Var::from_tensor(&Tensor::from_vec(v, s, &dev).unwrap()).unwrap();
//! // IN = H = 1, weights 0, biases 1 (input) and 0 (hidden): r = z = σ(1), n = tanh(1).
//! let gru = Gru::new(var(vec![0.0; 3], &[3, 1]), var(vec![0.0; 3], &[3, 1]), var(vec![1.0; 3], &[3]), var(vec![0.0; 3], &[3]))?;
//! let y = gru.forward(&Tensor::zeros((1, 1, 1), candle_core::DType::F64, &dev)?)?;
//! let (z, n) = (1.0 / (1.0 + (-1.0f64).exp()), 1.0f64.tanh());
//! assert!((y.flatten_all()?.to_vec1::<f64>()?[0] - (1.0 - z) * n).abs() < 1e-15);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

mod kernel;

use candle_core::Tensor;
use candle_nn::ops::sigmoid;

use super::linear::link::Then;
use super::recurrent::kernel::{sequence, Cell};
use super::recurrent::{Gates, Recurrent, RecurrentSpec};
use crate::export::Attribute;
use crate::{ElementKind, ElementSpec, Layer};
pub use kernel::GruCell;

/// The spec of a GRU, `gru(IN,H)` (see [`RecurrentSpec`]).
pub type GruSpec = RecurrentSpec<GruCell>;

/// A GRU built from given tensors (PyTorch's layout and gate order; see
/// [`Recurrent`]).
pub type Gru = Recurrent<GruCell>;

impl Gates for GruCell {
    const KIND: ElementKind = ElementKind::Gru;
    const GATES: usize = <GruCell as Cell>::GATES;
    const ONNX: &'static str = "GRU";
    /// PyTorch's r, z, n to ONNX's z, r, h.
    const ONNX_ORDER: &'static [usize] = &[1, 0, 2];

    /// PyTorch applies r after the hidden product (`linear_before_reset`).
    fn onnx_attributes() -> Vec<Attribute> {
        vec![Attribute::int("linear_before_reset", 1)]
    }

    fn spec(spec: GruSpec) -> ElementSpec {
        ElementSpec::Gru(spec)
    }

    fn layer(layer: Gru) -> Layer {
        Layer::Gru(layer)
    }

    fn step(
        gi: &Tensor,
        gh: &Tensor,
        h_prev: &Tensor,
        _c: &mut Tensor,
        h: usize,
    ) -> candle_core::Result<Tensor> {
        let (i_, h_) = (
            |k: usize| gi.narrow(1, k * h, h),
            |k: usize| gh.narrow(1, k * h, h),
        );
        let r = sigmoid(&(h_(0)? + i_(0)?)?)?;
        let z = sigmoid(&(h_(1)? + i_(1)?)?)?;
        let n = (i_(2)? + (h_(2)? * r)?)?.tanh()?;
        ((h_prev - &n)? * z)? + n
    }

    fn kernel(
        x: &Tensor,
        weights: [&Tensor; 4],
        then: Option<Then<'_>>,
    ) -> candle_core::Result<Tensor> {
        sequence::<Self>(x, weights, then)
    }
}
