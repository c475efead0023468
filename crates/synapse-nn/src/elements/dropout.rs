//! `dropout(P)`: in training, each value is zeroed with probability `P` and the
//! others scaled by `1/(1-P)`; in evaluation, the identity (`nn.Dropout`).
//! No state; ONNX: nothing (its output is its input in evaluation).
//!
//! `y = x * m`, `m_i = 1/(1-P)` if `u_i >= P` else 0, with one
//! `u_i = random_sample()` per value in row-major order (see [`crate::Mode`]).
//! Backward (autodiff): `dx = dy * m`. Shapes: any, `y` like `x`. The mask
//! is drawn from our generator, so it differs from PyTorch's for the same
//! seed; the distribution and the scaling are PyTorch's. No kernel.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use synapse_nn::{Dropout, Mode, Mt19937};
//! let x = Tensor::ones((2, 3), candle_core::DType::F64, &Device::Cpu)?;
//! let y = Dropout::new(0.5)?.forward(&x, &mut Mode::Train(&mut Mt19937::new(1)))?;
//! // np.random.seed(1); np.random.random(6) >= 0.5 -> [F, T, F, F, F, F]
//! assert_eq!(y.to_vec2::<f64>()?, [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use std::fmt;

use candle_core::{DType, Tensor};

use super::def::{ElementDef, ElementOps, Take};
use crate::export::{Export, Scope};
use crate::spec::{number, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Layer, Mode, Mt19937, Result};

/// Dropout with probability `p` in `[0, 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// Checks `0 <= p < 1`.
    pub fn new(p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::config("dropout", format!("{p} must be in [0, 1)")));
        }
        Ok(Self { p })
    }

    /// The probability of zeroing a value.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Applies dropout in training, the identity in evaluation.
    ///
    /// # Shapes
    /// Any; the output has the input's shape.
    pub fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        let Mode::Train(rng) = mode else {
            return Ok(x.clone());
        };
        if self.p == 0.0 {
            return Ok(x.clone());
        }
        let keep = keep_mask(rng, x.elem_count(), self.p);
        let scale = 1.0 / (1.0 - self.p);
        // The mask in the input's type: `scale` rounded once, as `to_dtype`
        // of the f64 mask would. (mutants: deleting the F32 or the F64 arm
        // is equivalent: the last arm gives the same values, a pass later.)
        let mask = match x.dtype() {
            DType::F32 => scaled(&keep, scale as f32, x)?,
            DType::F64 => scaled(&keep, scale, x)?,
            _ => scaled(&keep, scale, x)?.to_dtype(x.dtype())?,
        };
        Ok((x * mask)?)
    }
}

/// The keep flags of `n` values dropped with probability `p`, in row-major
/// order: `u_i >= p`, one `u_i = random_sample()` each (see the header).
/// Shared with attention's kernel, which draws the same masks.
pub(crate) fn keep_mask(rng: &mut Mt19937, n: usize, p: f64) -> Vec<bool> {
    let mut keep = vec![false; n];
    rng.fill_keep(&mut keep, p);
    keep
}

/// The mask of `x`'s shape: `scale` where kept, else zero.
fn scaled<T: candle_core::WithDType>(keep: &[bool], scale: T, x: &Tensor) -> Result<Tensor> {
    let zero = T::from_f64(0.0);
    let mask: Vec<T> = keep.iter().map(|&k| if k { scale } else { zero }).collect();
    Ok(Tensor::from_vec(mask, x.shape(), x.device())?)
}

impl fmt::Display for Dropout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dropout({})", self.p)
    }
}

impl ElementDef for Dropout {
    fn kind(&self) -> ElementKind {
        ElementKind::Dropout
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&[])?;
        a.count(1..=1, name, "a probability: dropout(P) with 0 <= P < 1")?;
        let p = number(
            a.sizes[0],
            "the probability",
            |v| (0.0..1.0).contains(&v),
            "0 <= P < 1",
        )?;
        Ok(ElementSpec::Dropout(Dropout { p }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        None
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        Ok(input.clone())
    }

    fn build(&self, _take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::Dropout(*self))
    }
}

impl ElementOps for Dropout {
    fn maps_positions(&self) -> bool {
        true
    }

    fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        Dropout::forward(self, x, mode)
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Dropout(*self)
    }

    fn export(&self, _scope: &Scope) -> Result<Export> {
        Ok(Export::default())
    }
}
