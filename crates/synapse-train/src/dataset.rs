//! `Dataset`: inputs `x` `[N, D]` (or `[N, C, H, W]` images, `[N, T, F]`
//! sequences, `[N, T]` u32 ids from an npz) and targets `y` `[N, K]` (or
//! `[N, T]`, `[N, T, K]`) as tensors, with names.
//!
//! For class targets (`cross-entropy`), `y` is `[N, 1]` holding class indices
//! `0..C-1` as floats (`[N, T]` for one class per position, -100 where a
//! position does not count), and `labels` holds the class words when the
//! file had words (sorted, SPEC section 6). Files are read by [`load`]: CSV
//! (optionally gzipped) or `.npz`. A `Dataset` is [`crate::Rows`]: the
//! Trainer fetches it a batch at a time.

use candle_core::{DType, Device, Tensor};
use synapse_nn::gather_rows;

use crate::{Error, Result};

/// The most classes a target column may index (`2^24`): the loaders check
/// class indices with [`synapse_nn::class_index`] against it, and the losses
/// against the stack's outputs.
pub const MAX_CLASSES: usize = 1 << 24;

/// Which columns are targets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Targets {
    /// The last column (SPEC section 6).
    #[default]
    Last,
    /// These named columns, in this order.
    Named(Vec<String>),
    /// None: every column is an input (for prediction).
    None,
    /// These named columns are ignored (not even parsed); no targets (for prediction).
    Drop(Vec<String>),
}

/// How the target column maps to classes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Classes {
    /// Targets are numbers, used as they are.
    #[default]
    No,
    /// One column of class indices or words; words become indices in sorted order.
    Infer,
    /// One column of class indices or of these words (a trained model's labels).
    Known(Vec<String>),
}

/// How to read a data file.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Which columns are targets.
    pub targets: Targets,
    /// Whether targets are classes.
    pub classes: Classes,
    /// The float dtype of the tensors.
    pub dtype: DType,
    /// Read an integer `x` as ids (`u32`) for a stack that starts with
    /// `embedding`, instead of as numbers.
    pub ids: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            targets: Targets::Last,
            classes: Classes::No,
            dtype: DType::F32,
            ids: false,
        }
    }
}

/// Rows of inputs and targets, on the CPU until [`Dataset::to_device`].
#[derive(Debug, Clone)]
pub struct Dataset {
    x: Tensor,
    y: Tensor,
    /// Names of the input columns.
    pub input_names: Vec<String>,
    /// Names of the target columns.
    pub target_names: Vec<String>,
    /// Class words, index `i` naming class `i`, when the targets were words.
    pub labels: Option<Vec<String>>,
}

impl Dataset {
    /// Wraps `x` `[N, ...]` (rows, images, sequences, or u32 ids) and `y`
    /// `[N, ...]` (`[N]` becomes `[N, 1]`; the width may be 0); names
    /// default to `x0..`, `y0..`.
    pub fn new(x: Tensor, y: Tensor) -> Result<Self> {
        if x.rank() < 2 {
            return Err(Error::config(
                "x",
                format!("must be [rows, inputs...], got {:?}", x.dims()),
            ));
        }
        let y = if y.rank() == 1 { y.unsqueeze(1)? } else { y };
        if y.rank() < 2 {
            return Err(Error::config(
                "y",
                format!("must be [rows, targets...], got {:?}", y.dims()),
            ));
        }
        let (n, d) = (x.dims()[0], x.dims()[1..].iter().product::<usize>());
        let (m, k) = (y.dims()[0], y.dims()[1..].iter().product::<usize>());
        if n != m {
            return Err(Error::config(
                "dataset",
                format!("x has {n} rows but y has {m}"),
            ));
        }
        Ok(Self {
            x,
            y,
            input_names: (0..d).map(|i| format!("x{i}")).collect(),
            target_names: (0..k).map(|i| format!("y{i}")).collect(),
            labels: None,
        })
    }

    /// Whether `x` holds ids (`u32`) rather than numbers.
    pub fn is_ids(&self) -> bool {
        !self.x.dtype().is_float()
    }

    /// Inputs, `[N, D]`.
    pub fn x(&self) -> &Tensor {
        &self.x
    }

    /// Targets, `[N, K]`.
    pub fn y(&self) -> &Tensor {
        &self.y
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.x.dims()[0]
    }

    /// Number of input values per row (columns, or `C*H*W` for images).
    pub fn inputs(&self) -> usize {
        self.x.dims()[1..].iter().product()
    }

    /// The dims of one input row: `[D]`, or `[C, H, W]` for images.
    pub fn row_shape(&self) -> &[usize] {
        &self.x.dims()[1..]
    }

    /// Number of target values per row (columns; positions for `[N, T]`).
    pub fn targets(&self) -> usize {
        self.y.dims()[1..].iter().product()
    }

    /// The dims of one target row: `[K]`, `[T]`, `[T, K]`.
    pub fn target_shape(&self) -> &[usize] {
        &self.y.dims()[1..]
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[u32]) -> Result<Self> {
        Ok(Self {
            x: gather_rows(&self.x, indices)?,
            y: gather_rows(&self.y, indices)?,
            ..self.clone()
        })
    }

