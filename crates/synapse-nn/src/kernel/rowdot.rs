//! Row-dot products, `W` streamed once, row by row: decoding's products.
//!
//! ```text
//! y[i, j] = sum_k x[i, k] * W[j, k]  (+ b[j])      x [m, k] f32, W [n, k] f32 or bf16, b [n] f32, y [m, n] f32
//! ```
//!
//! Decoding one token reads every weight once, so memory bandwidth bounds
//! it: the one-row f32 product (the dense kernel's, for a large `W`) and
//! products with weights kept in bfloat16 (`generate --weights bf16`,
//! [`crate::Sequential::with_bf16_weights`]: an f32 with the low 16 bits of
//! its mantissa dropped, half the bytes) both stream `W` here, prefetching
//! the rows ahead. A bfloat16 is an f32 exactly (`bits << 16`), and every
//! sum is accumulated in f32: an output is the f32 dot product of `x`'s row
//! with the weights as f32, its terms added in 64 lanes (`k` in steps of 64;
//! the lanes then summed in a fixed tree, see `dot`), for one row of `x` as
//! for several. The bits do not depend on the thread count or on the
//! instruction set ([`vectorized`] copies; no product is fused with a sum).
//!
//! The rows of `W` are cut in parts by size ([`for_each_part`]) on the
//! pool. For one row of `x` (a token) each weight is widened as it is read;
//! for several (a prompt, bf16) a part widens each of its rows of `W` once,
//! into a buffer of `k`, and takes its dot product with every row of `x`.

use half::bf16;

use super::parallel::{for_each_part, ELEMENT_WORK};
use super::simd::{vectorized, Pass};

/// Weights from which the dense kernel's one-row f32 product streams `W`
/// here (prefetching ahead) instead of taking the gemm
/// crate's matrix-vector path: 64 Ki (256 KiB), where reading `W` from
/// memory starts to be the cost.
pub(crate) const ROW_STREAM: usize = 1 << 16;

/// Lanes of the dot product: four AVX-512 registers of f32, so that four
/// sums run at once (one would wait on each addition's latency).
const LANES: usize = 64;

/// A weight as this file reads it: f32, or bfloat16 widened exactly.
pub(crate) trait Weight: Copy + Send + Sync + 'static {
    /// The dense kernel's count name for products with these weights.
    const KERNEL: &'static str;
    /// The f32 it stands for.
    fn widen(self) -> f32;
}

impl Weight for f32 {
    const KERNEL: &'static str = "dense";
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl Weight for bf16 {
    const KERNEL: &'static str = "dense-bf16";
    /// Exactly: the bits moved up.
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from_bits(u32::from(self.to_bits()) << 16)
    }
}

/// `x W^T (+ b)`: `x` `m x k` row-major, `w` `n x k` row-major, `bias` `n`;
/// the `m x n` result row-major.
///
/// Panics if `x.len() != m * k`, `w.len()` is not a multiple of `k` or
/// `bias` is not `n` long (callers check the shapes of user tensors first).
pub(crate) fn product_rows<B: Weight>(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[B],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    assert_eq!(x.len(), m * k, "product_rows: x");
    let n = w.len().checked_div(k).unwrap_or(0);
    assert_eq!(w.len(), n * k, "product_rows: W");
    assert!(bias.is_none_or(|b| b.len() == n), "product_rows: bias");
    if m == 0 || n == 0 {
        return vec![0.0; m * n];
    }
    // Column-major while computing ([n, m]: a part owns whole rows of W),
    // row-major for the caller.
    let mut by_column = vec![0.0f32; n * m];
    let work = split_work(m, n, k);
    for_each_part(&mut by_column, m, work, |rows, out| {
        vectorized(Rows {
            x,
            m,
            k,
            w: &w[rows.start * k..rows.end * k],
            bias: bias.map(|b| &b[rows]),
            out,
        })
    });
    if m == 1 {
        return by_column;
    }
    let mut y = vec![0.0f32; m * n];
    for (j, column) in by_column.chunks_exact(m).enumerate() {
        for (i, &v) in column.iter().enumerate() {
            y[i * n + j] = v;
        }
    }
    y
}

/// The work of an `[m, k] x [n, k]^T` product for the pool's split: the
/// larger of reading W once and its `2mnk` flops. It only picks how many
/// parts run; each output comes from one part's fixed sum, so any split
/// gives the same bits (cargo-mutants: equivalent, see .cargo/mutants.toml).
fn split_work(m: usize, n: usize, k: usize) -> usize {
    (n * k * ELEMENT_WORK).max(2 * m * n * k)
}

/// One part: its rows of `W` against every row of `x`, into `out` (`m`
/// outputs per row of `W`).
struct Rows<'a, B> {
    x: &'a [f32],
    m: usize,
    k: usize,
    w: &'a [B],
    bias: Option<&'a [f32]>,
    out: &'a mut [f32],
}

