//! Data-parallel training: the [`Collective`] the ranks talk through, and how
//! a global batch is cut among them (SPEC section 7, "Distributed").
//!
//! W ranks see the same global batches (the same seeded shuffle). Batch `B`
//! of `n` rows is cut into W consecutive slices as `np.array_split` cuts it:
//! slice `r` has `n / W + 1` rows when `r < n % W`, else `n / W` (possibly 0).
//! Rank `r` computes the loss of its slice, scales it by `den_r / den` (its
//! share of the global mean's denominator: the targets that count for
//! cross-entropy, each weighing 1 or its class weight, -100 none (so a
//! slice of sequences counts its positions); rows for the other mean
//! losses; 1 for `sse`, which is a sum), so that
//!
//! ```text
//! L(B) = sum_r (den_r / den) * L(B_r)      grad L(B) = sum_r (den_r / den) * grad L(B_r)
//! ```
//!
//! and the sums over ranks are one all-reduce of one flat buffer per step
//! (see [`step`]). Everything after it (clipping, the optimizer step, the
//! epoch's history, validation) then runs on identical values on every rank.
//!
//! ```
//! use synapse_train::distributed::slice_range;
//! // np.array_split(np.arange(10), 3) -> [0..4], [4..7], [7..10]
//! assert_eq!(slice_range(10, 3, 0), 0..4);
//! assert_eq!(slice_range(10, 3, 2), 7..10);
//! // 2 rows over 3 ranks: the last slice is empty.
//! assert_eq!(slice_range(2, 3, 2), 2..2);
//! ```

use std::ops::Range;

use crate::{Error, Result};

#[cfg(feature = "mpi")]
mod mpi;
pub(crate) mod step;

#[cfg(feature = "mpi")]
pub use self::mpi::Mpi;

/// A flat buffer of one float type, in place.
#[derive(Debug)]
pub enum Flat<'a> {
    /// Single precision.
    F32(&'a mut [f32]),
    /// Double precision.
    F64(&'a mut [f64]),
}

impl Flat<'_> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Flat::F32(b) => b.len(),
            Flat::F64(b) => b.len(),
        }
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The group of processes that train one model together.
///
/// Every rank makes the same calls in the same order with buffers of the
/// same length; a call returns when every rank has made it.
pub trait Collective {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;

    /// The number of ranks W.
    fn size(&self) -> usize;

    /// Replaces `buf` on every rank by the element-wise sum over all ranks.
    /// The same inputs give the same bits, on every rank and every run.
    fn all_reduce_sum(&self, buf: Flat<'_>) -> Result<()>;

    /// Replaces `buf` on every rank by rank 0's.
    fn broadcast(&self, buf: Flat<'_>) -> Result<()>;

    /// Agrees on an outcome: each rank gives its own; every rank gets `Ok`
    /// when all ranks succeeded. Otherwise the lowest failing rank gets its
    /// own error back, and every other rank [`Error::PeerFailed`] naming it,
    /// so that one rank reports and all stop.
    fn agree<T>(&self, local: Result<T>) -> Result<T>
    where
        Self: Sized,
    {
        agree(self, local)
    }
}

/// [`Collective::agree`] for a trait object.
pub fn agree<T>(c: &(impl Collective + ?Sized), local: Result<T>) -> Result<T> {
    let mut slots = vec![0.0; c.size()];
    if local.is_err() {
        slots[c.rank()] = 1.0;
    }
    c.all_reduce_sum(Flat::F64(&mut slots))?;
    settle(c.rank(), &slots, local)
}

/// The outcome once every rank's failure slot is known (`slots[r] != 0`:
/// rank r failed).
pub(crate) fn settle<T>(rank: usize, slots: &[f64], local: Result<T>) -> Result<T> {
    match slots.iter().position(|&s| s != 0.0) {
        None => local,
        Some(first) if first == rank && local.is_err() => local,
        Some(first) => Err(Error::PeerFailed { rank: first }),
    }
}

/// The rows of slice `rank` when `n` rows are cut into `size` slices as
/// `np.array_split` cuts them: the first `n % size` slices get one more row.
pub fn slice_range(n: usize, size: usize, rank: usize) -> Range<usize> {
    let size = size.max(1);
    let (base, extra) = (n / size, n % size);
    let start = rank * base + rank.min(extra);
    let len = base + usize::from(rank < extra);
    start.min(n)..(start + len).min(n)
}

/// One process alone: rank 0 of 1; every collective is the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_reduce_sum(&self, _buf: Flat<'_>) -> Result<()> {
        Ok(())
    }

    fn broadcast(&self, _buf: Flat<'_>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slices of `np.array_split(np.arange(n), w)`, written out by hand
    /// from numpy's rule (`n // w + 1` rows for the first `n % w` slices).
    #[test]
    fn slices_follow_array_split() {
        let cut = |n, w| (0..w).map(|r| slice_range(n, w, r)).collect::<Vec<_>>();
        assert_eq!(cut(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(cut(4, 3), vec![0..2, 2..3, 3..4]);
        assert_eq!(cut(2, 3), vec![0..1, 1..2, 2..2]);
        assert_eq!(cut(0, 2), vec![0..0, 0..0]);
        assert_eq!(cut(7, 1), vec![0..7]);
        // Every split covers 0..n in order, sizes differ by at most one.
        for n in 0..40 {
            for w in 1..9 {
                let s = cut(n, w);
                assert_eq!(s[0].start, 0);
                assert_eq!(s[w - 1].end, n);
                assert!(s.windows(2).all(|p| p[0].end == p[1].start));
                let lens: Vec<_> = s.iter().map(|r| r.len()).collect();
                assert!(lens.windows(2).all(|p| p[0] >= p[1] && p[0] - p[1] <= 1));
            }
        }
    }

    #[test]
    fn settle_lets_the_lowest_failing_rank_report() {
        let err = || Error::config("x", "bad");
        let slots = [0.0, 1.0, 1.0];
        assert!(matches!(
            settle::<()>(1, &slots, Err(err())),
            Err(Error::Config { .. })
        ));
        assert!(matches!(
            settle::<()>(2, &slots, Err(err())),
            Err(Error::PeerFailed { rank: 1 })
        ));
        assert!(matches!(
            settle(0, &slots, Ok(())),
            Err(Error::PeerFailed { rank: 1 })
        ));
        assert!(settle(0, &[0.0, 0.0], Ok(())).is_ok());
    }

    /// One process alone is rank 0 of 1: `agree` hands its own error back
    /// as it is (never "rank N failed"), and a success stays one.
    #[test]
    fn solo_agrees_with_itself() {
        assert_eq!((Solo.rank(), Solo.size()), (0, 1));
        assert!(matches!(
            agree::<()>(&Solo, Err(Error::config("x", "bad"))),
            Err(Error::Config { .. })
        ));
        assert_eq!(agree(&Solo, Ok(7)).unwrap(), 7);
    }
}
