//! A training batch's rows gathered from the whole data set:
//! `out[i] = x[rows[i]]`, each row copied once.
//!
//! Shapes: `x` `[n, ...]` (a row is everything after the first dimension),
//! `rows` `[b]` of indices below `n`, `out` `[b, ...]`. It is
//! `x.index_select(rows, 0)` without its two costs on the CPU: candle fills
//! the output with zeros before copying into it (a pass over the batch for
//! nothing), and it copies on the calling thread, where the pool's other
//! workers wait for the step's first product. Here the output is written
//! once, uninitialised until then, and a large batch is cut in parts over
//! the pool ([`super::parallel::parts`], by the row count: a copy gives the
//! same bytes however it is cut). Rows of a shuffled epoch are scattered
//! over the data set, so each costs a cache miss or more: the copy waits on
//! memory, and two threads wait on it side by side.
//!
//! A non-contiguous `x` is made contiguous first (candle's `index_select`
//! refuses one). On another device or another dtype it is candle's
//! `index_select`: the same values.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use super::parallel::{copy_into, new_by_parts, ELEMENT_WORK};

/// The op: the indices it gathers.
struct Gather<'a> {
    rows: &'a [u32],
}

/// `rows` of the row-major `src` (`row` values a row) into a new vector.
fn gather<T: Copy + Send + Sync>(src: &[T], row: usize, rows: &[u32]) -> Vec<T> {
    let work = rows.len() * row * GATHER_WORK;
    // SAFETY: each part copies a whole row into each of its `row`-long
    // chunks (`copy_into` checks the lengths), so it writes every value.
    unsafe {
        new_by_parts(rows.len(), row, work, |part, dst| {
            for (&r, d) in rows[part].iter().zip(dst.chunks_exact_mut(row.max(1))) {
                let from = r as usize * row;
                copy_into(d, &src[from..from + row]);
            }
        })
    }
}

/// The work of one value copied, in [`super::parallel::parts`]' flops: four element-wise
/// visits, as rows scattered over a large set miss the caches. Measured on
/// the 784-256-10 row (batches of 128 rows of 784 f32 from 30,000; 2-core
/// AMD EPYC, `perf record` of a 2-thread run): 0.8 ns a value on one
/// thread; weighed as one visit the batch (100,352 values) stayed on the
/// calling thread, weighed as four it is cut in three parts and the calling
/// thread's samples in the copy fell from 167 to 72. A batch of 32 rows of
/// 64 values (scikit-learn's digits) stays on the calling thread.
const GATHER_WORK: usize = 4 * ELEMENT_WORK;

impl CustomOp1 for Gather<'_> {
    fn name(&self) -> &'static str {
        "synapse-gather"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = l.dims();
        let (Some((a, b)), Some((&n, rest))) = (l.contiguous_offsets(), dims.split_first()) else {
            candle_core::bail!("gather: a contiguous tensor of rank 1 or more expected");
        };
        if let Some(bad) = self.rows.iter().find(|&&r| r as usize >= n) {
            candle_core::bail!("gather: row {bad} of a set of {n} rows");
        }
        let row: usize = rest.iter().product();
        let shape = Shape::from([&[self.rows.len()], rest].concat());
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(gather(&v[a..b], row, self.rows)),
            CpuStorage::F64(v) => CpuStorage::F64(gather(&v[a..b], row, self.rows)),
            CpuStorage::U32(v) => CpuStorage::U32(gather(&v[a..b], row, self.rows)),
            CpuStorage::I64(v) => CpuStorage::I64(gather(&v[a..b], row, self.rows)),
            CpuStorage::U8(v) => CpuStorage::U8(gather(&v[a..b], row, self.rows)),
            _ => candle_core::bail!("gather: no copy for this dtype"),
        };
        Ok((out, shape))
    }
}

