//! A plain row-major matrix of `f64`, just enough for the reference network.
//!
//! `Matrix { rows, cols, data }` holds element `(r, c)` at `data[r * cols + c]`.

/// A dense row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// The elements, row after row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// A matrix from its rows; every row must have the same length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Self {
        let cols = rows.first().map_or(0, Vec::len);
        assert!(rows.iter().all(|r| r.len() == cols), "ragged rows");
        Self {
            rows: rows.len(),
            cols,
            data: rows.concat(),
        }
    }

    /// A matrix from row-major data.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), rows * cols, "data length");
        Self { rows, cols, data }
    }

    /// The `rows x cols` zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::new(rows, cols, vec![0.0; rows * cols])
    }

    /// Element `(r, c)`.
    pub fn at(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    /// The transpose.
    pub fn t(&self) -> Self {
        let mut out = Self::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                out.data[c * self.rows + r] = self.at(r, c);
            }
        }
        out
    }

    /// The product `self * other`, summing in order of the inner index.
    pub fn matmul(&self, other: &Matrix) -> Self {
        assert_eq!(self.cols, other.rows, "inner dimensions");
        let mut out = Self::zeros(self.rows, other.cols);
        for r in 0..self.rows {
            for c in 0..other.cols {
                let mut sum = 0.0;
                for k in 0..self.cols {
                    sum += self.at(r, k) * other.at(k, c);
                }
                out.data[r * other.cols + c] = sum;
            }
        }
        out
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Self {
        Self::new(
            self.rows,
            self.cols,
            self.data.iter().map(|&v| f(v)).collect(),
        )
    }

    /// Combines two same-shaped matrices element by element.
    pub fn zip(&self, other: &Matrix, f: impl Fn(f64, f64) -> f64) -> Self {
        assert_eq!((self.rows, self.cols), (other.rows, other.cols), "shapes");
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Self::new(self.rows, self.cols, data)
    }
}
