//! The CPU kernel of the losses that have one (all but `bce`): value and
//! gradient each in one pass (f32/f64), summing in f64. `o` is the output
//! `[N, K]`, `t` the target; `n = N K` elements, `s` the incoming gradient.
//!
//! | loss | value | gradient |
//! | --- | --- | --- |
//! | sse | `0.5 sum (o - t)^2` | `s (o - t)` |
//! | mse | `sum (o - t)^2 / n` | `s 2 (o - t) / n` |
//! | bce-logits | `sum [max(o,0) - o t + ln(1 + e^-abs(o))] / n` | `s (sigmoid(o) - t) / n` |
//! | cross-entropy | `sum_i [lse(o_i) - o_i,t_i] / M` | `s (softmax(o_i)_j - [j = t_i]) / M` |
//!
//! For cross-entropy a target of -100 ([`crate::IGNORE_INDEX`]) does not
//! count: its row adds nothing and has gradient 0, and `M` is the number of
//! rows that count (no row counts: value 0, gradient 0). Sequences arrive
//! flattened to rows (`Loss::forward`). Cross-entropy's `lse(o_i) = max_i +
//! ln sum_j e^(o_ij - max_i)` is computed once, by the value's op, which
//! keeps it for the gradient; its `e^x` are `kernel/exp.rs`'s, in loops
//! compiled for wide vectors (`kernel/simd.rs`).

use std::borrow::Cow;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use crate::kernel::exp::exp_f64;
use crate::kernel::parallel::{for_each_part, map_parts, ELEMENT_WORK};
use crate::kernel::simd::{vectorized, Pass};
use crate::kernel::storage::{with_float, Real};
use crate::kernel::view::View;
use crate::Loss;

/// The value's op; cross-entropy keeps each row's `lse` for the gradient.
struct LossOp {
    loss: Loss,
    lse: Mutex<Option<Vec<f64>>>,
}

struct LossGrad {
    loss: Loss,
    scale: f64,
    /// Cross-entropy's `lse` of each row, from the value's op.
    lse: Option<Vec<f64>>,
}

/// The class index of row `i` of a `[N]` or `[N, 1]` target, by the one rule
/// of [`crate::class_index`] (already checked by `Loss::forward`), or `None`
/// for an ignored row.
fn class<T: Real>(t: &View<T>, i: usize, k: usize) -> Result<Option<usize>> {
    let v = if t.rows() == 1 && t.cols() > 1 {
        t.at(0, i)
    } else {
        t.at(i, 0)
    };
    if v.as_f64() == crate::IGNORE_INDEX as f64 {
        return Ok(None);
    }
    crate::class_index(v.as_f64(), k)
        .map(Some)
        .map_err(candle_core::Error::wrap)
}

/// The rows of `t` that count (not ignored), at least 1 to divide by.
fn counted<T: Real>(t: &View<T>, rows: usize, k: usize) -> Result<f64> {
    let mut m = 0usize;
    for i in 0..rows {
        m += usize::from(class(t, i, k)?.is_some());
    }
    Ok(m.max(1) as f64)
}

fn check_target<T: Real>(loss: Loss, o: &View<T>, t: &View<T>) -> Result<()> {
    let ok = match loss {
        Loss::CrossEntropy => {
            (t.rows() == o.rows() && t.cols() == 1) || (t.rows() == 1 && t.cols() == o.rows())
        }
        _ => t.rows() == o.rows() && t.cols() == o.cols(),
    };
    if !ok {
        candle_core::bail!(
            "{loss} target [{}, {}] does not fit output [{}, {}]",
            t.rows(),
            t.cols(),
            o.rows(),
            o.cols()
        );
    }
    Ok(())
}

/// The output's elements row after row (a copy only when `o` has gaps).
fn dense<'a, T: Real>(o: &View<'a, T>) -> Cow<'a, [T]> {
    match o.as_row_major() {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(
            (0..o.rows())
                .flat_map(|i| (0..o.cols()).map(move |j| o.at(i, j)))
                .collect(),
        ),
    }
}

/// The values of a block of rows of [`shifted_exp`]: about this many, and
/// at least one row (32 KiB of f64, in the L1 cache).
const BLOCK: usize = 4096;