    /// The same rows with the inputs replaced (e.g. normalised); same shape.
    pub fn with_x(&self, x: Tensor) -> Result<Self> {
        if x.dims() != self.x.dims() {
            return Err(Error::config(
                "x",
                format!(
                    "must keep the shape {:?}, got {:?}",
                    self.x.dims(),
                    x.dims()
                ),
            ));
        }
        Ok(Self { x, ..self.clone() })
    }

    /// The same rows with the targets replaced (e.g. rescaled); same shape.
    pub fn with_y(&self, y: Tensor) -> Result<Self> {
        if y.dims() != self.y.dims() {
            return Err(Error::config(
                "y",
                format!(
                    "must keep the shape {:?}, got {:?}",
                    self.y.dims(),
                    y.dims()
                ),
            ));
        }
        Ok(Self { y, ..self.clone() })
    }

    /// The dataset on `device`, numbers in `dtype` (ids stay ids).
    pub fn to_device(&self, device: &Device, dtype: DType) -> Result<Self> {
        let x = self.x.to_device(device)?;
        Ok(Self {
            x: if self.is_ids() { x } else { x.to_dtype(dtype)? },
            y: self.y.to_device(device)?.to_dtype(dtype)?,
            ..self.clone()
        })
    }

    /// A fingerprint of the rows (inputs, targets, their names and the class
    /// words): the same content gives the same number, wherever the file is.
    /// What a resumed run and distributed ranks compare (see [`crate::Fingerprint`]).
    pub fn fingerprint(&self) -> Result<u64> {
        let mut f = crate::Fingerprint::new();
        f.tensor(&self.x)?;
        f.tensor(&self.y)?;
        for name in self.input_names.iter().chain(&self.target_names) {
            f.bytes(name.as_bytes());
        }
        for label in self.labels.iter().flatten() {
            f.bytes(label.as_bytes());
        }
        Ok(f.finish())
    }

    /// The number of classes a classifier needs: the largest index + 1, or
    /// the labels (-100, a position that does not count, is no class).
    pub fn class_count(&self) -> Result<usize> {
        if let Some(l) = &self.labels {
            return Ok(l.len());
        }
        if self.rows() == 0 || self.targets() == 0 {
            return Ok(0);
        }
        let max = self.y.to_dtype(DType::F64)?.max_all()?.to_scalar::<f64>()?;
        // Saturating: targets that are not class indices (1e300) count as many classes.
        Ok(if max < 0.0 {
            0
        } else {
            (max as usize).saturating_add(1)
        })
    }

    /// The first class target of `classes` or more, as (row, position
    /// among the row's targets, class), both places 0-based.
    pub(crate) fn first_class_from(&self, classes: usize) -> Result<Option<(usize, usize, f64)>> {
        let per_row = self.targets().max(1);
        let values = self
            .y
            .flatten_all()?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?;
        Ok(values
            .iter()
            .position(|&v| v >= classes as f64)
            .map(|i| (i / per_row, i % per_row, values[i])))
    }
}

impl crate::Rows for Dataset {
    fn len(&self) -> usize {
        self.rows()
    }

    fn row_shape(&self) -> Vec<usize> {
        Dataset::row_shape(self).to_vec()
    }

    fn batch(&self, rows: &[u32]) -> Result<(Tensor, Tensor)> {
        Ok((gather_rows(&self.x, rows)?, gather_rows(&self.y, rows)?))
    }

    fn targets(&self, rows: &[u32]) -> Result<Tensor> {
        Ok(gather_rows(&self.y, rows)?)
    }

    /// A run of rows without a copy (the whole set when it is one batch).
    fn range(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        if (start, len) == (0, self.rows()) {
            return Ok((self.x.clone(), self.y.clone()));
        }
        Ok((self.x.narrow(0, start, len)?, self.y.narrow(0, start, len)?))
    }

    fn check_fits(&self, spec: &synapse_nn::ArchSpec, loss: synapse_nn::Loss) -> Result<()> {
        crate::check_fits(spec, loss, self)
    }

    fn fingerprint(&self) -> Result<u64> {
        Dataset::fingerprint(self)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    /// The first class out of range, by its row and its position among the
    /// row's targets (both 0-based): targets [3 rows, 4 positions].
    #[test]
    fn the_first_class_out_of_range_is_found_by_row_and_position() {
        let x = Tensor::zeros((3, 4), DType::F32, &Device::Cpu).unwrap();
        let y = Tensor::new(
            &[[0f32, 1., 2., 1.], [2., 0., 1., 2.], [1., 7., 0., 9.]],
            &Device::Cpu,
        )
        .unwrap();
        let data = super::Dataset::new(x, y).unwrap();
        assert_eq!(data.first_class_from(3).unwrap(), Some((2, 1, 7.0)));
        assert_eq!(data.first_class_from(10).unwrap(), None);
    }
}
