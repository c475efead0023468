//! Incremental decoding (SPEC section 12, "Generation"): a [`Decoder`] over
//! a built stack feeds only the new positions of a sequence and keeps, per
//! element, what the positions before them left ([`StepState`]).
//!
//! Each kind's step lives in its own module ([`crate::Layer::step`], a
//! trait method with a default):
//! - position-wise kinds (`embedding`, `linear`, the activations,
//!   `layernorm`, `rmsnorm`, `dropout` in evaluation) map the new positions;
//! - `positional` adds its rows at the absolute offset;
//! - `attention(...,causal=true)` appends its keys and values to a cache and
//!   attends the new queries over all of them (causal);
//! - `lstm` and `gru` carry their hidden (and cell) state;
//! - `residual` steps its inner elements; `last` takes the last new position.
//!
//! The rest cannot step and make [`Decoder::step`] answer `None` (the caller
//! then runs the full window): `attention` with `causal=false`, `seqmean`,
//! the batchnorms, `conv2d`, the pools, `reshape` and `flatten`.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use synapse_nn::{Decoder, Init, Mode, Sequential};
//! let spec = "embedding(5,8), positional(6,8), attention(8,2,causal=true), lstm(8,4), linear(4,5)".parse()?;
//! let net = Sequential::init(&spec, Init::Torch, 1, DType::F64, &Device::Cpu)?;
//! let ids = [1u32, 4, 2, 0, 3];
//! let mut dec = Decoder::new(&net);
//! let mut last = dec.step(&ids[..3])?.unwrap();
//! for &id in &ids[3..] {
//!     last = dec.step(&[id])?.unwrap();
//! }
//! let x = Tensor::new(&[[1i64, 4, 2, 0, 3]], &Device::Cpu)?;
//! let full = net.forward(&x, Mode::Eval)?.get(0)?.get(4)?;
//! let gap = (last - full)?.abs()?.max(0)?.to_scalar::<f64>()?;
//! assert!(gap < 1e-12, "{gap}");
//! assert_eq!(dec.position(), 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use candle_core::Tensor;

use crate::{Layer, Result, Sequential};

/// What one element kept from the positions it has seen: how many
/// (`position`, the absolute offset of the next), its tensors (attention's
/// keys and values, a recurrent layer's hidden and cell state) and the
/// states of a block's inner elements.
#[derive(Debug, Clone, Default)]
pub struct StepState {
    /// Positions seen so far.
    pub position: usize,
    /// The kind's cached tensors (empty before the first step). A step may
    /// write into them in place (attention's cache): a clone of the state
    /// shares them, so one state serves one sequence.
    pub tensors: Vec<Tensor>,
    /// One state per inner element (`residual`).
    pub inner: Vec<StepState>,
}

/// Steps every layer of `layers` over `x` with one state each (grown on
/// the first call); `None` as soon as one cannot step.
pub(crate) fn step_chain(
    layers: &[Layer],
    x: &Tensor,
    states: &mut Vec<StepState>,
) -> Result<Option<Tensor>> {
    if states.len() != layers.len() {
        *states = vec![StepState::default(); layers.len()];
    }
    let mut x = x.clone();
    for (layer, state) in layers.iter().zip(states.iter_mut()) {
        match layer.step(&x, state)? {
            Some(y) => x = y,
            None => return Ok(None),
        }
    }
    Ok(Some(x))
}

/// Incremental decoding over a built stack (see the module doc).
#[derive(Debug)]
pub struct Decoder<'a> {
    net: &'a Sequential,
    states: Vec<StepState>,
    position: usize,
}

impl<'a> Decoder<'a> {
    /// An empty cache for `net` (a stack whose first element takes ids).
    pub fn new(net: &'a Sequential) -> Self {
        Self {
            net,
            states: Vec::new(),
            position: 0,
        }
    }

    /// Positions fed so far.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Feeds the new ids `ids` (after those fed before) and gives the
    /// scores at the last of them (`[V]`, the stack's dtype), or `None` when
    /// an element cannot step (the decoder is then spent: run the full
    /// window instead).
    pub fn step(&mut self, ids: &[u32]) -> Result<Option<Tensor>> {
        if ids.is_empty() {
            return Err(crate::Error::input(
                "decoder",
                "a step needs at least one new id",
            ));
        }
        let values: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        let x = Tensor::from_vec(values, (1, ids.len()), self.net.device())?;
        let x = if self.net.takes_ids() {
            x
        } else {
            x.to_dtype(self.net.dtype())?
        };
        let layers = self.net.layers();
        if self.states.len() != layers.len() {
            self.states = vec![StepState::default(); layers.len()];
        }
        // The elements after the last one that looks across positions see
        // only the last position: the scores are asked of it alone, and a
        // prompt's head would otherwise make [n, V] of them (GPT-2: 50257
        // per position).
        let tail = layers
            .iter()
            .rev()
            .take_while(|l| l.maps_positions())
            .count();
        let mut y = x;
        for (i, (layer, state)) in layers.iter().zip(self.states.iter_mut()).enumerate() {
            let n = y.dims().get(1).copied().unwrap_or(1);
            // mutants: `n >= 1` is equivalent: one position narrowed to
            // itself is the same tensor.
            if i == layers.len() - tail && y.rank() >= 2 && n > 1 {
                y = y.narrow(1, n - 1, 1)?;
            }
            match layer.step(&y, state)? {
                Some(next) => y = next,
                None => return Ok(None),
            }
        }
        self.position += ids.len();
        let y = match y.rank() {
            3 => {
                let n = y.dim(1)?;
                y.get(0)?.get(n - 1)?
            }
            _ => y.flatten_all()?,
        };
        Ok(Some(y))
    }
}

/// The additive causal mask of `queries` new positions starting at
/// `offset` over `keys` keys: `-inf` where a key comes after the query.
pub(crate) fn causal_mask(
    queries: usize,
    offset: usize,
    keys: usize,
    like: &Tensor,
) -> Result<Tensor> {
    let values: Vec<f64> = (0..queries * keys)
        .map(|k| {
            if k % keys > offset + k / keys {
                f64::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    Ok(Tensor::from_vec(values, (queries, keys), like.device())?.to_dtype(like.dtype())?)
}
