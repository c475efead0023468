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
//! Shapes, state and init: see `recurrent/mod.rs` (`G = 3`). ONNX: `GRU`
//! with `linear_before_reset=1` (PyTorch's form), the gate blocks reordered
//! to ONNX's z, r, h. Reference: `synapse_reference::RefGru`.
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

use std::fmt;

use candle_core::{Tensor, Var};

use super::def::{ElementDef, ElementOps, Emit, StateEntry, Take};
use super::recurrent;
use crate::export::{Attribute, Export, Scope};
use crate::init::Draws;
use crate::spec::{Args, RowShape};
use crate::{ElementKind, ElementSpec, Init, Layer, Mode, Result};
use kernel::GruCell;

/// The spec of a GRU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GruSpec {
    /// Input size IN.
    pub input: usize,
    /// Hidden size H.
    pub hidden: usize,
}

impl fmt::Display for GruSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gru({},{})", self.input, self.hidden)
    }
}

impl ElementDef for GruSpec {
    fn kind(&self) -> ElementKind {
        ElementKind::Gru
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let (input, hidden) = recurrent::parse_sizes(name, args)?;
        Ok(ElementSpec::Gru(GruSpec { input, hidden }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::new(vec![None, Some(self.input)]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        recurrent::output_shape("gru", input, (self.input, self.hidden))
    }

    fn state(&self) -> Vec<StateEntry> {
        recurrent::state((self.input, self.hidden), 3)
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        recurrent::draw(init, draws, emit, (self.input, self.hidden), 3)
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let mut vars = Vec::with_capacity(4);
        for e in self.state() {
            vars.push(take(&e.name, &e.shape)?);
        }
        let [a, b, c, d]: [Var; 4] = vars.try_into().expect("four tensors");
        Ok(Layer::Gru(Gru::new(a, b, c, d)?))
    }
}

/// A GRU built from given tensors (PyTorch's layout and gate order).
#[derive(Debug, Clone)]
pub struct Gru {
    weight_ih: Var,
    weight_hh: Var,
    bias_ih: Var,
    bias_hh: Var,
}

impl Gru {
    /// From `weight_ih [3H, IN]`, `weight_hh [3H, H]`, `bias_ih [3H]`, `bias_hh [3H]`.
    pub fn new(weight_ih: Var, weight_hh: Var, bias_ih: Var, bias_hh: Var) -> Result<Self> {
        recurrent::check("gru", [&weight_ih, &weight_hh, &bias_ih, &bias_hh], 3)?;
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
        (d[1], d[0] / 3)
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
        let (batch, t) = recurrent::check_input(&format!("gru({i},{h})"), x, i)?;
        let mut tensors = vec![x];
        tensors.extend(self.vars().map(|v| v.as_tensor()));
        if crate::kernel::use_kernel(true, &tensors) {
            return Ok(recurrent::kernel::sequence::<GruCell>(x, self.vars())?);
        }
        let xw = recurrent::project(x, &self.weight_ih, &self.bias_ih)?;
        let whh = self.weight_hh.t()?;
        let mut hs = Tensor::zeros((batch, h), x.dtype(), x.device())?;
        let mut ys = Vec::with_capacity(t);
        for s in 0..t {
            let gi = xw.narrow(1, s, 1)?.squeeze(1)?;
            let gh = hs.matmul(&whh)?.broadcast_add(&self.bias_hh)?;
            let (i_, h_) = (
                |k: usize| gi.narrow(1, k * h, h),
                |k: usize| gh.narrow(1, k * h, h),
            );
            let r = candle_nn::ops::sigmoid(&(h_(0)? + i_(0)?)?)?;
            let z = candle_nn::ops::sigmoid(&(h_(1)? + i_(1)?)?)?;
            let n = (i_(2)? + (h_(2)? * r)?)?.tanh()?;
            hs = (((&hs - &n)? * z)? + n)?;
            ys.push(hs.clone());
        }
        Ok(Tensor::stack(&ys, 1)?)
    }
}

impl ElementOps for Gru {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Gru::forward(self, x)
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
        ElementSpec::Gru(GruSpec { input, hidden })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        // PyTorch's r, z, n to ONNX's z, r, h; PyTorch applies r after the
        // hidden product (`linear_before_reset`).
        let before_reset = vec![Attribute::int("linear_before_reset", 1)];
        recurrent::export(
            scope,
            "GRU",
            self.vars(),
            self.sizes().1,
            &[1, 0, 2],
            before_reset,
        )
    }
}
