//! One data-parallel optimizer step's communication: gradients packed into
//! one flat buffer, all-reduced once, unpacked.
//!
//! The buffer, in the model's float type, for P parameter tensors of
//! `N = sum_p numel(p)` elements and W ranks:
//!
//! ```text
//! [ g_0 ... g_{P-1} (N) | has_grad_0 ... has_grad_{P-1} (P) | loss (1) | failed_0 ... failed_{W-1} (W) ]
//! ```
//!
//! Rank r writes `(den_r / den) * grad L(B_r)` and `(den_r / den) * L(B_r)`,
//! 1 in `has_grad_p` when its backward reached parameter p, and 1 in
//! `failed_r` when its own part of the step failed; zeros elsewhere (an empty
//! slice writes nothing). After the sum every rank holds the global batch's
//! loss and gradients, knows which parameters got a gradient (so optimizers
//! skip the others, as in one process) and which rank failed, if any: a
//! failure on one rank ends the step on every rank, with no second message.

use std::rc::Rc;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use synapse_nn::{Loss, Sequential};

use super::{settle, slice_range, Collective, Flat};
use crate::metrics::scalar;
use crate::{Error, Result};

/// The flat buffer, in the model's float type.
enum Buffer {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Buffer {
    fn flat(&mut self, range: std::ops::Range<usize>) -> Flat<'_> {
        match self {
            Buffer::F32(v) => Flat::F32(&mut v[range]),
            Buffer::F64(v) => Flat::F64(&mut v[range]),
        }
    }

    fn get(&self, i: usize) -> f64 {
        match self {
            Buffer::F32(v) => f64::from(v[i]),
            Buffer::F64(v) => v[i],
        }
    }

    fn set(&mut self, i: usize, value: f64) {
        match self {
            Buffer::F32(v) => v[i] = value as f32,
            Buffer::F64(v) => v[i] = value,
        }
    }

    fn clear(&mut self) {
        match self {
            Buffer::F32(v) => v.fill(0.0),
            Buffer::F64(v) => v.fill(0.0),
        }
    }

    /// Writes `t * scale` (flattened) at `at`.
    fn write(&mut self, at: usize, t: &Tensor, scale: f64) -> Result<()> {
        match self {
            Buffer::F32(v) => {
                let src = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
                let s = scale as f32;
                for (d, x) in v[at..at + src.len()].iter_mut().zip(src) {
                    *d = if scale == 1.0 { x } else { x * s };
                }
            }
            Buffer::F64(v) => {
                let src = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
                for (d, x) in v[at..at + src.len()].iter_mut().zip(src) {
                    *d = if scale == 1.0 { x } else { x * scale };
                }
            }
        }
        Ok(())
    }

    /// The elements `at..at + numel` as a tensor shaped like `var`.
    fn read(&self, at: usize, var: &Var) -> Result<Tensor> {
        let (shape, dev) = (var.shape(), var.device());
        let n = shape.elem_count();
        Ok(match self {
            Buffer::F32(v) => Tensor::from_slice(&v[at..at + n], shape, dev)?,
            Buffer::F64(v) => Tensor::from_slice(&v[at..at + n], shape, dev)?,
        })
    }
}

/// `den_r / den`: rank r's share of the global batch's loss. The mean losses
/// divide by the rows (times the outputs, which cancel); `sse` is a sum;
/// cross-entropy with class weights divides by the sum of the targets'
/// weights (`CrossEntropyLoss(weight=)`), so the share is that of the slice
/// `range` of the batch `rows` of targets `y`.
fn share(
    loss: Loss,
    class_weights: Option<&[f64]>,
    rows: &[u32],
    range: &std::ops::Range<usize>,
    y: &Tensor,
) -> Result<f64> {
    Ok(match (loss, class_weights) {
        (Loss::Sse, _) => 1.0,
        (Loss::CrossEntropy, Some(w)) => {
            let idx = Tensor::new(rows, y.device())?;
            let classes = y
                .index_select(&idx, 0)?
                .flatten_all()?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?;
            let weight = |c: &f64| w.get(*c as usize).copied().unwrap_or(0.0);
            let den: f64 = classes.iter().map(weight).sum();
            let mine: f64 = classes[range.clone()].iter().map(weight).sum();
            // No weight in the whole batch: 0/0 on every rank, as in one process.
            if den == 0.0 {
                1.0
            } else {
                mine / den
            }
        }
        _ => range.len() as f64 / rows.len() as f64,
    })
}

/// A model's replica on one rank: its parameters and the step's buffer.
pub(crate) struct Replicas {
    c: Rc<dyn Collective>,
    params: Vec<(String, Var)>,
    /// Start of each parameter's gradient in the buffer.
    offsets: Vec<usize>,
    /// `N`, the number of parameter elements.
    numel: usize,
    buf: Buffer,
}

