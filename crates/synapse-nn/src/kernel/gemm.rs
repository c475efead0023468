//! Size-aware matrix products on the CPU: `dst = op(A) op(B)` through the
//! `gemm` crate, on one thread for small products and on all cores only when
//! the work (`2 m n k` flops) pays for the fan-out; and [`gemm_block`], the
//! small scaled products a kernel makes inside its own parallel part
//! (attention's tiles), on the calling thread, into a block of a wider
//! matrix.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::parallel::{copy_into, max_threads, new_by_parts, parts, ELEMENT_WORK, PARALLEL_WORK};
use super::storage::{with_float, Real};
use super::transpose::transpose_bias;
use super::view::View;

/// The parallelism for a product of `flops`: one thread below
/// [`PARALLEL_WORK`] (2 Mflop, the threshold every kernel's split uses), all
/// above. Measured on a 2-core machine: the 784-256-10 MLP's 51-Mflop
/// products over two threads cut its epoch from 0.148 s to 0.118 s. (Before
/// the CLI stopped candle's own element-wise pool from spinning beside
/// rayon's, see `synapse-train/src/runtime.rs`, the same split made the step
/// slower, and products stayed on one thread up to 64 Mflop.)
pub(crate) fn threads_for(flops: usize) -> gemm::Parallelism {
    let threads = max_threads();
    if threads > 1 && flops >= PARALLEL_WORK {
        gemm::Parallelism::Rayon(threads.min(flops / (PARALLEL_WORK / 2)).max(2))
    } else {
        gemm::Parallelism::None
    }
}

/// [`threads_for`] an `m x k` by `k x n` product's `2mnk` flops. (The gemm
/// crate's results do not depend on its thread count, so neither function
/// changes a value: cargo-mutants' equivalents, see .cargo/mutants.toml;
/// `kernels_give_the_same_bits_on_one_worker_and_two` checks the bits.)
fn product_threads(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    threads_for(2 * m * n * k)
}

/// `dst (m x n, row-major) = [dst +] a (m x k) * b (k x n)`, accumulating when asked.
///
/// Panics if `dst.len() != m * n` or `a.cols() != b.rows()`: callers check the
/// sizes of user tensors first (with an error naming them); this is an
/// internal invariant.
pub(crate) fn gemm_into<T: Real>(dst: &mut [T], a: View<T>, b: View<T>, accumulate: bool) {
    let threads = product_threads(a.rows(), b.cols(), a.cols());
    gemm_on(dst, a, b, accumulate, threads);
}

/// As [`gemm_into`], on the calling thread whatever the size: for products
/// inside work that is already split over threads (the recurrent kernels'
/// chunks of sequences).
///
/// Panics as [`gemm_into`] does.
pub(crate) fn gemm_into_here<T: Real>(dst: &mut [T], a: View<T>, b: View<T>, accumulate: bool) {
    gemm_on(dst, a, b, accumulate, gemm::Parallelism::None);
}

/// [`gemm_into`] with the given parallelism.
fn gemm_on<T: Real>(
    dst: &mut [T],
    a: View<T>,
    b: View<T>,
    accumulate: bool,
    threads: gemm::Parallelism,
) {
    assert_eq!(
        dst.len(),
        a.rows() * b.cols(),
        "gemm_into: destination size"
    );
    assert_eq!(a.cols(), b.rows(), "gemm_into: inner sizes");
    if a.cols() == 0 {
        if !accumulate {
            dst.iter_mut().for_each(|v| *v = T::zero());
        }
        return;
    }
    if !matches!(threads, gemm::Parallelism::None) && row_times_wide(dst, a, b, accumulate) {
        return;
    }
    // SAFETY: dst is an initialised slice of exactly m x n elements, row-major
    // (rows n apart), borrowed mutably (so it overlaps neither view's shared
    // slice); k = a.cols() = b.rows() > 0.
    let n = b.cols();
    unsafe { gemm_raw(dst.as_mut_ptr(), n, (a, b), (T::one(), accumulate), threads) }
}

