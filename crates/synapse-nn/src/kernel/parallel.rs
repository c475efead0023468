//! Work split over threads with a fixed partition: `n` independent items
//! (images, channel planes) cut into at most [`MAX_PARTS`] contiguous parts
//! of near-equal size, run on rayon's pool. The parts depend only on `n` and
//! the work, never on the thread count or on scheduling, so sums over parts
//! are added in the same order every run: the same bits for the same seed
//! on one thread or many.

use std::ops::Range;

use rayon::prelude::*;

/// Work below this many flops (2 Mflop, some 20 us on one core; element
/// visits weighed by [`ELEMENT_WORK`]) stays on the calling thread: handing
/// it to another costs more than it saves.
pub(crate) const PARALLEL_WORK: usize = 1 << 21;

/// The work of one element visit of a memory-bound loop (an element-wise
/// op, a pool window element), in the flops of a product that [`parts`]
/// weighs work in: a product does about 16 flops in the time of one visit.
pub(crate) const ELEMENT_WORK: usize = 16;

/// The worker threads available: those of the rayon pool this runs in
/// (`RAYON_NUM_THREADS`, else the cores, for the global pool; a pool's own
/// size inside `ThreadPool::install`, which is how tests force two workers
/// on a one-core machine).
pub(crate) fn max_threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// The most parts a split makes, whatever the thread count: enough to keep
/// the cores of a small machine busy, few enough that partial sums stay cheap.
pub(crate) const MAX_PARTS: usize = 8;

/// `0..n` cut into contiguous parts: one per [`PARALLEL_WORK`] of `work`, at
/// least one, at most [`MAX_PARTS`] and `n`; never a function of the thread
/// count (so partial sums give the same bits on any). The first `n % parts`
/// parts get one item more.
pub(crate) fn parts(n: usize, work: usize) -> Vec<Range<usize>> {
    let count = part_count(n, work);
    let (base, extra) = (n / count, n % count);
    let mut start = 0;
    (0..count)
        .map(|p| {
            let len = base + usize::from(p < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// How many parts [`parts`] cuts `0..n` in (without making them: the
/// one-part case, most passes of a small model's step, allocates nothing).
fn part_count(n: usize, work: usize) -> usize {
    (work / PARALLEL_WORK).clamp(1, MAX_PARTS).min(n).max(1)
}

/// `s` cut at `ranges` (consecutive from 0, as [`parts`] gives them): one
/// slice for each, to hand several buffers' same parts to the same job.
pub(crate) fn cut<'a, T>(mut s: &'a mut [T], ranges: &[Range<usize>]) -> Vec<&'a mut [T]> {
    ranges
        .iter()
        .map(|r| {
            let (head, tail) = std::mem::take(&mut s).split_at_mut(r.len());
            s = tail;
            head
        })
        .collect()
}

/// [`cut`] for a slice that is only read.
pub(crate) fn cut_ref<'a, T>(s: &'a [T], ranges: &[Range<usize>]) -> Vec<&'a [T]> {
    ranges.iter().map(|r| &s[r.clone()]).collect()
}

/// Runs `f(items, out)` for each part of `0..n` in parallel, where `out` is
/// the part's own slice of `out` (`per_item` elements per item).
///
/// Panics if `out.len() != n * per_item` (an internal invariant).
pub(crate) fn for_each_part<T: Send>(
    out: &mut [T],
    per_item: usize,
    work: usize,
    f: impl Fn(Range<usize>, &mut [T]) + Sync,
) {
    map_part_slices(out, per_item, work, f);
}

/// [`for_each_part`] where each part also returns a value (its partial
/// sums): the values in part order, to be added in that order.
///
/// Panics if `out.len() != n * per_item` (an internal invariant).
pub(crate) fn map_part_slices<T: Send, R: Send>(
    out: &mut [T],
    per_item: usize,
    work: usize,
    f: impl Fn(Range<usize>, &mut [T]) -> R + Sync,
) -> Vec<R> {
    let n = out.len().checked_div(per_item).unwrap_or(0);
    assert_eq!(out.len(), n * per_item, "map_part_slices: output size");
    if part_count(n, work) == 1 {
        return vec![f(0..n, out)];
    }
    let ranges = parts(n, work);
    let mut pieces = Vec::with_capacity(ranges.len());
    let mut rest = out;
    for r in &ranges {
        let (head, tail) = rest.split_at_mut(r.len() * per_item);
        pieces.push((r.clone(), head));
        rest = tail;
    }
    if pieces.len() == 1 {
        return pieces.into_iter().map(|(r, o)| f(r, o)).collect();
    }
    pieces.into_par_iter().map(|(r, o)| f(r, o)).collect()
}

