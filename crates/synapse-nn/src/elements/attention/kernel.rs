//! The CPU kernel of attention's core, between the two projections: from
//! the packed `qkv = x W_in^T + b_in` to the heads' outputs, one pass per
//! (batch, head), with its hand-written backward. Flash-style: scores are
//! made, masked, exponentiated and multiplied by `V` one tile of `BLOCK x
//! BLOCK` at a time, with a running row maximum `m` and sum `l` (the online
//! softmax), so no `[T, T]` matrix is ever stored; the forward keeps only
//! each row's log-sum-exp `lse = m + ln l` for the backward, which makes
//! each tile of `P` again from `Q`, `K` and `lse`.
//!
//! ```text
//! S = Q K^T / sqrt(dh)   (-inf where key j > query i when causal)
//! P = softmax_rows(S) = exp(S - lse)       O = P V
//! D_i = sum_c dO[i,c] O[i,c]   (= rowsum(dP o P))
//! dV = P^T dO    dP = dO V^T    dS = P o (dP - D)
//! dQ = dS K / sqrt(dh)          dK = dS^T Q / sqrt(dh)
//! ```
//! Shapes: `qkv` `[batch, T, 3D]` (q, k, v side by side, head `h` taking
//! columns `h dh .. (h+1) dh` of each), `O` `[batch, T, D]` (the heads
//! side by side, ready for the output projection), `dO` like `O`, `dqkv`
//! like `qkv`. `D = heads * dh`.
//!
//! The batch items are split over threads in fixed parts
//! (`kernel/parallel.rs`), each part writing its items' rows of the output
//! in place; the heads of an item run in order on one thread, each through
//! small scratch tiles. Every (batch, head) pair is computed by one thread
//! in one fixed order, so the bits do not depend on the thread count. (Parts
//! of (batch, head) pairs would feed more threads than the batch has items,
//! but a part's heads would then interleave with its neighbours' columns
//! and need a copy of the whole output: a fifth of the kernel's time at the
//! gpt bench's batch of 32, which has more items than threads.)
//!
//! With dropout (training, `attention(...,dropout=P)`), the weights that
//! multiply `V` are `P~ = M o P`, `M` the mask of `[batch, heads, T, T]`
//! drawn before the forward, in that row-major order, from the stack's
//! generator (`scale = 1/(1-P)` where kept, else 0: the masks of the plain
//! path, value for value). The row sums of the online softmax stay those of
//! the undropped `P`; the backward becomes
//!
//! ```text
//! O = P~ V     dV = P~^T dO     dP = M o (dO V^T)     dS = P o (dP - D)
//! ```
//!
//! with `D_i = sum_j P_ij dP_ij = sum_c dO[i,c] O[i,c]` as before. The mask
//! is kept, one byte a weight, for the backward.
//!
//! Storing `P` instead of `lse` (tried for T <= 64: 2 MiB a layer at the
//! gpt bench's batch of 32, written by the forward, read by the backward)
//! measured no faster than making it again: a median of 2.21 s of CPU
//! against 2.20 s for the whole bench epoch, five runs each. Making it
//! again costs one `T x T x dh` product, a fifth of the backward's, and
//! its exponentials; storing it costs the memory and its traffic.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};

use crate::kernel::gemm::gemm_block;
use crate::kernel::parallel::map_part_slices;
use crate::kernel::storage::{contiguous, with_float, Real};
use crate::kernel::view::View;

/// Queries (and keys) per tile: the scores of a tile fit in L1.
const BLOCK: usize = 64;

/// Dropout's mask over the attention weights of a call: `keep` for
/// `[batch, heads, T, T]` in row-major order, and the scale of a kept
/// weight, `1/(1-P)`.
pub(super) struct DropMask {
    pub(super) keep: Vec<bool>,
    pub(super) scale: f64,
}

/// The mask of one (batch, head) pair, `[T, T]`, with the scale as `T`.
#[derive(Clone, Copy)]
struct ItemMask<'a, T> {
    keep: &'a [bool],
    scale: T,
    t: usize,
}

impl<T: Real> ItemMask<'_, T> {
    /// The mask's values for query `i`, keys `j0 .. j0 + n`.
    fn row(&self, i: usize, j0: usize, n: usize) -> impl Iterator<Item = T> + '_ {
        let at = i * self.t + j0;
        self.keep[at..at + n]
            .iter()
            .map(|&k| if k { self.scale } else { T::zero() })
    }
}

/// The sizes of one call.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    t: usize,
    heads: usize,
    dh: usize,
    causal: bool,
}

