//! The CPU kernel of an embedding: the gather, and a backward that sums the
//! rows of `dy` of each id into one zeroed gradient of the table's size,
//! handed to [`crate::backward`]. candle's own backward of `index_select`
//! makes three: `index_add` onto `zeros_like(w)` (a copy), then its store's
//! `zeros + grad`; for GPT-2 small's 154 MB table that was 460 MB more at
//! the step's peak, faulted in afresh on a new process's first step.
//!
//! ```text
//! y[n, :]  = w[ids[n], :]
//! dw[v, :] = sum over n with ids[n] = v of dy[n, :], in the order of n
//! ```
//! Shapes: `w` `[V, D]`, `ids` `[N]` u32 (checked by the caller to be in
//! `0..V`), `y` and `dy` `[N, D]`. The sums start from zeros and add in the
//! order of `n`, as candle's `index_add` onto zeros does: the same bits.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use crate::backward::hand_over;
use crate::kernel::storage::{contiguous, with_float, Real};

/// The ids, contiguous.
fn ids<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [u32]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s.as_slice::<u32>()?[a..b]),
        None => candle_core::bail!("embedding: ids must be contiguous"),
    }
}

/// The forward: the rows of `w` that the ids pick.
pub(super) struct Gather;

impl Gather {
    fn run<T: Real>(w: &[T], d: usize, ids: &[u32]) -> Vec<T> {
        let mut out = Vec::with_capacity(ids.len() * d);
        for &i in ids {
            let i = i as usize;
            out.extend_from_slice(&w[i * d..(i + 1) * d]);
        }
        out
    }
}

impl CustomOp2 for Gather {
    fn name(&self) -> &'static str {
        "synapse-embedding"
    }

    fn cpu_fwd(
        &self,
        ws: &CpuStorage,
        wl: &Layout,
        is: &CpuStorage,
        il: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call("embedding");
        let (_, d) = wl.shape().dims2()?;
        let ids = ids(is, il)?;
        with_float!(ws, "embedding", T => {
            let w = contiguous::<T>(ws, wl, "embedding weight")?;
            Ok((T::storage(Gather::run(w, d, ids)), Shape::from((ids.len(), d))))
        })
    }

    fn bwd(
        &self,
        w: &Tensor,
        ids: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        let dw = dy.apply_op2_no_bwd(ids, &ScatterAdd { v: w.dims()[0] })?;
        Ok((hand_over(w, dw), None))
    }
}

/// The backward: `dw` of `[V, D]` from `dy` `[N, D]` and the ids.
struct ScatterAdd {
    v: usize,
}

impl ScatterAdd {
    fn run<T: Real>(&self, dy: &[T], d: usize, ids: &[u32]) -> Vec<T> {
        let mut dw = vec![T::zero(); self.v * d];
        for (row, &i) in dy.chunks_exact(d).zip(ids) {
            let i = i as usize;
            for (s, &g) in dw[i * d..(i + 1) * d].iter_mut().zip(row) {
                *s += g;
            }
        }
        dw
    }
}

impl CustomOp2 for ScatterAdd {
    fn name(&self) -> &'static str {
        "synapse-embedding-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        is: &CpuStorage,
        il: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, d) = gl.shape().dims2()?;
        let ids = ids(is, il)?;
        with_float!(gs, "embedding-grad", T => {
            let dy = contiguous::<T>(gs, gl, "embedding's dy")?;
            Ok((T::storage(self.run(dy, d, ids)), Shape::from((self.v, d))))
        })
    }
}
