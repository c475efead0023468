//! The CPU kernel of a position table, with its hand-written backward:
//!
//! ```text
//! y[b, s, :] = x[b, s, :] + weight[s, :]        s < t
//! dx = dy        dweight[s, :] = sum_b dy[b, s, :] (in batch order; rows t..T: 0)
//! ```
//! Shapes: `x` `[batch, t, D]` (made contiguous first), `weight` `[T, D]`
//! with `t <= T`, `y` like `x`. One node instead of the plain path's
//! narrow, broadcast and add, whose backward makes a `[batch, t, D]`
//! gradient for the broadcast table and sums it along a strided axis.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use crate::kernel::parallel::{for_each_part, ELEMENT_WORK};
use crate::kernel::storage::{contiguous, with_float, Real};

/// `(batch, t, D)` of `x` against the table's `(T, D)`.
fn sizes(x: &Layout, table: (usize, usize)) -> Result<(usize, usize, usize)> {
    match *x.dims() {
        [b, t, d] if d == table.1 && t <= table.0 => Ok((b, t, d)),
        ref dims => candle_core::bail!("positional: x {dims:?} for a table {table:?}"),
    }
}

/// The forward op: `x + weight[:t]`.
struct AddRows;

impl CustomOp2 for AddRows {
    fn name(&self) -> &'static str {
        "synapse-positional"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(
            (s1, l1): (&CpuStorage, &Layout),
            (s2, l2): (&CpuStorage, &Layout),
        ) -> Result<(CpuStorage, Shape)> {
            crate::kernel::count_call("positional");
            let &[rows, cols] = l2.dims() else {
                candle_core::bail!("positional: table {:?} is not [T, D]", l2.dims());
            };
            let (_, t, d) = sizes(l1, (rows, cols))?;
            let x = contiguous::<T>(s1, l1, "positional x")?;
            let table = &contiguous::<T>(s2, l2, "positional table")?[..t * d];
            let mut y = x.to_vec();
            if y.is_empty() {
                return Ok((T::storage(y), l1.shape().clone()));
            }
            let work = ELEMENT_WORK * y.len();
            for_each_part(&mut y, t * d, work, |_, out| {
                for item in out.chunks_mut(t * d) {
                    item.iter_mut().zip(table).for_each(|(v, &w)| *v += w);
                }
            });
            Ok((T::storage(y), l1.shape().clone()))
        }
        with_float!(s1, "positional", T => run::<T>((s1, l1), (s2, l2)))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dw = dy
            .contiguous()?
            .apply_op1_no_bwd(&SumBatch { table: w.dims2()? })?;
        Ok((Some(dy.clone()), Some(dw)))
    }
}

/// `dweight` `[T, D]` from `dy` `[batch, t, D]`.
struct SumBatch {
    table: (usize, usize),
}

impl CustomOp1 for SumBatch {
    fn name(&self) -> &'static str {
        "synapse-positional-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(
            table: (usize, usize),
            s: &CpuStorage,
            l: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            let (_, t, d) = sizes(l, table)?;
            let dy = contiguous::<T>(s, l, "positional dy")?;
            let mut dw = vec![T::zero(); table.0 * table.1];
            if t * d > 0 {
                for item in dy.chunks_exact(t * d) {
                    dw.iter_mut().zip(item).for_each(|(a, &g)| *a += g);
                }
            }
            Ok((T::storage(dw), Shape::from(table)))
        }
        with_float!(s, "positional backward", T => run::<T>(self.table, s, l))
    }
}

/// `x + weight[:t]` as one op with its own backward (CPU, f32/f64).
pub(super) fn add_rows(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(weight, AddRows)
}