/// `dst = [dst +] scale * a * b` through the `gemm` crate, `dst` an
/// `a.rows() x b.cols()` block whose rows are `dst_rs` elements apart.
///
/// # Safety
/// - `dst` is valid for writes of every `r * dst_rs + c` with
///   `r < a.rows()`, `c < b.cols()`;
/// - when `accumulate`, those elements are also initialised (they are read);
/// - `dst`'s elements do not overlap the memory of `a` or `b`;
/// - `a.cols() == b.rows()` and `a.cols() > 0`.
///
/// The views themselves need no precondition: a [`View`] addresses only
/// elements inside its slice (checked when it was built).
unsafe fn gemm_raw<T: Real>(
    dst: *mut T,
    dst_rs: usize,
    (a, b): (View<T>, View<T>),
    (scale, accumulate): (T, bool),
    threads: gemm::Parallelism,
) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if m == 0 || n == 0 {
        return;
    }
    if let gemm::Parallelism::Rayon(t) = threads {
        if let Some(width) = column_part(m, n, k, t) {
            COLUMN_SPLITS.with(|c| c.set(c.get() + 1));
            let parts = column_ranges(n, width);
            // SAFETY: as for this function; the parts cover 0..n once.
            unsafe { gemm_columns(dst, dst_rs, (a, b), (scale, accumulate), &parts) };
            return;
        }
    }
    let ((a_rs, a_cs), (b_rs, b_cs)) = (a.strides(), b.strides());
    // SAFETY: the caller guarantees dst (the m x n block, disjoint from a
    // and b) and k; the views' strides address elements inside their slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            if accumulate { T::one() } else { T::zero() },
            scale,
            false,
            false,
            false,
            threads,
        );
    }
}

/// Products up to this many flops (64 Mflop) split over threads by
/// [`gemm_columns`] rather than by the gemm crate itself.
pub(crate) const COLUMN_SPLIT_WORK: usize = 1 << 26;

/// The width of each part of `b`'s columns when an `m x k` by `k x n`
/// product on `threads` threads is split by columns ([`gemm_columns`]):
/// for products of at most [`COLUMN_SPLIT_WORK`] flops, 32 rows and 32
/// inner sizes or more, and at least 32 columns a thread; `None` leaves the
/// split to the gemm crate. There a mid-sized product's parts wait for one
/// thread to pack all of `b` first: on the 784-256-10 MLP (51-Mflop
/// products) that packing was a twentieth of the main thread's time while
/// the other waited. Measured on 2 cores (Zen 4), paired runs: that MLP's
/// epoch 0.19 to 0.17 s on two threads. Thin products (the 10-class layer's
/// `dW`, 10 rows; its `dx`, an inner size of 10) pack next to nothing and
/// stay with the gemm crate: split, the 784-1024-1024-10 epoch was 2% slower.
///
/// Every part must sum each element as the whole product does. The gemm
/// crate blocks `k` by `k` alone, except in its small path (an output of at
/// most 64 x 64), which takes blocks of 512: a part of 64 columns or fewer
/// of a product of 64 rows or fewer would take it where the whole does not.
/// Up to `k = 512` both give one block; past it the split needs more than
/// 64 rows. (`m = 48, k = 784, n = 128` split in two gave other bits.)
fn column_part(m: usize, n: usize, k: usize, threads: usize) -> Option<usize> {
    let flops = 2 * m * n * k;
    if threads < 2 || m < 32 || k < 32 || flops > COLUMN_SPLIT_WORK || n < 32 * threads {
        return None;
    }
    if m <= SMALL_PATH && k > SMALL_PATH_BLOCK {
        return None;
    }
    // Whole micro-panels (16 columns in f32, 8 in f64: a multiple of both).
    Some(n.div_ceil(threads).next_multiple_of(16))
}

/// The gemm crate's small path: an output of at most this many rows and
/// columns (see [`column_part`]).
const SMALL_PATH: usize = 64;
/// The gemm crate's block of `k` in its small path.
const SMALL_PATH_BLOCK: usize = 512;

