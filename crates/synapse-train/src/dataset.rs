//! `Dataset`: inputs `x` `[N, D]` (or `[N, C, H, W]` from an npz) and targets
//! `y` `[N, K]` as tensors, with names.
//!
//! For class targets (`cross-entropy`), `y` is `[N, 1]` holding class indices
//! `0..C-1` as floats, and `labels` holds the class words when the file had
//! words (sorted, SPEC section 6). Files are read by [`load`]: CSV (optionally
//! gzipped) or `.npz`.

use candle_core::{DType, Device, Tensor};

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
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            targets: Targets::Last,
            classes: Classes::No,
            dtype: DType::F32,
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
    /// Wraps `x` `[N, D]` (or `[N, C, H, W]`, images for a convolution) and
    /// `y` `[N, K]` (K may be 0); names default to `x0..`, `y0..`.
    pub fn new(x: Tensor, y: Tensor) -> Result<Self> {
        if x.rank() < 2 {
            return Err(Error::config(
                "x",
                format!("must be [rows, inputs...], got {:?}", x.dims()),
            ));
        }
        let (n, d) = (x.dims()[0], x.dims()[1..].iter().product::<usize>());
        let (m, k) = y.dims2().map_err(|_| {
            Error::config("y", format!("must be [rows, targets], got {:?}", y.dims()))
        })?;
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

    /// Number of target columns.
    pub fn targets(&self) -> usize {
        self.y.dims()[1]
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[u32]) -> Result<Self> {
        let idx = Tensor::new(indices, self.x.device())?;
        Ok(Self {
            x: self.x.index_select(&idx, 0)?,
            y: self.y.index_select(&idx, 0)?,
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

    /// The dataset on `device` in `dtype`.
    pub fn to_device(&self, device: &Device, dtype: DType) -> Result<Self> {
        Ok(Self {
            x: self.x.to_device(device)?.to_dtype(dtype)?,
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

    /// The number of classes a classifier needs: the largest index + 1, or the labels.
    pub fn class_count(&self) -> Result<usize> {
        if let Some(l) = &self.labels {
            return Ok(l.len());
        }
        if self.rows() == 0 || self.targets() == 0 {
            return Ok(0);
        }
        let max = self.y.to_dtype(DType::F64)?.max_all()?.to_scalar::<f64>()?;
        Ok(max as usize + 1)
    }
}
