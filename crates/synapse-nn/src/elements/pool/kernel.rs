//! The CPU kernel of `maxpool2d` and `avgpool2d`, with its hand-written backward.
//!
//! Shapes: `x` `[B, C, H, W]`, `y` `[B, C, OH, OW]`, `OH = (H - K) / S + 1`
//! (and `OW` alike); each of the `B C` planes is pooled on its own.
//!
//! ```text
//! max: y[i, j] = x[S i + u*, S j + v*], (u*, v*) the first offset in
//!      row-major order whose value no later offset strictly exceeds
//!      dx[S i + u*, S j + v*] += dy[i, j]
//! avg: y[i, j] = (sum_{u, v < K} x[S i + u, S j + v]) * (1 / K^2)
//!      dx[S i + u, S j + v] += dy[i, j] * (1 / K^2)   for every u, v < K
//! ```
//! The same rules as the plain definition in `mod.rs` (a NaN wins only when it
//! comes first in its window). Planes are split over threads in fixed parts.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::PoolKind;
use crate::kernel::act::KernelAct;
use crate::kernel::parallel::{for_each_part, ELEMENT_WORK};
use crate::kernel::storage::{contiguous, with_float, Real};

/// The pool's sizes: kind, window, stride, input plane, output plane.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pool {
    kind: PoolKind,
    k: usize,
    s: usize,
    h: usize,
    w: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
}

impl Pool {
    /// From `x`'s dims `[B, C, H, W]`: `(B C, pool)`.
    pub(crate) fn of(kind: PoolKind, k: usize, s: usize, dims: &[usize]) -> Result<(usize, Self)> {
        match *dims {
            [b, c, h, w] if k > 0 && s > 0 && h >= k && w >= k => {
                let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
                Ok((
                    b * c,
                    Self {
                        kind,
                        k,
                        s,
                        h,
                        w,
                        oh,
                        ow,
                    },
                ))
            }
            _ => candle_core::bail!("pool kernel: x {dims:?}, kernel {k}, stride {s}"),
        }
    }

    /// The pooled `planes` of `x` (`[planes, H, W]` to `[planes, OH, OW]`),
    /// planes split over threads.
    pub(crate) fn forward<T: Real>(&self, x: &[T], planes: usize) -> Vec<T> {
        let p = self;
        let (hw, n) = (p.h * p.w, p.oh * p.ow);
        let mut y = vec![T::zero(); planes * n];
        // mutants: the work only picks the split of whole planes: equivalent.
        let work = ELEMENT_WORK * planes * n * p.k * p.k;
        for_each_part(&mut y, n, work, |range, out| {
            for (plane, yp) in range.zip(out.chunks_exact_mut(n)) {
                let xp = &x[plane * hw..][..hw];
                for (i, row) in yp.chunks_exact_mut(p.ow).enumerate() {
                    p.scan_row(xp, i, row, &mut []);
                    if p.kind == PoolKind::Avg {
                        let inv = p.inv_area::<T>();
                        row.iter_mut().for_each(|v| *v = *v * inv);
                    }
                }
            }
        });
        y
    }

    /// `dx` (`[planes, H, W]`) from the pool's input `x` and `dy`
    /// (`[planes, OH, OW]`): the maxima found again from `x`.
    pub(crate) fn backward<T: Real>(&self, xs: &[T], dys: &[T], planes: usize) -> Vec<T> {
        let p = self;
        let (hw, n) = (p.h * p.w, p.oh * p.ow);
        let mut dx = vec![T::zero(); planes * hw];
        // mutants: the work only picks the split of whole planes: equivalent.
        let work = ELEMENT_WORK * planes * n * p.k * p.k;
        for_each_part(&mut dx, hw, work, |range, out| {
            let (mut best, mut at) = (vec![T::zero(); p.ow], vec![0; p.ow]);
            let inv = p.inv_area::<T>();
            for (plane, dxp) in range.zip(out.chunks_exact_mut(hw)) {
                let (xp, dyp) = (&xs[plane * hw..][..hw], &dys[plane * n..][..n]);
                for (i, g) in dyp.chunks_exact(p.ow).enumerate() {
                    match p.kind {
                        PoolKind::Max => {
                            p.scan_row(xp, i, &mut best, &mut at);
                            at.iter().zip(g).for_each(|(&a, &g)| dxp[a] += g);
                        }
                        PoolKind::Avg => {
                            for u in 0..p.k {
                                let start = (i * p.s + u) * p.w;
                                let row = &mut dxp[start..start + p.w];
                                for v in 0..p.k {
                                    let targets = row[v..].iter_mut().step_by(p.s);
                                    targets.zip(g).for_each(|(d, &g)| *d += g * inv);
                                }
                            }
                        }
                    }
                }
            }
        });
        dx
    }

    /// `1 / K^2` in `T`.
    fn inv_area<T: Real>(&self) -> T {
        T::from_f64(1.0 / (self.k * self.k) as f64)
    }