impl Geometry {
    /// From the layout of `qkv` `[batch, T, 3D]`.
    fn of(l: &Layout, heads: usize, causal: bool) -> Result<Self> {
        match *l.dims() {
            [batch, t, d3] if heads > 0 && d3 % (3 * heads) == 0 => Ok(Self {
                batch,
                t,
                heads,
                dh: d3 / (3 * heads),
                causal,
            }),
            ref d => candle_core::bail!("attention: qkv {d:?} is not [batch, T, 3 x {heads} x dh]"),
        }
    }

    /// Model width D.
    fn d(&self) -> usize {
        self.heads * self.dh
    }

    /// The flops of the forward over all (batch, head) pairs (two `T x T x dh` products,
    /// half of them masked away when causal), to size the split. (Each
    /// (batch, head) pair is one part's whatever the split, so the estimate
    /// changes no bit: cargo-mutants' equivalents.)
    fn work(&self) -> usize {
        let per = 4 * self.t * self.t * self.dh;
        self.batch * self.heads * if self.causal { per / 2 } else { per }
    }

    /// Keys visible to query `i` among keys `j0 .. j0 + bk`.
    fn visible(&self, i: usize, j0: usize, bk: usize) -> usize {
        if self.causal {
            (i + 1).saturating_sub(j0).min(bk)
        } else {
            bk
        }
    }

    /// The view of head `h`'s `[T, dh]` block at column `col` of batch
    /// item `b` in a `[batch, T, width]` buffer.
    fn head<'a, T: Real>(
        &self,
        data: &'a [T],
        width: usize,
        (b, h): (usize, usize),
        col: usize,
    ) -> Result<View<'a, T>> {
        let start = b * self.t * width + col + h * self.dh;
        let Some(data) = data.get(start..) else {
            candle_core::bail!("attention: item ({b}, {h}) past the buffer");
        };
        View::checked(data, self.t, self.dh, width, 1)
    }

    /// Copies a head's `[T, dh]` rows into columns `col + h dh ..` of one
    /// batch item's `[T, width]` rows.
    fn place<T: Real>(&self, src: &[T], dst: &mut [T], width: usize, col: usize) {
        for (i, row) in src.chunks(self.dh).enumerate() {
            let at = i * width + col;
            dst[at..at + self.dh].copy_from_slice(row);
        }
    }

    /// Pair `(b, h)`'s part of `drop`, if any.
    fn mask<'a, T: Real>(
        &self,
        drop: Option<&'a DropMask>,
        (b, h): (usize, usize),
    ) -> Option<ItemMask<'a, T>> {
        drop.map(|d| {
            let at = (b * self.heads + h) * self.t * self.t;
            ItemMask {
                keep: &d.keep[at..at + self.t * self.t],
                scale: T::from_f64(d.scale),
                t: self.t,
            }
        })
    }

    /// Checks that `drop` covers every (batch, head) pair's `[T, T]`.
    fn check_mask(&self, drop: Option<&DropMask>) -> Result<()> {
        match drop {
            Some(d) if d.keep.len() != self.batch * self.heads * self.t * self.t => {
                candle_core::bail!(
                    "attention: a dropout mask of {} for [{}, {}, {t}, {t}]",
                    d.keep.len(),
                    self.batch,
                    self.heads,
                    t = self.t
                )
            }
            _ => Ok(()),
        }
    }
}

