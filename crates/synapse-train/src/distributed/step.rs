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
//!
//! One process ([`crate::distributed::Solo`], `size() == 1`) takes the same
//! [`Replicas::step`] without the buffer: its slice is the whole batch, so
//! the step is the plain one (forward, loss, backward), with no copy of the
//! gradients and no buffer of the size of the model.

use std::rc::Rc;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use synapse_nn::{Loss, Sequential};

use super::{settle, slice_range, Collective, Flat};
use crate::metrics::scalar;
use crate::{Error, Result, Rows};

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
/// cross-entropy divides by the sum of the counted targets' weights (1 each
/// without class weights, `CrossEntropyLoss(weight=)` with them; a `-100`
/// target counts 0), so the share is that of the slice `range` of the batch
/// whose targets are `y`: with ignored positions it is not the slice's share
/// of the rows.
fn share(
    loss: Loss,
    class_weights: Option<&[f64]>,
    rows: usize,
    range: &std::ops::Range<usize>,
    y: impl FnOnce() -> Result<Tensor>,
) -> Result<f64> {
    Ok(match loss {
        Loss::Sse => 1.0,
        Loss::CrossEntropy => {
            let classes = y()?.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let weight = |c: &f64| match class_weights {
                _ if *c < 0.0 => 0.0,
                Some(w) => w.get(*c as usize).copied().unwrap_or(0.0),
                None => 1.0,
            };
            let den: f64 = classes.iter().map(weight).sum();
            let per_row = classes.len() / rows.max(1);
            let mine: f64 = classes[range.start * per_row..range.end * per_row]
                .iter()
                .map(weight)
                .sum();
            // Nothing counted in the whole batch: 0/0 on every rank, as in one process.
            if den == 0.0 {
                1.0
            } else {
                mine / den
            }
        }
        _ => range.len() as f64 / rows as f64,
    })
}