thread_local! {
    /// The products this thread split by [`gemm_columns`].
    static COLUMN_SPLITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many products this thread split over the pool by `b`'s columns
/// (see [`column_part`]), for the tests that prove that path runs. Not part
/// of the API.
#[doc(hidden)]
pub fn column_split_products() -> u64 {
    COLUMN_SPLITS.with(|c| c.get())
}

/// A pointer to hand to the parts of [`gemm_columns`], each of which
/// writes only its own columns.
#[derive(Clone, Copy)]
struct Columns<T>(*mut T);
impl<T> Columns<T> {
    /// The pointer (a method, so that a closure captures the whole
    /// `Columns`, which is `Send`, not its field).
    fn ptr(self) -> *mut T {
        self.0
    }
}

// SAFETY: the parts write disjoint columns of one block (see gemm_columns).
unsafe impl<T> Send for Columns<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Columns<T> {}

/// `0..n` in parts of `width` columns; a last part of fewer than 16
/// columns joins the one before (a part of one column would take the gemm
/// crate's matrix-vector path, which sums in another order).
fn column_ranges(n: usize, width: usize) -> Vec<std::ops::Range<usize>> {
    let mut parts = n.div_ceil(width);
    if parts > 1 && n - (parts - 1) * width < 16 {
        parts -= 1;
    }
    (0..parts)
        .map(|p| p * width..if p + 1 == parts { n } else { (p + 1) * width })
        .collect()
}

/// [`gemm_raw`] for each part of `b`'s columns in `parts`, each a product
/// on one thread of rayon's pool that packs its own columns of `b` and
/// writes its own columns of `dst` (the mid-sized products of
/// [`column_part`], and one row times a wide `b`, [`row_times_wide`]).
/// Every output element is the same sum as in one call (see
/// [`column_part`]).
///
/// # Safety
/// As [`gemm_raw`]; `parts` are disjoint ranges inside `0..b.cols()`.
unsafe fn gemm_columns<T: Real>(
    dst: *mut T,
    dst_rs: usize,
    (a, b): (View<T>, View<T>),
    (scale, accumulate): (T, bool),
    parts: &[std::ops::Range<usize>],
) {
    use rayon::prelude::*;
    let out = Columns(dst);
    let run = |columns: &std::ops::Range<usize>| {
        let block = b.t().row_range(columns.start, columns.len()).t();
        // SAFETY: this part's columns of every row of the caller's block:
        // inside it, and no other part's; the rest as for gemm_raw.
        unsafe {
            gemm_raw(
                out.ptr().add(columns.start),
                dst_rs,
                (a, block),
                (scale, accumulate),
                gemm::Parallelism::None,
            )
        }
    };
    match parts {
        [one] => run(one),
        _ => parts.par_iter().for_each(run),
    }
}

/// `dst = [dst +] scale * a * b` on the calling thread, where `dst` is an
/// `m x n` block of rows `dst_rs` elements apart (a head's columns inside a
/// wider matrix, a scratch tile): the small products inside a kernel's own
/// parallel part (attention's per-head tiles).
///
/// Panics if `a.cols() != b.rows()` or `dst` is too short for the block (an
/// internal invariant: the kernel sized both).
pub(crate) fn gemm_block<T: Real>(
    dst: &mut [T],
    dst_rs: usize,
    (a, b): (View<T>, View<T>),
    scale: T,
    accumulate: bool,
) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    assert_eq!(k, b.rows(), "gemm_block: inner sizes");
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        n <= dst_rs && (m - 1) * dst_rs + n <= dst.len(),
        "gemm_block: destination size"
    );
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(T::zero());
            }
        }
        return;
    }
    // SAFETY: every (r, c) with r < m, c < n addresses r * dst_rs + c <
    // dst.len() (checked above), a slice borrowed mutably, so disjoint from
    // the views' shared slices; k > 0; dst is initialised, so reading it
    // when accumulating is sound.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr(),
            dst_rs,
            (a, b),
            (scale, accumulate),
            gemm::Parallelism::None,
        )
    }
}