impl Replicas {
    pub fn new(c: Rc<dyn Collective>, net: &Sequential) -> Result<Self> {
        let params = net.parameters();
        let mut offsets = Vec::with_capacity(params.len());
        let mut numel = 0;
        for (_, v) in &params {
            offsets.push(numel);
            numel += v.elem_count();
        }
        let len = numel + params.len() + 1 + c.size();
        let buf = match net.dtype() {
            DType::F32 => Buffer::F32(vec![0.0; len]),
            DType::F64 => Buffer::F64(vec![0.0; len]),
            other => {
                return Err(Error::Collective {
                    reason: format!("cannot exchange {other:?} parameters, only f32 and f64"),
                })
            }
        };
        Ok(Self {
            c,
            params,
            offsets,
            numel,
            buf,
        })
    }

    pub fn collective(&self) -> &dyn Collective {
        &*self.c
    }

    /// Sets every rank's parameters to rank 0's.
    pub fn broadcast_weights(&mut self) -> Result<()> {
        for ((_, v), &at) in self.params.iter().zip(&self.offsets) {
            self.buf.write(at, v.as_tensor(), 1.0)?;
        }
        self.c.broadcast(self.buf.flat(0..self.numel))?;
        if self.c.rank() != 0 {
            for ((_, v), &at) in self.params.iter().zip(&self.offsets) {
                v.set(&self.buf.read(at, v)?)?;
            }
        }
        Ok(())
    }

    /// Fails unless every rank holds the same parameter bits: a 52-bit hash
    /// of them per rank, exchanged exactly as `f64`.
    pub fn check_identical(&self) -> Result<()> {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (_, v) in &self.params {
            let bits = v.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            for x in bits {
                for byte in x.to_bits().to_le_bytes() {
                    h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        let mut slots = vec![0.0; self.c.size()];
        slots[self.c.rank()] = (h & ((1 << 52) - 1)) as f64;
        self.c.all_reduce_sum(Flat::F64(&mut slots))?;
        match slots.iter().position(|&s| s != slots[0]) {
            None => Ok(()),
            Some(r) => Err(Error::Collective {
                reason: format!("rank {r} ended with other weights than rank 0"),
            }),
        }
    }

    /// One step's loss and gradients on the global batch `rows` of `(x, y)`
    /// (`whole`: the batch is all of `x` in order). `loss_of` gives the
    /// loss tensor of a slice. Returns the global loss, and the summed
    /// gradients unless that loss is NaN or infinite.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        loss: Loss,
        class_weights: Option<&[f64]>,
        rows: &[u32],
        (x, y): (&Tensor, &Tensor),
        whole: bool,
        loss_of: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<(f64, Option<GradStore>)> {
        let (rank, size) = (self.c.rank(), self.c.size());
        let n_params = self.params.len();
        let (at_loss, at_failed) = (self.numel + n_params, self.numel + n_params + 1);
        self.buf.clear();
        let range = slice_range(rows.len(), size, rank);
        let local = if range.is_empty() {
            Ok(())
        } else {
            // A slice whose targets weigh nothing contributes nothing.
            share(loss, class_weights, rows, &range, y).and_then(|scale| match scale {
                0.0 => Ok(()),
                _ => self.local_part(rows, range, (x, y), whole, scale, loss_of),
            })
        };
        if local.is_err() {
            self.buf.set(at_failed + rank, 1.0);
        }
        let len = at_failed + size;
        self.c.all_reduce_sum(self.buf.flat(0..len))?;
        let slots: Vec<f64> = (0..size).map(|r| self.buf.get(at_failed + r)).collect();
        settle(rank, &slots, local)?;
        let value = self.buf.get(at_loss);
        if !value.is_finite() {
            return Ok((value, None));
        }
        let mut grads = GradStore::default();
        for (i, ((_, v), &at)) in self.params.iter().zip(&self.offsets).enumerate() {
            if self.buf.get(self.numel + i) != 0.0 {
                grads.insert(v.as_tensor(), self.buf.read(at, v)?);
            }
        }
        Ok((value, Some(grads)))
    }

    /// This rank's slice: forward, loss, backward, written scaled into the buffer.
    fn local_part(
        &mut self,
        rows: &[u32],
        range: std::ops::Range<usize>,
        (x, y): (&Tensor, &Tensor),
        whole: bool,
        scale: f64,
        loss_of: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<()> {
        let (xs, ys) = if whole {
            (
                x.narrow(0, range.start, range.len())?,
                y.narrow(0, range.start, range.len())?,
            )
        } else {
            let idx = Tensor::new(&rows[range], x.device())?;
            (x.index_select(&idx, 0)?, y.index_select(&idx, 0)?)
        };
        let loss = loss_of(&xs, &ys)?;
        let value = scalar(&loss)?;
        let at_loss = self.numel + self.params.len();
        self.buf.set(at_loss, value * scale);
        if !value.is_finite() {
            return Ok(());
        }
        let grads = loss.backward()?;
        for (i, ((_, v), &at)) in self.params.iter().zip(&self.offsets).enumerate() {
            if let Some(g) = grads.get(v.as_tensor()) {
                self.buf.write(at, g, scale)?;
                self.buf.set(self.numel + i, 1.0);
            }
        }
        Ok(())
    }
}
