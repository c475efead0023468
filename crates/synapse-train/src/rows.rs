//! What the Trainer trains and evaluates on: [`Rows`], a number of examples
//! (rows of a table, images, sequences, or windows cut from a text) fetched
//! a batch at a time, so that data need not be in memory as tensors all at
//! once (`--text` cuts each batch's windows when it is asked for).
//!
//! A batch is `(x, y)` on the CPU: `x` `[batch, ...]` in the data's own type
//! (floats, or `u32` ids for a stack that starts with `embedding`), `y`
//! `[batch, ...]` floats (values, or class indices with -100 for positions
//! that do not count). The Trainer moves each batch to the stack's device
//! and dtype.

use candle_core::Tensor;
use synapse_nn::{ArchSpec, Loss};

use crate::Result;

/// Examples fetched a batch at a time (see the module doc).
pub trait Rows {
    /// The number of examples.
    fn len(&self) -> usize;

    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dims of one input row (`[D]`, `[C, H, W]`, `[T]` ids, `[T, F]`).
    fn row_shape(&self) -> Vec<usize>;

    /// The inputs and targets of `rows`, in that order.
    fn batch(&self, rows: &[u32]) -> Result<(Tensor, Tensor)>;

    /// The targets of `rows` alone (what distributed ranks read to share a
    /// cross-entropy batch by its counted targets; by default a
    /// [`Rows::batch`]'s).
    fn targets(&self, rows: &[u32]) -> Result<Tensor> {
        Ok(self.batch(rows)?.1)
    }

    /// The inputs and targets of `start..start + len`, in order (what
    /// evaluation walks; by default a [`Rows::batch`] of those rows).
    fn range(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let rows: Vec<u32> = (start as u32..(start + len) as u32).collect();
        self.batch(&rows)
    }

    /// Checks that the rows fit a stack trained or evaluated with `loss`:
    /// shapes, classes, target ranges. The error names what does not fit.
    fn check_fits(&self, spec: &ArchSpec, loss: Loss) -> Result<()>;

    /// A fingerprint of the rows' content (what a resume and distributed
    /// ranks compare; see [`crate::Fingerprint`]).
    fn fingerprint(&self) -> Result<u64>;
}