/// A fresh `a * b` (see [`product_bias`]).
///
/// Panics if `a.cols() != b.rows()` (an internal invariant, as for
/// [`gemm_into`]).
pub(crate) fn product<T: Real>(a: View<T>, b: View<T>) -> Vec<T> {
    product_bias(a, b, None)
}

/// A fresh `a * b`, plus `bias[j]` on every row when given: in the form the
/// gemm crate runs fastest ([`transposed_pays`]), never zero-filled first.
///
/// Panics if `a.cols() != b.rows()` or the bias is not `b.cols()` long (an
/// internal invariant, as for [`gemm_into`]).
pub(crate) fn product_bias<T: Real>(a: View<T>, b: View<T>, bias: Option<&[T]>) -> Vec<T> {
    assert_eq!(a.cols(), b.rows(), "product: inner sizes");
    let (m, n) = (a.rows(), b.cols());
    if transposed_pays(a, b) {
        // (b^T a^T)^T, the bias added in the transposing pass.
        return transpose_bias(&fresh(b.t(), a.t()), n, m, bias);
    }
    match bias {
        None => fresh(a, b),
        Some(bias) => {
            assert_eq!(bias.len(), n, "product: bias size");
            // The bias on every row, rows cut in parts over the pool (a
            // copy: the same bytes however it is cut).
            // SAFETY: each part writes a bias into each of its `n`-long rows.
            let mut y = unsafe {
                new_by_parts(m, n, m * n * ELEMENT_WORK, |_, rows| {
                    for row in rows.chunks_exact_mut(n.max(1)) {
                        copy_into(row, bias);
                    }
                })
            };
            gemm_into(&mut y, a, b, true);
            y
        }
    }
}

/// The rows of `a` from which [`transposed_pays`] (with [`TRANSPOSE_WEIGHTS`]).
pub(crate) const TRANSPOSE_ROWS: usize = 64;
/// The elements of `b` from which [`transposed_pays`] (with [`TRANSPOSE_ROWS`]).
pub(crate) const TRANSPOSE_WEIGHTS: usize = 1 << 20;

/// Whether `a * b` is cheaper made as `(b^T a^T)^T`: when `b` is
/// column-major (as `W^T` of a row-major weight, the dense forward's `x
/// W^T`), the gemm crate packs it with strided reads. For the
/// 2048-4096-4096-10 MLP's products (batch 512) `x W^T` ran at 175 GFLOP/s
/// on one core and `W x^T` at 220 (337 and 405 on two), the transpose of the
/// result costing a small part of that (`benches/synapse_bench.rs
/// gemm-shapes`): that MLP's epoch 6% shorter on one thread and on two. At
/// 784-1024-1024-10 (batch 256) and 784-256-10 both forms take the same
/// time; so only for a `b` of 1 Mi elements or more (4 MiB in f32, past the
/// cache) and 64 rows of `a` or more.
fn transposed_pays<T: Real>(a: View<T>, b: View<T>) -> bool {
    let (rs, cs) = b.strides();
    rs == 1 && cs != 1 && a.rows() >= TRANSPOSE_ROWS && b.rows() * b.cols() >= TRANSPOSE_WEIGHTS
}

/// One row times a wide `b` (decoding's `x W^T`, one token): the `gemm`
/// crate's matrix-vector path runs on one thread, and reading `b` is the
/// whole cost (GPT-2 small: 500 MB per token, at most 16 GB/s from one core
/// here and 41 from two). So `b`'s columns are cut in parts ([`parts`]:
/// fixed by the size, never by the thread count; the work weighed as one
/// element visit per weight, [`ELEMENT_WORK`]) run on the pool, each writing
/// its own slice of `dst`; every output element is the same dot product as
/// in one call. `false` (nothing done) unless `a` is one row, the pool has
/// two threads or more and the work pays for them.
///
fn row_times_wide<T: Real>(dst: &mut [T], a: View<T>, b: View<T>, accumulate: bool) -> bool {
    let (k, n) = (a.cols(), b.cols());
    let work = k * n * ELEMENT_WORK;
    // mutants: at `work == 2 * PARALLEL_WORK` either way gives the one-call
    // bits (`one_row_split_over_columns_gives_the_one_call_bits`): `<=` is
    // equivalent.
    if a.rows() != 1 || k == 0 || max_threads() < 2 || work < 2 * PARALLEL_WORK {
        return false;
    }
    assert_eq!(dst.len(), n, "row_times_wide: destination size");
    // SAFETY: `dst` is the one row of n initialised elements, borrowed
    // mutably (so disjoint from the views); k > 0; `parts` cover 0..n once.
    unsafe {
        gemm_columns(
            dst.as_mut_ptr(),
            n,
            (a, b),
            (T::one(), accumulate),
            &parts(n, work),
        )
    };
    true
}

