//! A plain row-major N-d array of `f64`, PyTorch's layout (NCHW for images).
//!
//! `Array { shape, data }` holds element `[i0, i1, ..., ik]` at
//! `data[((i0 * s1 + i1) * s2 + i2) ... ]`; a shape `[]` is a scalar (one value).
//! Like [`Matrix`], it asserts on misuse: it is a test oracle, never fed user input.
//!
//! ```
//! use synapse_reference::Array;
//! let a = Array::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! assert_eq!(a.at(&[1, 2]), 6.0);
//! assert_eq!(a.reshape(vec![3, 2]).at(&[2, 0]), 5.0);
//! ```

use crate::Matrix;

/// A dense row-major N-d array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The sizes, outermost first.
    pub shape: Vec<usize>,
    /// The elements, last index fastest.
    pub data: Vec<f64>,
}

impl Array {
    /// An array from row-major data; `data.len()` must be the product of `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Self {
        assert_eq!(
            data.len(),
            shape.iter().product::<usize>(),
            "data length for shape {shape:?}"
        );
        Self { shape, data }
    }

    /// The zero array of `shape`.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Self::new(shape, vec![0.0; n])
    }

    /// An array of `shape` whose element at flat index `i` is `f(i)`.
    pub fn from_fn(shape: Vec<usize>, f: impl Fn(usize) -> f64) -> Self {
        let n = shape.iter().product();
        Self::new(shape, (0..n).map(f).collect())
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The flat offset of a multi-index.
    pub fn offset(&self, index: &[usize]) -> usize {
        assert_eq!(index.len(), self.shape.len(), "index rank");
        index.iter().zip(&self.shape).fold(0, |acc, (&i, &s)| {
            assert!(i < s, "index {index:?} out of shape {:?}", self.shape);
            acc * s + i
        })
    }

    /// The element at a multi-index.
    pub fn at(&self, index: &[usize]) -> f64 {
        self.data[self.offset(index)]
    }

    /// The same data under another shape with as many elements.
    pub fn reshape(&self, shape: Vec<usize>) -> Self {
        Self::new(shape, self.data.clone())
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Self {
        Self::new(
            self.shape.clone(),
            self.data.iter().map(|&v| f(v)).collect(),
        )
    }

    /// Combines two same-shaped arrays element by element.
    pub fn zip(&self, other: &Array, f: impl Fn(f64, f64) -> f64) -> Self {
        assert_eq!(self.shape, other.shape, "shapes");
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Self::new(self.shape.clone(), data)
    }

    /// The sum of every element, in order.
    pub fn sum(&self) -> f64 {
        self.data.iter().sum()
    }

    /// The array as a matrix `[rows, last]`: every dimension but the last folded
    /// into rows (a rank-1 array is one row).
    pub fn to_matrix(&self) -> Matrix {
        let cols = self.shape.last().copied().unwrap_or(1);
        let rows = self.numel().checked_div(cols).unwrap_or(0);
        Matrix::new(rows, cols, self.data.clone())
    }
}

impl From<&Matrix> for Array {
    fn from(m: &Matrix) -> Self {
        Self::new(vec![m.rows, m.cols], m.data.clone())
    }
}

impl From<Matrix> for Array {
    fn from(m: Matrix) -> Self {
        Self::new(vec![m.rows, m.cols], m.data)
    }
}
