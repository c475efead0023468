//! `dst[c][r] = src[r][c] (+ bias[r])`: a `[rows, cols]` row-major matrix
//! written out as its `[cols, rows]` transpose, plus an optional bias per
//! row of `src`, in square tiles (so that reads and writes both stay within a
//! few cache lines at a time), the rows of `dst` cut into fixed parts over
//! the pool (`parallel.rs`).
//!
//! For `gemm.rs`'s `product_bias` when its right-hand side is a large
//! column-major matrix (the dense forward's `x W^T`): the gemm crate packs
//! it with strided reads, a quarter slower than `W x^T`, whose transpose
//! this pass writes (with the bias) for far less than the difference.

use super::parallel::{for_each_part, ELEMENT_WORK};
use super::storage::Real;

/// The side of a tile: 16 f32 are one 64-byte cache line.
const TILE: usize = 16;

/// The transpose of `src` (`rows x cols`, row-major), `bias[r]` added to every
/// element of row `r` of `src` when given.
///
/// Panics if `src.len() != rows * cols` or the bias is not `rows` long (an
/// internal invariant: the caller sized both).
pub(crate) fn transpose_bias<T: Real>(
    src: &[T],
    rows: usize,
    cols: usize,
    bias: Option<&[T]>,
) -> Vec<T> {
    assert_eq!(src.len(), rows * cols, "transpose: source size");
    assert!(bias.is_none_or(|b| b.len() == rows), "transpose: bias size");
    let mut dst = vec![T::zero(); rows * cols];
    // mutants: the work only picks the parts (each element is copied the
    // same way in any): equivalent; the test below covers a split.
    for_each_part(&mut dst, rows, rows * cols * ELEMENT_WORK, |part, out| {
        for c0 in part.clone().step_by(TILE) {
            let c1 = (c0 + TILE).min(part.end);
            // A line of `src` read whole, its elements written to TILE
            // lines of `dst` that the next rows fill on.
            for r in 0..rows {
                let from = &src[r * cols + c0..r * cols + c1];
                let to = out[(c0 - part.start) * rows + r..].iter_mut().step_by(rows);
                match bias {
                    Some(b) => to.zip(from).for_each(|(d, &s)| *d = s + b[r]),
                    None => to.zip(from).for_each(|(d, &s)| *d = s),
                }
            }
        }
    });
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_lands_at_its_transposed_place_with_its_rows_bias() {
        // Sizes around the tile, and a matrix large enough to split in parts.
        for (rows, cols) in [(1, 1), (3, 17), (16, 16), (33, 5), (40, 300), (700, 900)] {
            let src: Vec<f64> = (0..rows * cols).map(|i| i as f64).collect();
            let bias: Vec<f64> = (0..rows).map(|r| 0.5 + r as f64 * 1e6).collect();
            let plain = transpose_bias(&src, rows, cols, None);
            let biased = transpose_bias(&src, rows, cols, Some(&bias));
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        plain[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} ({r}, {c})"
                    );
                    assert_eq!(biased[c * rows + r], src[r * cols + c] + bias[r]);
                }
            }
        }
    }
}