    /// Scans the windows of output row `i` of one plane: `best[j]` gets the
    /// window's maximum (max) or sum (avg), `at[j]` the maximum's offset in
    /// the plane (max only, and only when `at` is not empty). Offsets are
    /// visited in row-major order, the first one initialising, so a later
    /// value wins only when strictly greater. Row by row so that the inner
    /// loop runs over `j`.
    fn scan_row<T: Real>(&self, plane: &[T], i: usize, best: &mut [T], at: &mut [usize]) {
        let (k, s) = (self.k, self.s);
        if (k, s) == (2, 2) {
            return self.scan_row_2x2(plane, i, best, at);
        }
        for u in 0..k {
            let start = (i * s + u) * self.w;
            let row = &plane[start..start + self.w];
            // One bounds check per window, none per element; selects, not
            // branches (the comparisons of random data are unpredictable).
            let windows = best.iter_mut().enumerate().map(|(j, b)| (j * s, b));
            match self.kind {
                PoolKind::Avg => {
                    for (at, b) in windows {
                        let acc = if u == 0 { T::zero() } else { *b };
                        *b = row[at..at + k].iter().fold(acc, |a, &x| a + x);
                    }
                }
                PoolKind::Max if at.is_empty() => {
                    for (at, b) in windows {
                        let win = &row[at..at + k];
                        let first = if u == 0 { win[0] } else { *b };
                        *b = win.iter().fold(first, |m, &x| if x > m { x } else { m });
                    }
                }
                PoolKind::Max => {
                    for ((o, b), a) in windows.zip(at.iter_mut()) {
                        let win = &row[o..o + k];
                        let (mut m, mut arg) = if u == 0 {
                            (win[0], start + o)
                        } else {
                            (*b, *a)
                        };
                        for (v, &x) in win.iter().enumerate() {
                            let take = x > m;
                            m = if take { x } else { m };
                            arg = if take { start + o + v } else { arg };
                        }
                        (*b, *a) = (m, arg);
                    }
                }
            }
        }
    }

    /// [`Pool::scan_row`] for the common `K = S = 2`: the four window
    /// elements named, so that the loop over `j` vectorises.
    fn scan_row_2x2<T: Real>(&self, plane: &[T], i: usize, best: &mut [T], at: &mut [usize]) {
        let (w, ow) = (self.w, self.ow);
        let start = 2 * i * w;
        let (r0, r1) = (&plane[start..][..2 * ow], &plane[start + w..][..2 * ow]);
        let windows = r0.chunks_exact(2).zip(r1.chunks_exact(2));
        let pick = |m: T, x: T| if x > m { x } else { m };
        match self.kind {
            PoolKind::Avg => {
                for (b, (a, c)) in best.iter_mut().zip(windows) {
                    *b = a[0] + a[1] + c[0] + c[1];
                }
            }
            PoolKind::Max if at.is_empty() => {
                for (b, (a, c)) in best.iter_mut().zip(windows) {
                    *b = pick(pick(pick(a[0], a[1]), c[0]), c[1]);
                }
            }
            PoolKind::Max => {
                for (j, ((b, o), (a, c))) in
                    best.iter_mut().zip(at.iter_mut()).zip(windows).enumerate()
                {
                    let mut m = (a[0], start + 2 * j);
                    for (x, offset) in [
                        (a[1], start + 2 * j + 1),
                        (c[0], start + w + 2 * j),
                        (c[1], start + w + 2 * j + 1),
                    ] {
                        let take = x > m.0;
                        m = (if take { x } else { m.0 }, if take { offset } else { m.1 });
                    }
                    (*b, *o) = m;
                }
            }
        }
    }
}

/// The forward op.
struct PoolOp {
    kind: PoolKind,
    k: usize,
    s: usize,
}

impl CustomOp1 for PoolOp {
    fn name(&self) -> &'static str {
        "synapse-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(op: &PoolOp, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
            crate::kernel::count_call("pool2d");
            let (planes, p) = Pool::of(op.kind, op.k, op.s, l.dims())?;
            let x = contiguous::<T>(s, l, "pool kernel: x")?;
            let y = p.forward(x, planes);
            let d = l.dims();
            Ok((T::storage(y), Shape::from((d[0], d[1], p.oh, p.ow))))
        }
        with_float!(s, "pool2d", T => run::<T>(self, s, l))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let grad = PoolGrad {
            kind: self.kind,
            k: self.k,
            s: self.s,
            act: KernelAct::Identity,
        };
        Ok(Some(x.apply_op2_no_bwd(&dy.contiguous()?, &grad)?))
    }
}

/// `dx` from the pool's input `x` and `dy` (the maxima found again from
/// `x`), times `act'(x)` when `x` is that activation's output: the conv
/// kernel's fused backward, `dz = unpool(dy) * act'(y)`. A pool alone has
/// the identity.
pub(crate) struct PoolGrad {
    pub(crate) kind: PoolKind,
    pub(crate) k: usize,
    pub(crate) s: usize,
    pub(crate) act: KernelAct,
}

impl CustomOp2 for PoolGrad {
    fn name(&self) -> &'static str {
        "synapse-pool2d-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(
            op: &PoolGrad,
            x: (&CpuStorage, &Layout),
            dy: (&CpuStorage, &Layout),
        ) -> Result<(CpuStorage, Shape)> {
            let (planes, p) = Pool::of(op.kind, op.k, op.s, x.1.dims())?;
            let (xs, dys) = (
                contiguous::<T>(x.0, x.1, "pool grad: x")?,
                contiguous::<T>(dy.0, dy.1, "pool grad: dy")?,
            );
            if dys.len() != planes * p.oh * p.ow {
                candle_core::bail!("pool grad: dy {:?} for x {:?}", dy.1.dims(), x.1.dims());
            }
            let mut dx = p.backward(xs, dys, planes);
            if op.act != KernelAct::Identity {
                let act = op.act;
                dx.iter_mut()
                    .zip(xs)
                    .for_each(|(d, &o)| *d = act.grad(*d, o));
            }
            Ok((T::storage(dx), x.1.shape().clone()))
        }
        with_float!(s1, "pool2d grad", T => run::<T>(self, (s1, l1), (s2, l2)))
    }
}

/// The pool as one op with its own backward (CPU, f32/f64; `x` made contiguous first).
pub(super) fn pool2d(x: &Tensor, kind: PoolKind, k: usize, s: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op1(PoolOp { kind, k, s })
}
