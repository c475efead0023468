//! The CPU kernel of an RMS norm, forward and backward each in one pass per
//! row, with its hand-written backward.
//!
//! For each row of `N` values, with `r = 1 / sqrt(mean(x^2) + eps)` and
//! `xh = x r`:
//! ```text
//! y  = xh w
//! g  = dy w
//! dx = r (g - xh mean(g xh))
//! dw = sum_rows dy xh
//! ```
//! Shapes: `x` `[..., N]` (made contiguous first), `w` `[N]`, `y` and `dx`
//! like `x`. The forward keeps each row's `r` for the backward; the backward
//! hands `dw` over beside `dx`, which is the op's output.
//!
//! Rows are split over threads in fixed parts (`kernel/parallel.rs`); each
//! part sums its rows' `dw`, and the parts' sums are added in part order:
//! the same bits every run for a given thread count.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use crate::kernel::math::sum_lanes;
use crate::kernel::parallel::{map_part_slices, ELEMENT_WORK};
use crate::kernel::storage::{contiguous, rows_ending_in, with_float, Real};

/// The forward op, keeping each row's `r` for the backward.
struct Norm {
    eps: f64,
    kept: Mutex<Option<CpuStorage>>,
}

impl Norm {
    fn run<T: Real>(
        &self,
        (xs, xl): (&CpuStorage, &Layout),
        (ws, wl): (&CpuStorage, &Layout),
    ) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call("rmsnorm");
        let x = contiguous::<T>(xs, xl, "rmsnorm x")?;
        let w = contiguous::<T>(ws, wl, "rmsnorm weight")?;
        let n = w.len();
        let rows = rows_ending_in(xl, n, "rmsnorm")?;
        let (inv_n, eps) = (T::from_f64(1.0 / n as f64), T::from_f64(self.eps));
        let mut y = vec![T::zero(); rows * n];
        let parts = map_part_slices(&mut y, n, ELEMENT_WORK * 3 * rows * n, |range, out| {
            let mut rs = Vec::with_capacity(range.len());
            for (row, yr) in range.zip(out.chunks_mut(n)) {
                let xr = &x[row * n..(row + 1) * n];
                let r = (sum_lanes(xr, xr, |a, b| a * b) * inv_n + eps)
                    .sqrt()
                    .recip();
                for ((o, &v), &wj) in yr.iter_mut().zip(xr).zip(w) {
                    *o = v * r * wj;
                }
                rs.push(r);
            }
            rs
        });
        *self.kept.lock().expect("rmsnorm lock") = Some(T::storage(parts.concat()));
        Ok((T::storage(y), xl.shape().clone()))
    }
}

impl CustomOp2 for Norm {
    fn name(&self) -> &'static str {
        "synapse-rmsnorm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        with_float!(s1, "rmsnorm", T => self.run::<T>((s1, l1), (s2, l2)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let kept = self.kept.lock().expect("rmsnorm lock");
        let Some(r) = kept.as_ref() else {
            candle_core::bail!("rmsnorm backward: the forward kept nothing");
        };
        let grad = NormGrad {
            r,
            weight_grad: Mutex::new(None),
        };
        let dx = x.apply_op3_no_bwd(w, &dy.contiguous()?, &grad)?;
        let Some(dw) = grad.weight_grad.lock().expect("rmsnorm lock").take() else {
            candle_core::bail!("rmsnorm backward: no weight gradient");
        };
        Ok((Some(dx), Some(dw)))
    }
}

/// The backward op: `(x, w, dy)` to `dx`, leaving `dw` in `weight_grad`.
struct NormGrad<'a> {
    r: &'a CpuStorage,
    weight_grad: Mutex<Option<Tensor>>,
}

impl NormGrad<'_> {
    fn run<T: Real>(
        &self,
        (xs, xl): (&CpuStorage, &Layout),
        (ws, wl): (&CpuStorage, &Layout),
        (ds, dl): (&CpuStorage, &Layout),
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous::<T>(xs, xl, "rmsnorm x")?;
        let w = contiguous::<T>(ws, wl, "rmsnorm weight")?;
        let dy = contiguous::<T>(ds, dl, "rmsnorm output gradient")?;
        let n = w.len();
        let rows = rows_ending_in(xl, n, "rmsnorm")?;
        let kept = T::slice(self.r)?;
        // An internal invariant (the forward kept one value per row); no
        // input reaches it (mutants: equivalent).
        if dy.len() != x.len() || kept.len() != rows {
            candle_core::bail!(
                "rmsnorm backward: dy {:?}, {} kept values for x {:?}",
                dl.dims(),
                kept.len(),
                xl.dims()
            );
        }
        let inv_n = T::from_f64(1.0 / n as f64);
        let mut dx = vec![T::zero(); rows * n];
        let parts = map_part_slices(&mut dx, n, ELEMENT_WORK * 5 * rows * n, |range, out| {
            let mut dw = vec![T::zero(); n];
            let mut g = vec![T::zero(); n];
            for (row, dxr) in range.zip(out.chunks_mut(n)) {
                let (xr, dyr) = (&x[row * n..(row + 1) * n], &dy[row * n..(row + 1) * n]);
                let r = kept[row];
                for j in 0..n {
                    g[j] = dyr[j] * w[j];
                    dw[j] += dyr[j] * (xr[j] * r);
                }
                let mgx = sum_lanes(&g, xr, |gj, xj| gj * (xj * r)) * inv_n;
                for j in 0..n {
                    dxr[j] = r * (g[j] - xr[j] * r * mgx);
                }
            }
            dw
        });
        let mut dw = vec![T::zero(); n];
        for part in parts {
            dw.iter_mut().zip(part).for_each(|(a, v)| *a += v);
        }
        *self.weight_grad.lock().expect("rmsnorm lock") = Some(T::cpu_tensor(dw, n.into())?);
        Ok((T::storage(dx), xl.shape().clone()))
    }
}

impl candle_core::CustomOp3 for NormGrad<'_> {
    fn name(&self) -> &'static str {
        "synapse-rmsnorm-grad"
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
        with_float!(s1, "rmsnorm backward", T => self.run::<T>((s1, l1), (s2, l2), (s3, l3)))
    }
}

/// `x / sqrt(mean(x^2) + eps) * w` over the last dimension as one op with
/// its own backward (CPU, f32/f64).
pub(super) fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op2(
        w,
        Norm {
            eps,
            kept: Mutex::new(None),
        },
    )
}