/// A model's replica on one rank: its parameters and the step's buffer
/// (none for one process).
pub(crate) struct Replicas {
    c: Rc<dyn Collective>,
    params: Vec<(String, Var)>,
    /// Start of each parameter's gradient in the buffer.
    offsets: Vec<usize>,
    /// `N`, the number of parameter elements.
    numel: usize,
    buf: Option<Buffer>,
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
        let buf = match (c.size(), net.dtype()) {
            (1, _) => None,
            (_, DType::F32) => Some(Buffer::F32(vec![0.0; len])),
            (_, DType::F64) => Some(Buffer::F64(vec![0.0; len])),
            (_, other) => {
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

    /// Sets every rank's parameters to rank 0's (nothing for one process).
    pub fn broadcast_weights(&mut self) -> Result<()> {
        let Some(buf) = self.buf.as_mut() else {
            return Ok(());
        };
        for ((_, v), &at) in self.params.iter().zip(&self.offsets) {
            buf.write(at, v.as_tensor(), 1.0)?;
        }
        self.c.broadcast(buf.flat(0..self.numel))?;
        if self.c.rank() != 0 {
            for ((_, v), &at) in self.params.iter().zip(&self.offsets) {
                v.set(&buf.read(at, v)?)?;
            }
        }
        Ok(())
    }

    /// Fails unless every rank holds the same parameter bits: a 52-bit hash
    /// of them per rank, exchanged exactly as `f64` (nothing for one process).
    pub fn check_identical(&self) -> Result<()> {
        if self.c.size() == 1 {
            return Ok(());
        }
        let mut h = FNV_OFFSET;
        for (_, v) in &self.params {
            let bits = v.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            for x in bits {
                h = fnv1a(h, &x.to_bits().to_le_bytes());
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

    /// One step's loss and gradients on the global batch `rows` of `data`
    /// (`whole`: the batch is every row in order). `loss_of` gives the loss
    /// tensor of a slice's `(x, y)`. Returns the global loss, and the summed
    /// gradients unless that loss is NaN or infinite.
    #[allow(clippy::too_many_arguments)]
    pub fn step<R: Rows + ?Sized>(
        &mut self,
        loss: Loss,
        class_weights: Option<&[f64]>,
        rows: &[u32],
        data: &R,
        whole: bool,
        loss_of: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<(f64, Option<GradStore>)> {
        let slice = |range: std::ops::Range<usize>| {
            if whole {
                data.range(range.start, range.len())
            } else {
                data.batch(&rows[range])
            }
        };
        let Some(mut buf) = self.buf.take() else {
            // One process: the plain step on the whole batch.
            let (x, y) = slice(0..rows.len())?;
            let loss = loss_of(&x, &y)?;
            let value = scalar(&loss)?;
            let grads = value
                .is_finite()
                .then(|| synapse_nn::backward(&loss))
                .transpose()?;
            return Ok((value, grads));
        };
        let targets = || data.targets(rows);
        let result = self.exchange(
            &mut buf,
            loss,
            class_weights,
            rows,
            (slice, targets),
            loss_of,
        );
        self.buf = Some(buf);
        result
    }

    /// [`Replicas::step`] on W ranks: this rank's slice into the buffer, one
    /// all-reduce, the sums out of it.
    fn exchange(
        &self,
        buf: &mut Buffer,
        loss: Loss,
        class_weights: Option<&[f64]>,
        rows: &[u32],
        (slice, targets): (
            impl Fn(std::ops::Range<usize>) -> Result<(Tensor, Tensor)>,
            impl FnOnce() -> Result<Tensor>,
        ),
        loss_of: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<(f64, Option<GradStore>)> {
        let (rank, size) = (self.c.rank(), self.c.size());
        let n_params = self.params.len();
        let (at_loss, at_failed) = (self.numel + n_params, self.numel + n_params + 1);
        buf.clear();
        let range = slice_range(rows.len(), size, rank);
        let local = if range.is_empty() {
            Ok(())
        } else {
            // A slice whose targets weigh nothing contributes nothing.
            share(loss, class_weights, rows.len(), &range, targets).and_then(|scale| match scale {
                0.0 => Ok(()),
                _ => self.local_part(buf, slice(range)?, scale, loss_of),
            })
        };
        if local.is_err() {
            buf.set(at_failed + rank, 1.0);
        }
        let len = at_failed + size;
        self.c.all_reduce_sum(buf.flat(0..len))?;
        let slots: Vec<f64> = (0..size).map(|r| buf.get(at_failed + r)).collect();
        settle(rank, &slots, local)?;
        let value = buf.get(at_loss);
        if !value.is_finite() {
            return Ok((value, None));
        }
        let mut grads = GradStore::default();
        for (i, ((_, v), &at)) in self.params.iter().zip(&self.offsets).enumerate() {
            if buf.get(self.numel + i) != 0.0 {
                grads.insert(v.as_tensor(), buf.read(at, v)?);
            }
        }
        Ok((value, Some(grads)))
    }

    /// This rank's slice: forward, loss, backward, written scaled into the buffer.
    fn local_part(
        &self,
        buf: &mut Buffer,
        (xs, ys): (Tensor, Tensor),
        scale: f64,
        loss_of: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<()> {
        let loss = loss_of(&xs, &ys)?;
        let value = scalar(&loss)?;
        let at_loss = self.numel + self.params.len();
        buf.set(at_loss, value * scale);
        if !value.is_finite() {
            return Ok(());
        }
        let grads = synapse_nn::backward(&loss)?;
        for (i, ((_, v), &at)) in self.params.iter().zip(&self.offsets).enumerate() {
            if let Some(g) = grads.get(v.as_tensor()) {
                buf.write(at, g, scale)?;
                buf.set(self.numel + i, 1.0);
            }
        }
        Ok(())
    }
}

/// FNV-1a's 64-bit offset basis: the hash of no bytes.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a (64 bits) of `bytes`, continuing from `h`: `check_identical`'s
/// hash of the parameter bits.
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use candle_core::{DType, Device};
    use synapse_nn::{Init, Sequential};

    use super::{fnv1a, Replicas, FNV_OFFSET};
    use crate::distributed::{Collective, Flat};

    /// Rank 0 of two whose peer's parameter hash is rank 0's plus `shift`
    /// (0: the same weights).
    struct Peer {
        shift: f64,
    }

    impl Collective for Peer {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            2
        }
        fn all_reduce_sum(&self, buf: Flat<'_>) -> crate::Result<()> {
            if let Flat::F64(b) = buf {
                b[1] += b[0] + self.shift;
            }
            Ok(())
        }
        fn broadcast(&self, _buf: Flat<'_>) -> crate::Result<()> {
            Ok(())
        }
    }

    /// Two ranks with the same weights pass; a peer with others is named.
    #[test]
    fn ranks_with_other_weights_are_found() {
        let spec = "linear(2,3)".parse().unwrap();
        let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
        let same = Replicas::new(Rc::new(Peer { shift: 0.0 }), &net).unwrap();
        same.check_identical().unwrap();
        let other = Replicas::new(Rc::new(Peer { shift: 1.0 }), &net).unwrap();
        let e = other.check_identical().unwrap_err().to_string();
        assert!(
            e.contains("rank 1 ended with other weights than rank 0"),
            "{e}"
        );
    }

    /// The published FNV-1a 64-bit test vectors (Fowler, Noll and Vo's
    /// test suite): "" 0xcbf29ce484222325, "a" 0xaf63dc4c8601ec8c,
    /// "foobar" 0x85944171f73967e8; and bytes fed in two calls hash as one.
    #[test]
    fn the_parameter_hash_is_fnv1a() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(
            fnv1a(fnv1a(FNV_OFFSET, b"foo"), b"bar"),
            0x8594_4171_f739_67e8
        );
    }
}