/// A fresh `a * b` written by gemm as it is (no zero-filling first).
fn fresh<T: Real>(a: View<T>, b: View<T>) -> Vec<T> {
    let n = a.rows() * b.cols();
    if a.cols() == 0 {
        return vec![T::zero(); n];
    }
    // mutants: `>=` is equivalent: `row_times_wide` checks the pool's
    // threads itself and does nothing (false) on one; this test only saves
    // the zeroed buffer then.
    if a.rows() == 1 && max_threads() > 1 {
        let mut dst = vec![T::zero(); n];
        if row_times_wide(&mut dst, a, b, false) {
            return dst;
        }
    }
    let mut dst: Vec<T> = Vec::with_capacity(n);
    // SAFETY: the new Vec's buffer holds n elements, is ours alone, and is
    // written (not read: no accumulation) in full by gemm since k > 0; the
    // length is set only after.
    unsafe {
        let threads = product_threads(a.rows(), b.cols(), a.cols());
        gemm_raw(
            dst.as_mut_ptr(),
            b.cols(),
            (a, b),
            (T::one(), false),
            threads,
        );
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
            if a.cols() != b.rows() {
                candle_core::bail!(
                    "matmul: [{}, {}] x [{}, {}]",
                    a.rows(),
                    a.cols(),
                    b.rows(),
                    b.cols()
                );
            }
            let dst = product(a, b);
            Ok((T::storage(dst), Shape::from((a.rows(), b.cols()))))
        }
        with_float!(s1, "synapse-matmul", T => run::<T>(s1, l1, s2, l2))
    }
}