impl<B: Weight> Pass for Rows<'_, B> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Rows {
            x,
            m,
            k,
            w,
            bias,
            out,
        } = self;
        let rows = w.chunks_exact(k).zip(out.chunks_exact_mut(m)).enumerate();
        if m == 1 {
            for (j, (wj, y)) in rows {
                prefetch(w, (j + AHEAD) * k, k);
                y[0] = dot(x, wj, B::widen) + bias.map_or(0.0, |b| b[j]);
            }
            return;
        }
        let mut row = vec![0.0f32; k];
        for (j, (wj, yj)) in rows {
            for (r, &v) in row.iter_mut().zip(wj) {
                *r = v.widen();
            }
            let b = bias.map_or(0.0, |b| b[j]);
            for (xi, y) in x.chunks_exact(k).zip(yj.iter_mut()) {
                *y = dot(xi, &row, |v| v) + b;
            }
        }
    }
}

/// Rows of `W` ahead of the one in hand whose cache lines are asked for
/// ([`prefetch`]): measured, one row at a time left the core waiting on
/// memory at a third of the bandwidth f32's gemv reaches.
const AHEAD: usize = 2;

/// Asks the cache for `w[from..from + len]` (the part of it inside `w`), a
/// line (64 bytes) at a time; a hint with no effect on any value (so
/// cargo-mutants' equivalents, see .cargo/mutants.toml).
#[inline(always)]
fn prefetch<B>(w: &[B], from: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let end = (from + len).min(w.len());
        let mut at = from;
        while at < end {
            // SAFETY: `at < w.len()`, so the address is inside `w`; a
            // prefetch reads nothing and cannot fault.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(w.as_ptr().add(at).cast::<i8>()) };
            at += 64 / std::mem::size_of::<B>().max(1);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (w, from, len);
}

/// `sum a[i] f(b[i])`: [`LANES`] lanes as four registers of 16 (element
/// `64 c + 16 r + l` into register `r`, lane `l`), the four added lane by
/// lane as `(r0 + r1) + (r2 + r3)`, the 16 lanes halved pairwise to one,
/// then the tail: the same sum whether `b` is widened here or was before.
#[inline(always)]
fn dot<B: Copy>(a: &[f32], b: &[B], f: impl Fn(B) -> f32) -> f32 {
    const W: usize = LANES / 4;
    let (mut r0, mut r1, mut r2, mut r3) = ([0.0f32; W], [0.0f32; W], [0.0f32; W], [0.0f32; W]);
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(&x, &y)| x * f(y))
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..W {
            r0[l] += x[l] * f(y[l]);
            r1[l] += x[W + l] * f(y[W + l]);
            r2[l] += x[2 * W + l] * f(y[2 * W + l]);
            r3[l] += x[3 * W + l] * f(y[3 * W + l]);
        }
    }
    let mut s = [0.0f32; W];
    for l in 0..W {
        s[l] = (r0[l] + r1[l]) + (r2[l] + r3[l]);
    }
    let mut width = W;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            s[l] += s[l + width];
        }
    }
    s[0] + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output against the f64 sum of the same f32 terms (the weights
    /// widened exactly), on 1 and 2 threads, for one row (decoding) and
    /// several (a prompt), `k` not a multiple of the lanes; the result is
    /// the same bits on both pools.
    #[test]
    fn product_matches_the_f64_sum_of_the_widened_weights_on_any_pool() {
        let (k, n) = (150, 700);
        let w: Vec<bf16> = (0..n * k)
            .map(|i| bf16::from_f32(((i * 7919) % 613) as f32 / 97.0 - 3.0))
            .collect();
        let bias: Vec<f32> = (0..n).map(|j| j as f32 / 1000.0 - 0.5).collect();
        for m in [1, 3] {
            let x: Vec<f32> = (0..m * k)
                .map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0)
                .collect();
            let pool = |t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
            };
            let one = pool(1).install(|| product_rows(&x, m, k, &w, Some(&bias)));
            let two = pool(2).install(|| product_rows(&x, m, k, &w, Some(&bias)));
            assert_eq!(one, two, "m = {m}: the bits depend on the pool");
            // A row alone (widened as read) gives the bits it gives among others.
            let first = product_rows(&x[..k], 1, k, &w, Some(&bias));
            assert_eq!(first, one[..n], "m = {m}: row 0 alone");
            for i in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..k)
                        .map(|c| f64::from(x[i * k + c]) * f64::from(w[j * k + c].to_f32()))
                        .sum::<f64>()
                        + f64::from(bias[j]);
                    let got = f64::from(one[i * n + j]);
                    assert!(
                        (got - exact).abs() <= 1e-5 * (1.0 + exact.abs()),
                        "y[{i}, {j}] = {got}, expected {exact}"
                    );
                }
            }
        }
        // No bias, and nothing to multiply.
        let y = product_rows(
            &[2.0, 3.0],
            1,
            2,
            &[bf16::from_f32(0.5), bf16::from_f32(-1.0)],
            None,
        );
        assert_eq!(y, [-2.0]);
        assert!(product_rows(&[], 0, 2, &[bf16::ONE, bf16::ONE], None).is_empty());
    }
}
