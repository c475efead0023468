//! `lstm(IN,H)`, SPEC section 10's `LSTM(IN, H)`: PyTorch's
//! `nn.LSTM(IN, H, batch_first=True)` with zero initial states, returning
//! the output sequence.
//!
//! For each step `t` (gates in PyTorch's order i, f, g, o; `σ` the sigmoid):
//! ```text
//! a   = (h_{t-1} W_hh^T + b_hh) + (x_t W_ih^T + b_ih)      [batch, 4H]
//! i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//! c_t = f c_{t-1} + i g          h_t = o tanh(c_t)          y_t = h_t
//! ```
//! This module is the kind's cell ([`Gates`]); the element around it is
//! the generic recurrent one of `recurrent/mod.rs`. Shapes, state and init:
//! see there (`G = 4`). ONNX: `LSTM`
//! with the gate blocks reordered to ONNX's i, o, f, c. Reference:
//! `synapse_reference::RefLstm`.
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
//! use synapse_nn::Lstm;
//! let dev = Device::Cpu;
//! let var = |v: Vec<f64>, s: &[usize]| Var::from_tensor(&Tensor::from_vec(v, s, &dev).unwrap()).unwrap();
//! // IN = H = 1, every weight 0 and every bias 1: each step has a = 2.
//! let lstm = Lstm::new(var(vec![0.0; 4], &[4, 1]), var(vec![0.0; 4], &[4, 1]), var(vec![1.0; 4], &[4]), var(vec![1.0; 4], &[4]))?;
//! let y = lstm.forward(&Tensor::zeros((1, 2, 1), candle_core::DType::F64, &dev)?)?;
//! let (s, g) = (1.0 / (1.0 + (-2.0f64).exp()), 2.0f64.tanh());
//! let (c1, c2) = (s * g, s * s * g + s * g);
//! let want = [s * c1.tanh(), s * c2.tanh()];
//! let got = y.flatten_all()?.to_vec1::<f64>()?;
//! assert!((got[0] - want[0]).abs() < 1e-15 && (got[1] - want[1]).abs() < 1e-15);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

mod kernel;

use candle_core::Tensor;
use candle_nn::ops::sigmoid;

use super::linear::link::Then;
use super::recurrent::kernel::{sequence, Cell};
use super::recurrent::{Gates, Recurrent, RecurrentSpec};
use crate::{ElementKind, ElementSpec, Layer};
pub use kernel::LstmCell;

/// The spec of an LSTM, `lstm(IN,H)` (see [`RecurrentSpec`]).
pub type LstmSpec = RecurrentSpec<LstmCell>;

/// An LSTM built from given tensors (PyTorch's layout and gate order; see
/// [`Recurrent`]).
pub type Lstm = Recurrent<LstmCell>;

impl Gates for LstmCell {
    const KIND: ElementKind = ElementKind::Lstm;
    const GATES: usize = <LstmCell as Cell>::GATES;
    const ONNX: &'static str = "LSTM";
    /// PyTorch's i, f, g, o to ONNX's i, o, f, c.
    const ONNX_ORDER: &'static [usize] = &[0, 3, 1, 2];

    fn spec(spec: LstmSpec) -> ElementSpec {
        ElementSpec::Lstm(spec)
    }

    fn layer(layer: Lstm) -> Layer {
        Layer::Lstm(layer)
    }

    fn step(
        gi: &Tensor,
        gh: &Tensor,
        _h_prev: &Tensor,
        c: &mut Tensor,
        h: usize,
    ) -> candle_core::Result<Tensor> {
        let a = (gh + gi)?;
        let gate = |k: usize| a.narrow(1, k * h, h);
        let (ig, fg) = (sigmoid(&gate(0)?)?, sigmoid(&gate(1)?)?);
        let (gg, og) = (gate(2)?.tanh()?, sigmoid(&gate(3)?)?);
        *c = ((fg * &*c)? + (ig * gg)?)?;
        og * c.tanh()?
    }

    fn kernel(
        x: &Tensor,
        weights: [&Tensor; 4],
        then: Option<Then<'_>>,
    ) -> candle_core::Result<Tensor> {
        sequence::<Self>(x, weights, then)
    }
}
