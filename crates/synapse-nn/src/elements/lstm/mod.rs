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
//! Shapes, state and init: see `recurrent/mod.rs` (`G = 4`). ONNX: `LSTM`
//! with the gate blocks reordered to ONNX's i, o, f, c. Reference:
//! `synapse_reference::RefLstm`.
//!
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops below (the input products of every step as one product, then
//! the steps; autodiff differentiates them on any device), and the CPU
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

use std::fmt;

use candle_core::{Tensor, Var};

use super::def::{ElementDef, ElementOps, Emit, StateEntry, Take};
use super::recurrent;
use crate::export::{Export, Scope};
use crate::init::Draws;
use crate::spec::{Args, RowShape};
use crate::{ElementKind, ElementSpec, Init, Layer, Mode, Result};
use kernel::LstmCell;

/// The spec of an LSTM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LstmSpec {
    /// Input size IN.
    pub input: usize,
    /// Hidden size H.
    pub hidden: usize,
}

impl fmt::Display for LstmSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lstm({},{})", self.input, self.hidden)
    }
}

impl ElementDef for LstmSpec {
    fn kind(&self) -> ElementKind {
        ElementKind::Lstm
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let (input, hidden) = recurrent::parse_sizes(name, args)?;
        Ok(ElementSpec::Lstm(LstmSpec { input, hidden }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::new(vec![None, Some(self.input)]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        recurrent::output_shape("lstm", input, (self.input, self.hidden))
    }

    fn state(&self) -> Vec<StateEntry> {
        recurrent::state((self.input, self.hidden), 4)
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        recurrent::draw(init, draws, emit, (self.input, self.hidden), 4)
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let mut vars = Vec::with_capacity(4);
        for e in self.state() {
            vars.push(take(&e.name, &e.shape)?);
        }
        let [a, b, c, d]: [Var; 4] = vars.try_into().expect("four tensors");
        Ok(Layer::Lstm(Lstm::new(a, b, c, d)?))
    }
}

/// An LSTM built from given tensors (PyTorch's layout and gate order).
#[derive(Debug, Clone)]
pub struct Lstm {
    weight_ih: Var,
    weight_hh: Var,
    bias_ih: Var,
    bias_hh: Var,
}

impl Lstm {
    /// From `weight_ih [4H, IN]`, `weight_hh [4H, H]`, `bias_ih [4H]`, `bias_hh [4H]`.
    pub fn new(weight_ih: Var, weight_hh: Var, bias_ih: Var, bias_hh: Var) -> Result<Self> {
        recurrent::check("lstm", [&weight_ih, &weight_hh, &bias_ih, &bias_hh], 4)?;
        Ok(Self {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
        })
    }

    /// `(IN, H)`.
    pub fn sizes(&self) -> (usize, usize) {
        let d = self.weight_ih.dims();
        (d[1], d[0] / 4)
    }

    fn vars(&self) -> [&Var; 4] {
        [
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        ]
    }

    /// The output sequence.
    ///
    /// # Shapes
    /// `x` `[batch, T, IN]` to `[batch, T, H]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (i, h) = self.sizes();
        let (batch, t) = recurrent::check_input(&format!("lstm({i},{h})"), x, i)?;
        let mut tensors = vec![x];
        tensors.extend(self.vars().map(|v| v.as_tensor()));
        if crate::kernel::use_kernel(true, &tensors) {
            return Ok(recurrent::kernel::sequence::<LstmCell>(x, self.vars())?);
        }
        let xw = recurrent::project(x, &self.weight_ih, &self.bias_ih)?;
        let whh = self.weight_hh.t()?;
        let mut hs = Tensor::zeros((batch, h), x.dtype(), x.device())?;
        let mut cs = hs.clone();
        let mut ys = Vec::with_capacity(t);
        for s in 0..t {
            let a = (hs.matmul(&whh)?.broadcast_add(&self.bias_hh)?
                + xw.narrow(1, s, 1)?.squeeze(1)?)?;
            let gate = |k: usize| a.narrow(1, k * h, h);
            let (ig, fg) = (
                candle_nn::ops::sigmoid(&gate(0)?)?,
                candle_nn::ops::sigmoid(&gate(1)?)?,
            );
            let (gg, og) = (gate(2)?.tanh()?, candle_nn::ops::sigmoid(&gate(3)?)?);
            cs = ((fg * &cs)? + (ig * gg)?)?;
            hs = (og * cs.tanh()?)?;
            ys.push(hs.clone());
        }
        Ok(Tensor::stack(&ys, 1)?)
    }
}

impl ElementOps for Lstm {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Lstm::forward(self, x)
    }

    fn state(&self) -> Vec<(String, &Var)> {
        recurrent::NAMES
            .iter()
            .map(|n| n.to_string())
            .zip(self.vars())
            .collect()
    }

    fn spec(&self) -> ElementSpec {
        let (input, hidden) = self.sizes();
        ElementSpec::Lstm(LstmSpec { input, hidden })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        // PyTorch's i, f, g, o to ONNX's i, o, f, c.
        recurrent::export(
            scope,
            "LSTM",
            self.vars(),
            self.sizes().1,
            &[0, 3, 1, 2],
            vec![],
        )
    }
}
