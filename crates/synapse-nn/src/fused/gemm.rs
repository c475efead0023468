//! Size-aware matrix products on the CPU: `dst = op(A) op(B)` through the
//! `gemm` crate, on one thread for small products and on all cores only when
//! the work (`2 m n k` flops) pays for the fan-out.

use std::sync::OnceLock;

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::storage::{with_float, Real, View};

/// Products below this many flops run on one thread. Measured on a 2-core
/// machine: splitting the MLP benchmark's 51-Mflop products over two threads
/// made the whole training step slower (the workers' spinning competes with
/// the element-wise kernels), so only larger products fan out.
const PARALLEL_FLOPS: usize = 1 << 26;

/// The worker threads available: `RAYON_NUM_THREADS` if set, else the cores (read once).
fn max_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// The parallelism for a product of `flops`.
pub(crate) fn threads_for(flops: usize) -> gemm::Parallelism {
    let threads = max_threads();
    if threads > 1 && flops >= PARALLEL_FLOPS {
        gemm::Parallelism::Rayon(threads.min(flops / (PARALLEL_FLOPS / 2)).max(2))
    } else {
        gemm::Parallelism::None
    }
}

/// `dst (m x n, row-major) = [dst +] a (m x k) * b (k x n)`, accumulating when asked.
pub(crate) fn gemm_into<T: Real>(dst: &mut [T], a: View<T>, b: View<T>, accumulate: bool) {
    assert_eq!(dst.len(), a.rows * b.cols, "gemm_into: destination size");
    if a.cols == 0 {
        if !accumulate {
            dst.iter_mut().for_each(|v| *v = T::zero());
        }
        return;
    }
    // SAFETY: dst holds m x n elements, checked above.
    unsafe { gemm_raw(dst.as_mut_ptr(), a, b, accumulate) }
}

/// # Safety
/// `dst` must be valid for writes (and reads when `accumulate`) of
/// `a.rows * b.cols` elements, row-major, with `a.cols > 0`.
unsafe fn gemm_raw<T: Real>(dst: *mut T, a: View<T>, b: View<T>, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    debug_assert_eq!(b.rows, k);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the views come from candle layouts whose strides address
    // elements inside their slices; dst is m x n row-major and exclusively ours.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if accumulate { T::one() } else { T::zero() },
            T::one(),
            false,
            false,
            false,
            threads_for(2 * m * n * k),
        );
    }
}

/// A fresh `a * b`, written by gemm without zero-filling first.
pub(crate) fn product<T: Real>(a: View<T>, b: View<T>) -> Vec<T> {
    let n = a.rows * b.cols;
    if a.cols == 0 {
        return vec![T::zero(); n];
    }
    let mut dst: Vec<T> = Vec::with_capacity(n);
    // SAFETY: with k > 0 and no accumulation, gemm writes every one of the n
    // elements and reads none; the length is set only after.
    unsafe {
        gemm_raw(dst.as_mut_ptr(), a, b, false);
        dst.set_len(n);
    }
    dst
}

/// `a * b` for 2-D tensors as a no-backward op (used inside backward passes).
struct MatMul;

impl CustomOp2 for MatMul {
    fn name(&self) -> &'static str {
        "synapse-matmul"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(
            s1: &CpuStorage,
            l1: &Layout,
            s2: &CpuStorage,
            l2: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            let (a, b) = (View::<T>::new(s1, l1)?, View::<T>::new(s2, l2)?);
            if a.cols != b.rows {
                candle_core::bail!(
                    "matmul: [{}, {}] x [{}, {}]",
                    a.rows,
                    a.cols,
                    b.rows,
                    b.cols
                );
            }
            let dst = product(a, b);
            Ok((T::storage(dst), Shape::from((a.rows, b.cols))))
        }
        with_float!(s1, "synapse-matmul", T => run::<T>(s1, l1, s2, l2))
    }
}

/// `a * b` of 2-D CPU tensors with size-aware threading, outside the graph.
pub(crate) fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.apply_op2_no_bwd(b, &MatMul)
}
