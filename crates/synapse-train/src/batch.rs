//! Batching and seeded shuffling (SPEC section 6).
//!
//! Each epoch the row order is `0..N`, shuffled by our [`Mt19937`] (numpy's
//! `shuffle`) unless shuffling is off, then cut into consecutive batches of
//! `batch_size`; the last, smaller batch is kept (`drop_last=False`).

use std::fmt;
use std::str::FromStr;

use synapse_nn::Mt19937;

use crate::{Error, Result};

/// Rows per optimizer step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// All rows in one batch.
    Full,
    /// At most this many rows (at least 1).
    Rows(usize),
}

impl Default for BatchSize {
    fn default() -> Self {
        BatchSize::Rows(32)
    }
}

impl BatchSize {
    /// Rows per batch for a dataset of `n` rows.
    pub fn rows(self, n: usize) -> usize {
        match self {
            BatchSize::Full => n.max(1),
            BatchSize::Rows(r) => r,
        }
    }
}

impl fmt::Display for BatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchSize::Full => write!(f, "full"),
            BatchSize::Rows(r) => write!(f, "{r}"),
        }
    }
}

impl FromStr for BatchSize {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "full" => Ok(BatchSize::Full),
            _ => match s.parse::<usize>() {
                Ok(r) if r > 0 => Ok(BatchSize::Rows(r)),
                _ => Err(Error::config(
                    "batch-size",
                    format!("`{s}`: expected a whole number of at least 1, or full"),
                )),
            },
        }
    }
}

/// The row order of one epoch: `0..n`, shuffled with `rng` when `shuffle`.
pub fn epoch_order(n: usize, shuffle: bool, rng: &mut Mt19937) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    if shuffle {
        rng.shuffle(&mut order);
    }
    order
}

/// Consecutive batches of `order`, the last one possibly smaller.
pub fn batches(order: &[u32], size: BatchSize) -> impl Iterator<Item = &[u32]> {
    order.chunks(size.rows(order.len()))
}