/// Head `(b, h)`'s forward: `o` `[T, dh]` and `lse` `[T]`; `s` is a
/// `BLOCK x BLOCK` scratch tile, `m` and `l` `BLOCK` scratch rows; `mask`
/// the pair's dropout mask, if any.
fn forward_item<T: Real>(
    g: &Geometry,
    (q, k, v): (View<T>, View<T>, View<T>),
    (o, lse): (&mut [T], &mut [T]),
    (s, m, l): (&mut [T], &mut [T], &mut [T]),
    mask: Option<ItemMask<T>>,
) {
    let (t, dh) = (g.t, g.dh);
    let scale = T::from_f64(1.0 / (dh as f64).sqrt());
    o.fill(T::zero());
    for i0 in (0..t).step_by(BLOCK) {
        let bq = BLOCK.min(t - i0);
        let qb = q.row_range(i0, bq);
        let ob = &mut o[i0 * dh..(i0 + bq) * dh];
        m[..bq].fill(T::neg_infinity());
        l[..bq].fill(T::zero());
        let keys = if g.causal { i0 + bq } else { t };
        for j0 in (0..keys).step_by(BLOCK) {
            let bk = BLOCK.min(keys - j0);
            let tile = &mut s[..bq * bk];
            gemm_block(tile, bk, (qb, k.row_range(j0, bk).t()), scale, false);
            for (r, row) in tile.chunks_mut(bk).enumerate() {
                let seen = g.visible(i0 + r, j0, bk);
                let (live, hidden) = row.split_at_mut(seen);
                hidden.fill(T::zero());
                if live.is_empty() {
                    continue;
                }
                let max = live.iter().fold(m[r], |a, &b| a.max(b));
                let sum = T::exp_shifted(live, max);
                if j0 > 0 {
                    // Rescale what earlier key tiles added to this row.
                    let c = (m[r] - max).exp();
                    l[r] = l[r] * c;
                    ob[r * dh..(r + 1) * dh]
                        .iter_mut()
                        .for_each(|x| *x = *x * c);
                }
                l[r] += sum;
                m[r] = max;
            }
            if let Some(mask) = mask {
                for (r, row) in tile.chunks_mut(bk).enumerate() {
                    row.iter_mut()
                        .zip(mask.row(i0 + r, j0, bk))
                        .for_each(|(x, w)| *x = *x * w);
                }
            }
            let p = View::row_major(tile, bq, bk);
            gemm_block(ob, dh, (p, v.row_range(j0, bk)), T::one(), true);
        }
        for r in 0..bq {
            let inv = l[r].recip();
            ob[r * dh..(r + 1) * dh]
                .iter_mut()
                .for_each(|x| *x = *x * inv);
            lse[i0 + r] = m[r] + l[r].ln();
        }
    }
}

/// Head `(b, h)`'s backward into `grads` `[3, T, dh]` (dQ, dK, dV), from
/// `o`, `d_o` and `lse`; `p`, `pd`, `dp` are `BLOCK x BLOCK` scratch tiles
/// and `dsum` a `[T]` scratch row; `mask` the pair's dropout mask, if any.
#[allow(clippy::too_many_arguments)]
fn backward_item<T: Real>(
    g: &Geometry,
    (q, k, v): (View<T>, View<T>, View<T>),
    (o, d_o): (View<T>, View<T>),
    lse: &[T],
    grads: &mut [T],
    (p, pd, dp, dsum): (&mut [T], &mut [T], &mut [T], &mut [T]),
    mask: Option<ItemMask<T>>,
) {
    let (t, dh) = (g.t, g.dh);
    let scale = T::from_f64(1.0 / (dh as f64).sqrt());
    grads.fill(T::zero());
    let (dq, rest) = grads.split_at_mut(t * dh);
    let (dk, dv) = rest.split_at_mut(t * dh);
    for (i, d) in dsum.iter_mut().enumerate() {
        *d = (0..dh).fold(T::zero(), |a, c| a + d_o.at(i, c) * o.at(i, c));
    }
    for j0 in (0..t).step_by(BLOCK) {
        let bk = BLOCK.min(t - j0);
        let (kb, vb) = (k.row_range(j0, bk), v.row_range(j0, bk));
        // Causal: only query tiles at or after this key tile see it.
        let first = if g.causal { j0 } else { 0 };
        for i0 in (first..t).step_by(BLOCK) {
            let bq = BLOCK.min(t - i0);
            let (qb, dob) = (q.row_range(i0, bq), d_o.row_range(i0, bq));
            let pt = &mut p[..bq * bk];
            gemm_block(pt, bk, (qb, kb.t()), scale, false);
            for (r, row) in pt.chunks_mut(bk).enumerate() {
                let seen = g.visible(i0 + r, j0, bk);
                let (live, hidden) = row.split_at_mut(seen);
                T::exp_shifted(live, lse[i0 + r]);
                hidden.fill(T::zero());
            }
            let dpt = &mut dp[..bq * bk];
            gemm_block(dpt, bk, (dob, vb.t()), T::one(), false);
            match mask {
                None => {
                    let pv = View::row_major(pt, bq, bk);
                    gemm_block(&mut dv[j0 * dh..], dh, (pv.t(), dob), T::one(), true);
                    for (r, (ds, pr)) in dpt.chunks_mut(bk).zip(pt.chunks(bk)).enumerate() {
                        let d = dsum[i0 + r];
                        ds.iter_mut()
                            .zip(pr)
                            .for_each(|(x, &pp)| *x = pp * (*x - d));
                    }
                }
                Some(mask) => {
                    // P~ = M o P for dV; dS = P o (M o dP~ - D).
                    let pdt = &mut pd[..bq * bk];
                    for (r, ((ds, pr), dr)) in dpt
                        .chunks_mut(bk)
                        .zip(pt.chunks(bk))
                        .zip(pdt.chunks_mut(bk))
                        .enumerate()
                    {
                        let d = dsum[i0 + r];
                        for (((x, &pp), y), w) in
                            ds.iter_mut().zip(pr).zip(dr).zip(mask.row(i0 + r, j0, bk))
                        {
                            *y = pp * w;
                            *x = pp * (w * *x - d);
                        }
                    }
                    let pv = View::row_major(pdt, bq, bk);
                    gemm_block(&mut dv[j0 * dh..], dh, (pv.t(), dob), T::one(), true);
                }
            }
            let ds = View::row_major(dpt, bq, bk);
            gemm_block(&mut dq[i0 * dh..], dh, (ds, kb), scale, true);
            gemm_block(&mut dk[j0 * dh..], dh, (ds.t(), qb), scale, true);
        }
    }
}

