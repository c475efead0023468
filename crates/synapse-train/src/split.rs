//! A seeded validation split: shuffle the row indices with a generator seeded
//! `seed + VAL_SPLIT_SEED_OFFSET` (so it does not replay the training shuffle),
//! keep the last `round(fraction * N)` rows of that order for validation.

use synapse_nn::Mt19937;

use crate::{Dataset, Error, Result};

/// Added to the seed for the split's generator.
pub const VAL_SPLIT_SEED_OFFSET: u32 = 0x5eed;

/// Splits `data` into training and validation rows; `fraction` in (0, 1).
pub fn train_val_split(data: &Dataset, fraction: f64, seed: u32) -> Result<(Dataset, Dataset)> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::config(
            "val-split",
            format!("{fraction} must be between 0 and 1"),
        ));
    }
    let n = data.rows();
    let n_val = ((n as f64) * fraction).round() as usize;
    if n_val == 0 || n_val >= n {
        return Err(Error::config(
            "val-split",
            format!("{fraction} of {n} rows leaves no training or no validation rows"),
        ));
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    Mt19937::new(seed.wrapping_add(VAL_SPLIT_SEED_OFFSET)).shuffle(&mut order);
    let (train, val) = order.split_at(n - n_val);
    Ok((data.subset(train)?, data.subset(val)?))
}