/// `f(items)` for each part of `0..n`, in parallel, results in part order.
pub(crate) fn map_parts<R: Send>(
    n: usize,
    work: usize,
    f: impl Fn(Range<usize>) -> R + Sync,
) -> Vec<R> {
    if part_count(n, work) == 1 {
        return vec![f(0..n)];
    }
    parts(n, work).into_par_iter().map(&f).collect()
}

/// A new vector of `n * per_item` values written part by part: `f(items,
/// out)` for each part of `0..n` in parallel ([`map_part_slices`] over the
/// vector's spare capacity), `out` the part's own slice (`per_item` values
/// per item), not yet initialised: no zero fill first, and each part's
/// memory first touched by the thread that writes it.
///
/// # Safety
/// `f` must write every value of the slice it is given.
pub(crate) unsafe fn new_by_parts<T: Send>(
    n: usize,
    per_item: usize,
    work: usize,
    f: impl Fn(Range<usize>, &mut [std::mem::MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    let total = n * per_item;
    let mut out: Vec<T> = Vec::with_capacity(total);
    map_part_slices(&mut out.spare_capacity_mut()[..total], per_item, work, f);
    // SAFETY: the parts of `map_part_slices` cover its whole slice, the
    // first `total` values, each written by `f` (the caller's promise).
    unsafe { out.set_len(total) };
    out
}

/// `dst = src`, for a `dst` not yet initialised (as `copy_from_slice`).
pub(crate) fn copy_into<T: Copy>(dst: &mut [std::mem::MaybeUninit<T>], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "copy_into: sizes");
    // SAFETY: both are `src.len()` values long (checked), `MaybeUninit<T>`
    // has `T`'s layout, and a `&mut` slice never overlaps a `&` one.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<T>(), src.len()) };
}

/// `f(job)` for jobs the caller already cut in parts of its own (fixed by
/// the data, not by the thread count), in parallel when there are several
/// threads and several jobs and `work` (all jobs together) pays for it;
/// results in job order.
pub(crate) fn map_jobs<J: Send, R: Send>(
    jobs: Vec<J>,
    work: usize,
    f: impl Fn(J) -> R + Sync,
) -> Vec<R> {
    // mutants: each comparison only picks the pool or the loop, and both
    // give `f(job)` in job order: equivalent.
    if jobs.len() < 2 || max_threads() < 2 || work < PARALLEL_WORK {
        return jobs.into_iter().map(f).collect();
    }
    jobs.into_par_iter().map(&f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_every_item_once_in_order() {
        for n in [0, 1, 2, 3, 7, 64] {
            for work in [0, PARALLEL_WORK] {
                let p = parts(n, work);
                let flat: Vec<usize> = p.iter().flat_map(|r| r.clone()).collect();
                assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n {n} work {work}");
                assert!(p.len() <= MAX_PARTS);
                let (lo, hi) = (
                    p.iter().map(|r| r.len()).min(),
                    p.iter().map(|r| r.len()).max(),
                );
                assert!(hi.unwrap_or(0) - lo.unwrap_or(0) <= 1, "near-equal parts");
            }
        }
    }

    #[test]
    fn for_each_part_hands_each_part_its_own_slice() {
        let mut out = vec![0usize; 10 * 3];
        for_each_part(&mut out, 3, PARALLEL_WORK, |items, o| {
            for (i, chunk) in items.zip(o.chunks_mut(3)) {
                chunk.iter_mut().for_each(|v| *v = i);
            }
        });
        let expected: Vec<usize> = (0..10).flat_map(|i| [i; 3]).collect();
        assert_eq!(out, expected);
    }
}
