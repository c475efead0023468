//! A checked, read-only 2-D strided view of candle CPU storage.
//!
//! Element `(r, c)` is `data[r * rs + c * cs]`. The fields are private and the
//! only constructors check that every addressed element lies inside `data`,
//! so code holding a `View` (including the unsafe product in `gemm.rs`) may
//! rely on it: **for all `r < rows`, `c < cols`: `r * rs + c * cs < data.len()`**,
//! computed without overflow.

use candle_core::{CpuStorage, Layout, Result};

use super::storage::Real;

/// A 2-D strided view whose every element is inside its slice (checked at construction).
#[derive(Clone, Copy)]
pub(crate) struct View<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T: Real> View<'a, T> {
    /// The view of a 0-D, 1-D (one row) or 2-D tensor's storage.
    pub fn new(s: &'a CpuStorage, l: &Layout) -> Result<Self> {
        let all = T::slice(s)?;
        let Some(data) = all.get(l.start_offset()..) else {
            candle_core::bail!("kernel view: offset {} past the storage", l.start_offset());
        };
        let (rows, cols, rs, cs) = match (l.dims(), l.stride()) {
            (&[r, c], &[rs, cs]) => (r, c, rs, cs),
            (&[c], &[cs]) => (1, c, 0, cs),
            (&[], _) => (1, 1, 0, 0),
            (d, _) => candle_core::bail!("kernel view: expected a 0-, 1- or 2-D tensor, got {d:?}"),
        };
        Self::checked(data, rows, cols, rs, cs)
    }

    /// The view of a tensor as rows of its last dimension: a 0-, 1- or 2-D
    /// tensor as [`View::new`] gives it, a contiguous one of higher rank as
    /// `[product of the leading dimensions, last]`.
    pub fn rows_of(s: &'a CpuStorage, l: &Layout) -> Result<Self> {
        let dims = l.dims();
        if dims.len() <= 2 {
            return Self::new(s, l);
        }
        let Some((start, end)) = l.contiguous_offsets() else {
            candle_core::bail!("kernel view: a {dims:?} tensor must be contiguous");
        };
        let Some(data) = T::slice(s)?.get(start..end) else {
            candle_core::bail!("kernel view: elements {start}..{end} past the storage");
        };
        let cols = dims[dims.len() - 1];
        let rows = dims[..dims.len() - 1].iter().product();
        Self::checked(data, rows, cols, cols, 1)
    }

    /// A view after checking that its last element lies inside `data`.
    pub fn checked(data: &'a [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Result<Self> {
        if rows > 0 && cols > 0 {
            let last = (rows - 1)
                .checked_mul(rs)
                .and_then(|a| (cols - 1).checked_mul(cs).and_then(|b| a.checked_add(b)));
            if last.is_none_or(|last| last >= data.len()) {
                candle_core::bail!(
                    "kernel view: [{rows}, {cols}] with strides [{rs}, {cs}] exceeds {} elements",
                    data.len()
                );
            }
        }
        Ok(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// The row-major `[rows, cols]` matrix at the start of `data`.
    ///
    /// Panics if `data` holds fewer than `rows * cols` elements: for buffers
    /// a kernel sized itself (an internal invariant, not user input).
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(
            rows.checked_mul(cols).is_some_and(|n| data.len() >= n),
            "View::row_major: {rows} x {cols} in {}",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transposed view (no copy): element `(r, c)` is this view's `(c, r)`.
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Rows `start..start + count` of this view (no copy).
    ///
    /// Panics unless `start + count <= self.rows()` (an internal invariant:
    /// the kernels cut tiles of views they built).
    pub fn row_range(self, start: usize, count: usize) -> Self {
        assert!(
            start.checked_add(count).is_some_and(|end| end <= self.rows),
            "View::row_range: rows {start}..+{count} of {}",
            self.rows
        );
        if count == 0 || self.cols == 0 {
            return Self {
                rows: count,
                ..self
            };
        }
        // Rows start.. of a view whose every element is inside `data`: the
        // first of them is at start * rs <= the last element's index.
        Self {
            data: &self.data[start * self.rs..],
            rows: count,
            ..self
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(row stride, column stride)`, in elements.
    pub fn strides(&self) -> (usize, usize) {
        (self.rs, self.cs)
    }

    /// The first element's address (valid for the reads the strides describe).
    pub fn as_ptr(&self) -> *const T {
        self.data.as_ptr()
    }

    /// The elements row after row as one slice, when the view is row-major
    /// without gaps (row stride = cols, column stride 1, or a single row).
    pub fn as_row_major(&self) -> Option<&'a [T]> {
        let dense = self.cs == 1 && (self.rs == self.cols || self.rows <= 1);
        dense.then(|| &self.data[..self.rows * self.cols])
    }

    /// Element `(r, c)` (bounds-checked).
    #[inline]
    pub fn at(&self, r: usize, c: usize) -> T {
        self.data[r * self.rs + c * self.cs]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A range of rows keeps the strides and starts at its first row; an
    /// empty range, or rows of no columns, is that many rows.
    #[test]
    fn a_row_range_has_its_rows() {
        let data: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let v = View::row_major(&data, 4, 3);
        let r = v.row_range(1, 2);
        assert_eq!((r.rows(), r.cols(), r.strides()), (2, 3, (3, 1)));
        assert_eq!((r.at(0, 0), r.at(1, 2)), (3.0, 8.0));
        assert_eq!(v.row_range(4, 0).rows(), 0);
        let empty: [f32; 0] = [];
        let no_cols = View::row_major(&empty, 5, 0);
        assert_eq!(no_cols.row_range(1, 3).rows(), 3);
    }

    /// A view whose last element lies past its data is refused, whatever
    /// its strides; one that fits, or has no rows or no columns, is not.
    #[test]
    fn a_view_past_its_data_is_refused() {
        let data = [0.0f64; 6];
        assert!(View::checked(&data, 2, 3, 3, 1).is_ok());
        assert!(View::checked(&data, 3, 2, 1, 3).is_ok());
        for (rows, cols, rs, cs) in [(2, 4, 4, 1), (3, 3, 3, 1), (2, 3, 1, 3), (7, 1, 1, 1)] {
            let e = View::checked(&data, rows, cols, rs, cs)
                .err()
                .map(|e| e.to_string());
            assert!(
                e.is_some_and(|e| e.contains("exceeds 6")),
                "[{rows}, {cols}]"
            );
        }
        assert!(View::checked(&data, 0, 9, 9, 1).is_ok());
        assert!(View::checked(&data, 9, 0, 1, 1).is_ok());
    }

    /// Row-major without gaps is one slice: several whole rows, or a single
    /// row; a row stride past the columns, or a column stride, is not.
    #[test]
    fn only_gapless_row_major_views_are_one_slice() {
        let data: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let v = View::row_major(&data, 4, 3);
        assert_eq!(v.as_row_major(), Some(&data[..]));
        assert_eq!(v.row_range(3, 1).as_row_major(), Some(&data[9..12]));
        let gaps = View::checked(&data, 3, 2, 4, 1).unwrap();
        assert_eq!(gaps.as_row_major(), None);
        let columns = View::checked(&data, 3, 4, 1, 3).unwrap();
        assert_eq!(columns.as_row_major(), None);
    }
}