/// The forward op: `qkv` to `O`, keeping `lse` `[batch, heads, T]` for the
/// backward (no graph node holds it).
pub(super) struct Attend {
    heads: usize,
    causal: bool,
    lse: Mutex<Option<CpuStorage>>,
    drop: Option<DropMask>,
}

impl Attend {
    fn run<T: Real>(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call("attention");
        let g = Geometry::of(l, self.heads, self.causal)?;
        g.check_mask(self.drop.as_ref())?;
        let qkv = contiguous::<T>(s, l, "attention qkv")?;
        let (t, dh, d) = (g.t, g.dh, g.d());
        let mut o = vec![T::zero(); g.batch * t * d];
        let parts = map_part_slices(&mut o, t * d, g.work(), |items, out| -> Result<Vec<T>> {
            let mut lse = vec![T::zero(); items.len() * g.heads * t];
            let mut oh = vec![T::zero(); t * dh];
            let mut s = vec![T::zero(); BLOCK * BLOCK];
            let (mut m, mut l) = (vec![T::zero(); BLOCK], vec![T::zero(); BLOCK]);
            for (n, b) in items.enumerate() {
                for h in 0..g.heads {
                    let qkv_views = (
                        g.head(qkv, 3 * d, (b, h), 0)?,
                        g.head(qkv, 3 * d, (b, h), d)?,
                        g.head(qkv, 3 * d, (b, h), 2 * d)?,
                    );
                    let at = (n * g.heads + h) * t;
                    forward_item(
                        &g,
                        qkv_views,
                        (&mut oh, &mut lse[at..at + t]),
                        (&mut s, &mut m, &mut l),
                        g.mask(self.drop.as_ref(), (b, h)),
                    );
                    g.place(&oh, &mut out[n * t * d..(n + 1) * t * d], d, h * dh);
                }
            }
            Ok(lse)
        });
        let lse = parts.into_iter().collect::<Result<Vec<_>>>()?.concat();
        *self.lse.lock().expect("attention lse lock") = Some(T::storage(lse));
        Ok((T::storage(o), Shape::from((g.batch, t, d))))
    }
}

impl CustomOp1 for Attend {
    fn name(&self) -> &'static str {
        "synapse-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        with_float!(s, "attention", T => self.run::<T>(s, l))
    }

    fn bwd(&self, qkv: &Tensor, o: &Tensor, d_o: &Tensor) -> Result<Option<Tensor>> {
        let kept = self.lse.lock().expect("attention lse lock");
        let Some(lse) = kept.as_ref() else {
            candle_core::bail!("attention backward: the forward kept no lse");
        };
        let grad = AttendGrad {
            heads: self.heads,
            causal: self.causal,
            lse,
            drop: self.drop.as_ref(),
        };
        Ok(Some(qkv.apply_op3_no_bwd(o, &d_o.contiguous()?, &grad)?))
    }
}

/// The backward op: `(qkv, O, dO)` to `dqkv`, with the forward's `lse`.
struct AttendGrad<'a> {
    heads: usize,
    causal: bool,
    lse: &'a CpuStorage,
    drop: Option<&'a DropMask>,
}