/// `e^(o_ij - shift_i)` of every element of `[rows, k]` values, in f64,
/// handed to `each` a block of whole rows at a time (the block's first row
/// and its values): the shifts subtracted row by row, then one flat pass of
/// `e^x` over the block, so that the loop vectorises across rows whatever
/// `k` (a few classes would leave most of a row's vector a scalar tail),
/// in a buffer of one block (a language model's 50,257 classes: one row).
#[inline(always)]
fn shifted_exp<T: Real>(
    o: &[T],
    k: usize,
    shift: impl Fn(usize) -> f64,
    mut each: impl FnMut(usize, &[f64]),
) {
    let rows = (BLOCK / k).max(1);
    let mut e: Vec<f64> = Vec::with_capacity(rows * k);
    for (b, block) in o.chunks(rows * k).enumerate() {
        e.clear();
        for (i, row) in block.chunks_exact(k).enumerate() {
            let m = shift(b * rows + i);
            e.extend(row.iter().map(|v| v.as_f64() - m));
        }
        for x in e.iter_mut() {
            *x = exp_f64(*x);
        }
        each(b * rows, &e);
    }
}

/// `lse_i = max_i + ln sum_j e^(o_ij - max_i)` of each row of `[rows, k]`
/// logits, in f64, the sum in the order of `j`.
struct RowLse<'a, T> {
    o: &'a [T],
    k: usize,
}

/// The largest of a row, in f64.
#[inline(always)]
fn row_max<T: Real>(row: &[T]) -> f64 {
    row.iter()
        .map(|v| v.as_f64())
        .fold(f64::NEG_INFINITY, f64::max)
}

impl<T: Real> Pass for RowLse<'_, T> {
    type Output = Vec<f64>;

    #[inline(always)]
    fn run(self) -> Vec<f64> {
        let k = self.k;
        let maxes: Vec<f64> = self.o.chunks_exact(k).map(row_max).collect();
        let mut lse = Vec::with_capacity(maxes.len());
        shifted_exp(
            self.o,
            k,
            |i| maxes[i],
            |first, e| {
                for (max, row) in maxes[first..].iter().zip(e.chunks_exact(k)) {
                    lse.push(max + row.iter().sum::<f64>().ln());
                }
            },
        );
        lse
    }
}

/// Cross-entropy's gradient `s (e^(o_ij - lse_i) - [j = c_i])`, 0 on
/// ignored rows.
struct CrossEntropyGrad<'a, T> {
    o: &'a [T],
    k: usize,
    classes: &'a [Option<usize>],
    lse: &'a [f64],
    s: f64,
    /// The rows' gradient, zeros given (ignored rows stay 0).
    g: &'a mut [T],
}

impl<T: Real> Pass for CrossEntropyGrad<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let (k, s, g) = (self.k, self.s, self.g);
        let rows = self.classes.len().min(self.lse.len());
        shifted_exp(
            &self.o[..rows * k],
            k,
            |i| self.lse[i],
            |first, e| {
                let block = g[first * k..].chunks_exact_mut(k).zip(e.chunks_exact(k));
                for ((g, e), c) in block.zip(&self.classes[first..]) {
                    let Some(c) = *c else { continue };
                    for (g, &e) in g.iter_mut().zip(e) {
                        *g = T::from_f64(e * s);
                    }
                    g[c] = T::from_f64((e[c] - 1.0) * s);
                }
            },
        );
    }
}

/// The work of one `e^x` of [`shifted_exp`], in [`ELEMENT_WORK`]'s units
/// (its polynomial is some twenty operations), for the split over threads.
const EXP_WORK: usize = 4 * ELEMENT_WORK;

/// Each row's `lse` ([`RowLse`]), the rows cut in parts run on the pool
/// when there are enough of them (a language model's 512 rows of 50,257
/// logits); each row's value is the same whatever the parts.
fn row_lse<T: Real>(o: &[T], k: usize) -> Vec<f64> {
    let rows = o.len() / k;
    map_parts(rows, EXP_WORK * o.len(), |r| {
        vectorized(RowLse {
            o: &o[r.start * k..r.end * k],
            k,
        })
    })
    .concat()
}

/// The class of every row (`None`: ignored).
fn classes<T: Real>(t: &View<T>, rows: usize, k: usize) -> Result<Vec<Option<usize>>> {
    (0..rows).map(|i| class(t, i, k)).collect()
}

/// The loss, and for cross-entropy each row's `lse`.
fn value<T: Real>(loss: Loss, o: View<T>, t: View<T>) -> Result<(f64, Option<Vec<f64>>)> {
    crate::kernel::count_call("loss");
    check_target(loss, &o, &t)?;
    let n = (o.rows() * o.cols()) as f64;
    let mut total = 0.0f64;
    match loss {
        Loss::CrossEntropy => {
            let k = o.cols();
            let lse = row_lse(&dense(&o), k);
            for (i, c) in classes(&t, o.rows(), k)?.into_iter().enumerate() {
                if let Some(c) = c {
                    total += lse[i] - o.at(i, c).as_f64();
                }
            }
            return Ok((total / counted(&t, o.rows(), k)?, Some(lse)));
        }
        _ => {
            for i in 0..o.rows() {
                for j in 0..o.cols() {
                    let (x, y) = (o.at(i, j).as_f64(), t.at(i, j).as_f64());
                    total += match loss {
                        Loss::Sse | Loss::Mse => (x - y) * (x - y),
                        _ => x.max(0.0) - x * y + (-x.abs()).exp().ln_1p(),
                    };
                }
            }
        }
    }
    Ok((
        match loss {
            Loss::Sse => 0.5 * total,
            _ => total / n,
        },
        None,
    ))
}

