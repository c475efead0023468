//! The CPU kernel of a layer norm, forward and backward each in one pass
//! per row, with its hand-written backward.
//!
//! For each row of `N` values, with `r = 1 / sqrt(var + eps)` (biased
//! variance) and `xh = (x - mean) r`:
//! ```text
//! y  = xh w + b
//! g  = dy w
//! dx = r (g - mean(g) - xh mean(g xh))
//! dw = sum_rows dy xh      db = sum_rows dy
//! ```
//! Shapes: `x` `[..., N]` (made contiguous first), `w` and `b` `[N]`, `y`
//! and `dx` like `x`. The forward keeps each row's `(mean, r)` for the
//! backward (no graph node holds them); the backward hands `dw` and `db`
//! over beside `dx`, which is the op's output.
//!
//! Rows are split over threads in fixed parts (`kernel/parallel.rs`); each
//! part sums its rows' `dw`, `db`, and the parts' sums are added in part
//! order: the same bits every run for a given thread count.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use crate::kernel::math::sum_lanes;
use crate::kernel::parallel::{map_part_slices, ELEMENT_WORK};
use crate::kernel::storage::{contiguous, rows_ending_in, with_float, Real};

/// The forward op, keeping `[rows, 2]` `(mean, r)` for the backward.
struct Norm {
    eps: f64,
    stats: Mutex<Option<CpuStorage>>,
}

impl Norm {
    fn run<T: Real>(
        &self,
        (xs, xl): (&CpuStorage, &Layout),
        (ws, wl): (&CpuStorage, &Layout),
        (bs, bl): (&CpuStorage, &Layout),
    ) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call("layernorm");
        let x = contiguous::<T>(xs, xl, "layernorm x")?;
        let (w, b) = (
            contiguous::<T>(ws, wl, "layernorm weight")?,
            contiguous::<T>(bs, bl, "layernorm bias")?,
        );
        let n = w.len();
        let rows = rows_ending_in(xl, n, "layernorm")?;
        if b.len() != n {
            candle_core::bail!("layernorm: weight [{n}], bias [{}]", b.len());
        }
        let (inv_n, eps) = (T::from_f64(1.0 / n as f64), T::from_f64(self.eps));
        let mut y = vec![T::zero(); rows * n];
        // mutants: the work only picks the split of whole rows: equivalent.
        let work = ELEMENT_WORK * 4 * rows * n;
        let parts = map_part_slices(&mut y, n, work, |range, out| {
            let mut stats = Vec::with_capacity(2 * range.len());
            for (row, yr) in range.zip(out.chunks_mut(n)) {
                let xr = &x[row * n..(row + 1) * n];
                let mean = sum_lanes(xr, xr, |v, _| v) * inv_n;
                let var = sum_lanes(xr, xr, |v, _| (v - mean) * (v - mean)) * inv_n;
                let r = (var + eps).sqrt().recip();
                for (((o, &v), &wj), &bj) in yr.iter_mut().zip(xr).zip(w).zip(b) {
                    *o = (v - mean) * r * wj + bj;
                }
                stats.extend([mean, r]);
            }
            stats
        });
        *self.stats.lock().expect("layernorm stats lock") = Some(T::storage(parts.concat()));
        Ok((T::storage(y), xl.shape().clone()))
    }
}

impl CustomOp3 for Norm {
    fn name(&self) -> &'static str {
        "synapse-layernorm"
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
        with_float!(s1, "layernorm", T => self.run::<T>((s1, l1), (s2, l2), (s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let kept = self.stats.lock().expect("layernorm stats lock");
        let Some(stats) = kept.as_ref() else {
            candle_core::bail!("layernorm backward: the forward kept no statistics");
        };
        let grad = NormGrad {
            stats,
            params: Mutex::new(None),
        };
        let dx = x.apply_op3_no_bwd(w, &dy.contiguous()?, &grad)?;
        let Some((dw, db)) = grad.params.lock().expect("layernorm grads lock").take() else {
            candle_core::bail!("layernorm backward: no parameter gradients");
        };
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// The backward op: `(x, w, dy)` to `dx`, leaving `(dw, db)` in `params`.
struct NormGrad<'a> {
    stats: &'a CpuStorage,
    params: Mutex<Option<(Tensor, Tensor)>>,
}

impl NormGrad<'_> {
    fn run<T: Real>(
        &self,
        (xs, xl): (&CpuStorage, &Layout),
        (ws, wl): (&CpuStorage, &Layout),
        (ds, dl): (&CpuStorage, &Layout),
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous::<T>(xs, xl, "layernorm x")?;
        let w = contiguous::<T>(ws, wl, "layernorm weight")?;
        let dy = contiguous::<T>(ds, dl, "layernorm output gradient")?;
        let n = w.len();
        let rows = rows_ending_in(xl, n, "layernorm")?;
        let stats = T::slice(self.stats)?;
        if dy.len() != x.len() || stats.len() != 2 * rows {
            candle_core::bail!(
                "layernorm backward: dy {:?}, {} statistics for x {:?}",
                dl.dims(),
                stats.len(),
                xl.dims()
            );
        }
        let inv_n = T::from_f64(1.0 / n as f64);
        let mut dx = vec![T::zero(); rows * n];
        let parts = map_part_slices(&mut dx, n, ELEMENT_WORK * 6 * rows * n, |range, out| {
            let (mut dw, mut db) = (vec![T::zero(); n], vec![T::zero(); n]);
            let mut g = vec![T::zero(); n];
            for (row, dxr) in range.zip(out.chunks_mut(n)) {
                let (xr, dyr) = (&x[row * n..(row + 1) * n], &dy[row * n..(row + 1) * n]);
                let (mean, r) = (stats[2 * row], stats[2 * row + 1]);
                for j in 0..n {
                    let xh = (xr[j] - mean) * r;
                    g[j] = dyr[j] * w[j];
                    dw[j] += dyr[j] * xh;
                    db[j] += dyr[j];
                }
                let mg = sum_lanes(&g, &g, |v, _| v) * inv_n;
                let mgx = sum_lanes(&g, xr, |gj, xj| gj * ((xj - mean) * r)) * inv_n;
                for j in 0..n {
                    let xh = (xr[j] - mean) * r;
                    dxr[j] = r * (g[j] - mg - xh * mgx);
                }
            }
            (dw, db)
        });
        let (mut dw, mut db) = (vec![T::zero(); n], vec![T::zero(); n]);
        for (pw, pb) in parts {
            dw.iter_mut().zip(pw).for_each(|(a, v)| *a += v);
            db.iter_mut().zip(pb).for_each(|(a, v)| *a += v);
        }
        *self.params.lock().expect("layernorm grads lock") =
            Some((T::cpu_tensor(dw, n.into())?, T::cpu_tensor(db, n.into())?));
        Ok((T::storage(dx), xl.shape().clone()))
    }
}

impl CustomOp3 for NormGrad<'_> {
    fn name(&self) -> &'static str {
        "synapse-layernorm-grad"
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
        with_float!(s1, "layernorm backward", T => self.run::<T>((s1, l1), (s2, l2), (s3, l3)))
    }
}

/// `(x - mean) / sqrt(var + eps) * w + b` over the last dimension as one op
/// with its own backward (CPU, f32/f64).
pub(super) fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        w,
        b,
        Norm {
            eps,
            stats: Mutex::new(None),
        },
    )
}