impl AttendGrad<'_> {
    fn run<T: Real>(
        &self,
        (s1, l1): (&CpuStorage, &Layout),
        (s2, l2): (&CpuStorage, &Layout),
        (s3, l3): (&CpuStorage, &Layout),
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::of(l1, self.heads, self.causal)?;
        g.check_mask(self.drop)?;
        let (t, dh, d) = (g.t, g.dh, g.d());
        if l2.dims() != [g.batch, t, d] || l3.dims() != [g.batch, t, d] {
            candle_core::bail!(
                "attention backward: O {:?}, dO {:?}, expected [{}, {t}, {d}]",
                l2.dims(),
                l3.dims(),
                g.batch
            );
        }
        let qkv = contiguous::<T>(s1, l1, "attention qkv")?;
        let o = contiguous::<T>(s2, l2, "attention output")?;
        let d_o = contiguous::<T>(s3, l3, "attention output gradient")?;
        let lse = T::slice(self.lse)?;
        let rows = g.batch * g.heads * t;
        if lse.len() != rows {
            candle_core::bail!("attention backward: {} lse for {rows} rows", lse.len());
        }
        let mut dqkv = vec![T::zero(); g.batch * t * 3 * d];
        // The backward does about two and a half times the forward's products.
        let work = 5 * g.work() / 2;
        let parts = map_part_slices(&mut dqkv, t * 3 * d, work, |items, out| -> Result<()> {
            let mut grads = vec![T::zero(); 3 * t * dh];
            let tile = || vec![T::zero(); BLOCK * BLOCK];
            // `pd` (for `M o P`) only with a mask.
            let (mut p, mut pd, mut dp) =
                (tile(), self.drop.map_or(Vec::new(), |_| tile()), tile());
            let mut dsum = vec![T::zero(); t];
            for (n, b) in items.enumerate() {
                let item = &mut out[n * t * 3 * d..(n + 1) * t * 3 * d];
                for h in 0..g.heads {
                    let at = (b * g.heads + h) * t;
                    backward_item(
                        &g,
                        (
                            g.head(qkv, 3 * d, (b, h), 0)?,
                            g.head(qkv, 3 * d, (b, h), d)?,
                            g.head(qkv, 3 * d, (b, h), 2 * d)?,
                        ),
                        (g.head(o, d, (b, h), 0)?, g.head(d_o, d, (b, h), 0)?),
                        &lse[at..at + t],
                        &mut grads,
                        (&mut p, &mut pd, &mut dp, &mut dsum),
                        g.mask(self.drop, (b, h)),
                    );
                    for (k, block) in grads.chunks(t * dh).enumerate() {
                        g.place(block, item, 3 * d, k * d + h * dh);
                    }
                }
            }
            Ok(())
        });
        parts.into_iter().collect::<Result<Vec<_>>>()?;
        Ok((T::storage(dqkv), Shape::from((g.batch, t, 3 * d))))
    }
}

impl CustomOp3 for AttendGrad<'_> {
    fn name(&self) -> &'static str {
        "synapse-attention-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        with_float!(s1, "attention backward", T => self.run::<T>((s1, l1), (s2, l2), (s3, l3)))
    }
}

/// The heads' outputs `[batch, T, D]` from `qkv` `[batch, T, 3D]`, as one op
/// with its own backward (CPU, f32/f64); `drop`, dropout's mask over the
/// attention weights in training.
pub(super) fn attend(
    qkv: &Tensor,
    heads: usize,
    causal: bool,
    drop: Option<DropMask>,
) -> Result<Tensor> {
    qkv.apply_op1(Attend {
        heads,
        causal,
        lse: Mutex::new(None),
        drop,
    })
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};

    use super::*;

    /// `qkv` must be `[batch, T, 3 x heads x dh]`: a width that `3 x heads`
    /// does not divide, no heads, or another rank, is an error naming the
    /// shape (the element checks its own sizes first; this guards the op).
    #[test]
    fn qkv_of_another_layout_is_refused() {
        let qkv = |dims: &[usize]| Tensor::zeros(dims, DType::F32, &Device::Cpu).unwrap();
        for (dims, heads) in [(&[1, 2, 7][..], 2), (&[1, 2, 12], 0), (&[2, 12], 2)] {
            let e = attend(&qkv(dims), heads, false, None)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("qkv {dims:?} is not [batch, T, 3 x {heads} x dh]")),
                "{e}"
            );
        }
        assert_eq!(
            attend(&qkv(&[1, 2, 12]), 2, true, None).unwrap().dims(),
            [1, 2, 4]
        );
    }

    /// A dropout mask must cover `[batch, heads, T, T]` (2 x 2 x 3 x 3 = 36
    /// weights here): one of another size is refused, naming both sizes.
    #[test]
    fn a_mask_of_another_size_is_refused() {
        let qkv = Tensor::zeros((2, 3, 12), DType::F32, &Device::Cpu).unwrap();
        let mask = |n| {
            Some(DropMask {
                keep: vec![true; n],
                scale: 2.0,
            })
        };
        for n in [0, 35, 37, 72] {
            let e = attend(&qkv, 2, true, mask(n)).unwrap_err().to_string();
            assert!(
                e.contains(&format!("a dropout mask of {n} for [2, 2, 3, 3]")),
                "{e}"
            );
        }
        let kept = attend(&qkv, 2, true, mask(36)).unwrap();
        assert_eq!(kept.dims(), [2, 3, 4]);
    }
}