/// `a * b` of 2-D CPU tensors with size-aware threading, outside the graph.
pub(crate) fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.apply_op2_no_bwd(b, &MatMul)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty inner size (`k == 0`) makes a zero product: `gemm_block`
    /// zeroes exactly the `m x n` block (rows `dst_rs` apart) and nothing
    /// between its rows, or leaves it as it is when accumulating.
    #[test]
    fn gemm_block_with_no_inner_size_zeroes_only_its_block() {
        let (a_data, b_data): (Vec<f64>, Vec<f64>) = (vec![], vec![]);
        let a = View::checked(&a_data, 3, 0, 0, 1).unwrap();
        let b = View::checked(&b_data, 0, 2, 2, 1).unwrap();
        // A 3 x 2 block in rows 4 apart: elements 0, 1, 4, 5, 8, 9.
        let mut dst = vec![7.0; 10];
        gemm_block(&mut dst, 4, (a, b), 1.0, false);
        let want = [0.0, 0.0, 7.0, 7.0, 0.0, 0.0, 7.0, 7.0, 0.0, 0.0];
        assert_eq!(dst, want);
        let mut kept = vec![7.0; 10];
        gemm_block(&mut kept, 4, (a, b), 1.0, true);
        assert_eq!(kept, vec![7.0; 10]);
    }

    /// `gemm_block` into a block of a wider matrix, scaled and accumulated,
    /// against the sums written out by hand.
    #[test]
    fn gemm_block_scales_and_accumulates_into_its_block() {
        // a = [[1, 2], [3, 4]], b = [[5, 6], [7, 8]]: a b = [[19, 22], [43, 50]].
        let (a_data, b_data) = ([1.0f64, 2.0, 3.0, 4.0], [5.0f64, 6.0, 7.0, 8.0]);
        let (a, b) = (
            View::row_major(&a_data, 2, 2),
            View::row_major(&b_data, 2, 2),
        );
        let mut dst = vec![1.0; 6];
        gemm_block(&mut dst, 3, (a, b), 0.5, false);
        assert_eq!(dst, [9.5, 11.0, 1.0, 21.5, 25.0, 1.0]);
        gemm_block(&mut dst, 3, (a, b), 2.0, true);
        assert_eq!(dst, [47.5, 55.0, 1.0, 107.5, 125.0, 1.0]);
    }

    /// One row times a wide `W^T` on a pool of two: split in parts of
    /// columns (it runs: the parts are several), the same bits as one call
    /// on one thread, with and without accumulating onto a bias.
    #[test]
    fn one_row_split_over_columns_gives_the_one_call_bits() {
        let (k, n) = (300, 5000);
        let x: Vec<f32> = (0..k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0).collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 41.0)
            .collect();
        let a = View::row_major(&x, 1, k);
        let wt = View::row_major(&w, n, k).t();
        assert!(super::super::parallel::parts(n, k * n * ELEMENT_WORK).len() > 1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for accumulate in [false, true] {
            let start: Vec<f32> = (0..n).map(|j| j as f32 / 100.0).collect();
            let mut one = start.clone();
            // SAFETY: one row of n initialised elements; k > 0.
            unsafe {
                gemm_raw(
                    one.as_mut_ptr(),
                    n,
                    (a, wt),
                    (1.0, accumulate),
                    gemm::Parallelism::None,
                )
            };
            let mut split = start.clone();
            assert!(pool.install(|| row_times_wide(&mut split, a, wt, accumulate)));
            assert_eq!(split, one, "accumulate {accumulate}");
        }
        let fresh_split = pool.install(|| fresh(a, wt));
        let mut one = vec![0.0f32; n];
        // SAFETY: as above.
        unsafe {
            gemm_raw(
                one.as_mut_ptr(),
                n,
                (a, wt),
                (1.0, false),
                gemm::Parallelism::None,
            )
        };
        assert_eq!(fresh_split, one);
        // One thread: not split.
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert!(!single.install(|| row_times_wide(&mut one, a, wt, false)));
        // Too little work to pay for a second thread (8 x 16 weights): not
        // split, on two threads either.
        let (small_x, small_w) = (vec![1.0f32; 8], vec![0.5f32; 8 * 16]);
        let (sa, sw) = (
            View::row_major(&small_x, 1, 8),
            View::row_major(&small_w, 16, 8).t(),
        );
        let mut small = vec![0.0f32; 16];
        assert!(!pool.install(|| row_times_wide(&mut small, sa, sw, false)));
    }

    /// A mid-sized product on a pool of two is split by `b`'s columns (the
    /// count says so) and gives the bits of one call on one thread: f32 and
    /// f64, `b` row-major and transposed (`x W^T`), widths that are not a
    /// multiple of the part's (a last part too narrow joins the one
    /// before), scaled and accumulated. On one thread, past 64 Mflop, under
    /// 32 columns a thread, 32 rows or inner sizes, or with 64 rows or fewer
    /// past an inner size of 512 (the gemm crate's small path would block
    /// `k` otherwise in a part), it is not split.
    #[test]
    fn mid_sized_products_split_by_columns_give_the_one_call_bits() {
        fn check<T: Real + std::fmt::Debug>(m: usize, k: usize, n: usize, transposed: bool) {
            check_on::<T>(m, k, n, transposed, 2)
        }
        fn check_on<T: Real + std::fmt::Debug>(
            m: usize,
            k: usize,
            n: usize,
            transposed: bool,
            threads: usize,
        ) {
            let of = |i: usize| T::from_f64(((i * 37 % 101) as f64 - 50.0) / 23.0);
            let x: Vec<T> = (0..m * k).map(of).collect();
            let w: Vec<T> = (0..k * n).map(|i| of(i + 7)).collect();
            let a = View::row_major(&x, m, k);
            let b = match transposed {
                true => View::row_major(&w, n, k).t(),
                false => View::row_major(&w, k, n),
            };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert!(column_part(m, n, k, threads).is_some(), "{m} {k} {n}");
            for (scale, accumulate) in [(T::one(), false), (T::from_f64(0.5), true)] {
                let start: Vec<T> = (0..m * n).map(|i| of(i + 3)).collect();
                let mut one = start.clone();
                // SAFETY: m x n initialised elements, rows n apart; k > 0.
                unsafe {
                    gemm_raw(
                        one.as_mut_ptr(),
                        n,
                        (a, b),
                        (scale, accumulate),
                        gemm::Parallelism::None,
                    )
                };
                let mut split = start.clone();
                let splits = pool.install(|| {
                    let before = column_split_products();
                    // SAFETY: as above.
                    unsafe {
                        gemm_raw(
                            split.as_mut_ptr(),
                            n,
                            (a, b),
                            (scale, accumulate),
                            gemm::Parallelism::Rayon(threads),
                        )
                    };
                    column_split_products() - before
                });
                assert_eq!(splits, 1, "{m} {k} {n}");
                assert!(split == one, "{m} {k} {n} transposed {transposed}");
            }
        }
        for transposed in [false, true] {
            check::<f32>(128, 200, 256, transposed);
            check::<f32>(96, 784, 128, transposed);
            check::<f32>(48, 500, 97, transposed);
            check::<f32>(40, 300, 289, transposed);
            // Three parts of 48 columns would leave one for the last: two.
            check_on::<f32>(40, 300, 97, transposed, 3);
            check::<f32>(37, 61, 250, transposed);
            check::<f64>(64, 100, 130, transposed);
        }
        assert_eq!(column_part(128, 256, 784, 1), None);
        assert_eq!(column_part(1, 256, 784, 2), None);
        assert_eq!(column_part(10, 1024, 256, 2), None);
        assert_eq!(column_part(48, 128, 784, 2), None);
        assert_eq!(column_part(65, 128, 784, 2), Some(64));
        assert_eq!(column_part(256, 1024, 10, 2), None);
        assert_eq!(column_part(32, 64, 32, 2), Some(32));
        assert_eq!(column_part(128, 63, 784, 2), None);
        assert_eq!(column_part(256, 1024, 784, 2), None);
        assert_eq!(column_part(128, 256, 784, 2), Some(128));
        assert_eq!(column_part(128, 250, 784, 2), Some(128));
    }

    /// The choice of `(b^T a^T)^T`, at the edges the doc gives: a
    /// column-major `b` of 2^20 elements or more and 64 rows of `a` or more.
    #[test]
    fn the_transposed_form_is_chosen_only_past_both_edges() {
        let one = [0.0f32];
        // `a`: every element the one value (strides 0); only its rows count.
        let a = |rows| View::checked(&one, rows, 8, 0, 0).unwrap();
        let data = vec![0.0f32; 1 << 20];
        // `b`: 1024 x cols, column-major (as `W^T` of a row-major weight).
        let col_major = |cols| View::checked(&data, 1024, cols, 1, 1024).unwrap();
        assert!(transposed_pays(a(64), col_major(1024)));
        assert!(!transposed_pays(a(63), col_major(1024)));
        assert!(!transposed_pays(a(64), col_major(1023)));
        let row_major = View::checked(&data, 1024, 1024, 1024, 1).unwrap();
        assert!(!transposed_pays(a(64), row_major));
        assert!(!transposed_pays(a(64), row_major.t().t()));
        // Both forms make the same product (here, of a small column-major b).
        let (x, w) = ([1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [1.0f32, 0.5, -1.0, 2.0]);
        // x [3, 2] times w^T, w = [[1, 0.5], [-1, 2]] row-major: x w^T by hand.
        let (xv, wt) = (View::row_major(&x, 3, 2), View::row_major(&w, 2, 2).t());
        let want = [2.0, 3.0, 5.0, 5.0, 8.0, 7.0];
        assert_eq!(fresh(xv, wt), want);
        assert_eq!(transpose_bias(&fresh(wt.t(), xv.t()), 2, 3, None), want);
    }
}