fn gradient<T: Real>(
    loss: Loss,
    scale: f64,
    lse: Option<&[f64]>,
    o: View<T>,
    t: View<T>,
) -> Result<Vec<T>> {
    check_target(loss, &o, &t)?;
    let n = (o.rows() * o.cols()) as f64;
    let mut g = Vec::with_capacity(o.rows() * o.cols());
    match loss {
        // Written as the unfused graph computes it, so that sse with lr 1 is
        // the article's update bit for bit.
        Loss::Sse => {
            let s = T::from_f64(scale);
            for i in 0..o.rows() {
                g.extend((0..o.cols()).map(|j| (o.at(i, j) - t.at(i, j)) * s));
            }
        }
        Loss::Mse => {
            let s = T::from_f64(2.0 * scale / n);
            for i in 0..o.rows() {
                g.extend((0..o.cols()).map(|j| (o.at(i, j) - t.at(i, j)) * s));
            }
        }
        Loss::BceLogits => {
            let s = scale / n;
            for i in 0..o.rows() {
                g.extend((0..o.cols()).map(|j| {
                    let x = o.at(i, j).as_f64();
                    T::from_f64((1.0 / (1.0 + (-x).exp()) - t.at(i, j).as_f64()) * s)
                }));
            }
        }
        Loss::CrossEntropy => {
            let k = o.cols();
            let o = dense(&o);
            let computed;
            let lse = match lse {
                Some(lse) => lse,
                None => {
                    computed = row_lse(&o, k);
                    &computed
                }
            };
            let classes = classes(&t, lse.len(), k)?;
            let s = scale / counted(&t, lse.len(), k)?;
            g = vec![T::zero(); lse.len() * k];
            let work = EXP_WORK * g.len();
            for_each_part(&mut g, k, work, |r, g| {
                vectorized(CrossEntropyGrad {
                    o: &o[r.start * k..r.end * k],
                    k,
                    classes: &classes[r.clone()],
                    lse: &lse[r],
                    s,
                    g,
                })
            });
        }
        Loss::Bce => candle_core::bail!("bce is not fused"),
    }
    Ok(g)
}

impl CustomOp2 for LossOp {
    fn name(&self) -> &'static str {
        "synapse-loss"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        with_float!(s1, "loss", T => {
            let (v, lse) = value::<T>(self.loss, View::new(s1, l1)?, View::new(s2, l2)?)?;
            *self.lse.lock().map_err(|_| candle_core::Error::Msg("loss: poisoned".into()))? = lse;
            Ok((T::storage(vec![T::from_f64(v)]), Shape::from(())))
        })
    }

    fn bwd(
        &self,
        o: &Tensor,
        t: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let scale = grad.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        let lse = self
            .lse
            .lock()
            .map_err(|_| candle_core::Error::Msg("loss: poisoned".into()))?
            .clone();
        let g = o.apply_op2_no_bwd(
            t,
            &LossGrad {
                loss: self.loss,
                scale,
                lse,
            },
        )?;
        Ok((Some(g), None))
    }
}

impl CustomOp2 for LossGrad {
    fn name(&self) -> &'static str {
        "synapse-loss-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        with_float!(s1, "loss-grad", T => {
            let (o, t) = (View::new(s1, l1)?, View::new(s2, l2)?);
            let g = gradient::<T>(self.loss, self.scale, self.lse.as_deref(), o, t)?;
            Ok((T::storage(g), l1.shape().clone()))
        })
    }
}

/// Whether `loss` has this kernel: every loss but `bce` (whose clamped log
/// has no one-pass form worth the code; `bce-logits` is the stable choice).
pub(super) fn supports(loss: Loss) -> bool {
    !matches!(loss, Loss::Bce)
}

/// The loss as one op with its own backward; `target` already in `out`'s dtype.
pub(super) fn loss(loss: Loss, out: &Tensor, target: &Tensor) -> Result<Tensor> {
    let op = LossOp {
        loss,
        lse: Mutex::new(None),
    };
    out.apply_op2(target, op)
}
