//! Training and evaluation, explicit at every call of a stack.
//!
//! `Mode::Train(&mut rng)` is what an optimizer step runs: `dropout` draws its
//! mask from `rng` and the batchnorms normalise with the batch's statistics
//! and update their running ones. `Mode::Eval` is everything else: `dropout`
//! is the identity and the batchnorms use their running statistics. There is
//! no flag on the stack to forget to flip (PyTorch's `model.eval()`).
//!
//! Dropout's draws, so that a run can be reproduced and checkpointed: each
//! `dropout(P)` with `P > 0`, in stack order, draws one
//! [`Mt19937::random_sample`] `u` per value of its input, in row-major order
//! of `[batch, ...]`, and keeps the value (times `1/(1-P)`) when `u >= P`.
//! Nothing else draws from the generator, and `dropout(0)` draws nothing.

use crate::Mt19937;

/// How a stack runs: training (with the generator dropout draws from) or evaluation.
#[derive(Debug)]
pub enum Mode<'a> {
    /// Training: dropout masks from this generator, batch statistics.
    Train(&'a mut Mt19937),
    /// Evaluation: no dropout, running statistics.
    Eval,
}

impl Mode<'_> {
    /// The same mode for a shorter borrow (to pass it down to each element).
    pub fn reborrow(&mut self) -> Mode<'_> {
        match self {
            Mode::Train(rng) => Mode::Train(rng),
            Mode::Eval => Mode::Eval,
        }
    }

    /// Whether this is training.
    pub fn is_train(&self) -> bool {
        matches!(self, Mode::Train(_))
    }
}

thread_local! {
    static MODULE_RNG: std::cell::RefCell<Mt19937> =
        std::cell::RefCell::new(Mt19937::new(crate::sequential::MODULE_SEED));
}

/// Runs `f` with this thread's generator for elements used as candle-nn
/// `ModuleT`s in training (a `Sequential` has a generator of its own).
pub(crate) fn with_module_rng<R>(f: impl FnOnce(&mut Mt19937) -> R) -> R {
    MODULE_RNG.with(|r| f(&mut r.borrow_mut()))
}