/// `x.index_select(rows, 0)`: the rows of `x` at `rows`, in that order (see
/// the module's header). The result is a new tensor outside the graph.
pub fn gather_rows(x: &Tensor, rows: &[u32]) -> Result<Tensor> {
    use candle_core::DType::{F32, F64, I64, U32, U8};
    if x.device().is_cpu() && x.rank() >= 1 && matches!(x.dtype(), F32 | F64 | U32 | I64 | U8) {
        crate::kernel::count_call("gather");
        let x = x.contiguous()?;
        return x.apply_op1_no_bwd(&Gather { rows });
    }
    x.index_select(&Tensor::new(rows, x.device())?, 0)
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    use super::super::parallel::parts;
    use super::*;
    use crate::testing::flat;

    /// The bytes of candle's `index_select` for every dtype it copies, rows
    /// of several values and of one, repeated and out-of-order indices, on
    /// one thread and on a pool of two with a batch large enough to be cut
    /// in parts.
    #[test]
    fn gather_gives_index_select_s_values() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for (n, row) in [(5, 3), (7, 1), (4096, 600)] {
            let x = Tensor::arange(0u32, (n * row) as u32, &Device::Cpu)
                .unwrap()
                .reshape((n, row))
                .unwrap();
            let rows: Vec<u32> = (0..n as u32 * 3 / 2)
                .map(|i| (i * 7919 + 3) % n as u32)
                .collect();
            // The large case is cut in parts (so the pool runs it in two).
            assert_eq!(
                parts(rows.len(), rows.len() * row * GATHER_WORK).len() > 1,
                n > 10
            );
            let idx = Tensor::new(rows.as_slice(), &Device::Cpu).unwrap();
            for dtype in [DType::F32, DType::F64, DType::U32, DType::I64, DType::U8] {
                let x = x.to_dtype(dtype).unwrap();
                let want = x.index_select(&idx, 0).unwrap();
                for on_pool in [false, true] {
                    let got = if on_pool {
                        pool.install(|| gather_rows(&x, &rows)).unwrap()
                    } else {
                        gather_rows(&x, &rows).unwrap()
                    };
                    assert_eq!(got.dims(), want.dims());
                    assert_eq!(got.dtype(), dtype);
                    assert_eq!(
                        flat(&got),
                        flat(&want),
                        "n {n} row {row} {dtype:?} pool {on_pool}"
                    );
                }
            }
        }
    }

    /// Images (`[n, c, h, w]`: a row is everything after the first
    /// dimension), a view that is not contiguous (which candle's
    /// `index_select` refuses; its copy's rows here), and an empty batch.
    #[test]
    fn gather_takes_image_rows_views_and_no_rows() {
        let x = Tensor::arange(0f32, 2.0 * 3.0 * 2.0 * 2.0 * 5.0, &Device::Cpu)
            .unwrap()
            .reshape((10, 3, 2, 2))
            .unwrap();
        let rows = [9u32, 0, 4];
        let idx = Tensor::new(&rows, &Device::Cpu).unwrap();
        let got = gather_rows(&x, &rows).unwrap();
        assert_eq!(got.dims(), [3, 3, 2, 2]);
        assert_eq!(flat(&got), flat(&x.index_select(&idx, 0).unwrap()));
        let t = x.flatten_from(1).unwrap().t().unwrap();
        assert!(!t.is_contiguous());
        let idx = Tensor::new(&[1u32, 0], &Device::Cpu).unwrap();
        assert_eq!(
            flat(&gather_rows(&t, &[1, 0]).unwrap()),
            flat(&t.contiguous().unwrap().index_select(&idx, 0).unwrap())
        );
        assert_eq!(gather_rows(&x, &[]).unwrap().dims(), [0, 3, 2, 2]);
    }

    /// A dtype it has no copy for (f16, bf16) takes candle's
    /// `index_select`: the same values, no error.
    #[test]
    fn other_dtypes_take_index_select() {
        let x = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .reshape((4, 3))
            .unwrap();
        let rows = [3u32, 1, 1];
        let idx = Tensor::new(&rows, &Device::Cpu).unwrap();
        for dtype in [DType::F16, DType::BF16] {
            let x = x.to_dtype(dtype).unwrap();
            let got = gather_rows(&x, &rows).unwrap();
            assert_eq!(got.dtype(), dtype);
            let want = x.index_select(&idx, 0).unwrap();
            assert_eq!(flat(&got), flat(&want), "{dtype:?}");
        }
    }

    /// An index past the last row is refused, naming it and the set's size.
    #[test]
    fn gather_refuses_a_row_past_the_end() {
        let x = Tensor::zeros((4, 2), DType::F32, &Device::Cpu).unwrap();
        let err = gather_rows(&x, &[1, 4]).unwrap_err().to_string();
        assert!(err.contains("row 4 of a set of 4 rows"), "{err}");
    }
}
