//! Keeping the pool's other workers awake through a run of short
//! fork-joins: a training step or a generated token splits dozens of
//! products and passes over the pool, with a little work on the calling
//! thread between them. A rayon worker that finds no work spins briefly,
//! then sleeps; the next split must wake it (a futex and a reschedule, tens
//! of microseconds on a shared machine), and by the time it arrives the
//! calling thread has taken most of the parts itself.
//!
//! [`keep_awake`] hands each other worker a job that asks rayon for work
//! ([`rayon::yield_now`]) in a loop, so it takes the next part the moment
//! one is queued, and gives its thread back after [`SPIN`] without any.
//! Between two asks it yields its core to the OS scheduler
//! (`std::thread::yield_now`) rather than spinning on it: where another
//! process holds a core (a shared machine, ranks oversubscribed under
//! `mpirun`), a busy-waiting worker took the core the calling thread needed
//! (the 784-256-10 row on 2 threads beside one busy process: 0.32 s without
//! spinners, 0.42 s with `spin_loop`, 0.33 s yielding).
//!
//! Measured on 2 cores of an AMD EPYC (Zen 4), whole `synapse train` of
//! that row, paired runs: 0.254 -> 0.243 s and 0.282 -> 0.244 s (medians
//! of 10 and 8, two sessions of the shared machine); the lstm row unchanged
//! (its steps are a few long parts). A longer [`SPIN`] (10 ms) was slower.
//! Called at each step, it costs one atomic load when the spinners are
//! already there. Only the scheduling changes: the parts, and so the bits,
//! are those of the split ([`super::parallel`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a spinner waits for work before it gives its thread back.
pub const SPIN: Duration = Duration::from_millis(1);

/// Spinners running or queued.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

/// Makes sure every worker of the current pool but the caller's own has a
/// spinner (see the module doc). Nothing with one thread.
pub fn keep_awake() {
    let caller = rayon::current_thread_index();
    let others = rayon::current_num_threads() - usize::from(caller.is_some());
    while SPINNING.load(Ordering::Relaxed) < others {
        SPINNING.fetch_add(1, Ordering::Relaxed);
        rayon::spawn(move || spin(caller));
    }
}

/// Runs pending pool work until none has come for [`SPIN`]. On the thread
/// that asked for it (which took the job while it waited in a join) it
/// returns at once: that thread has its own work to go back to.
fn spin(caller: Option<usize>) {
    if rayon::current_thread_index() != caller {
        let mut last = Instant::now();
        loop {
            match rayon::yield_now() {
                Some(rayon::Yield::Executed) => last = Instant::now(),
                Some(rayon::Yield::Idle) if last.elapsed() < SPIN => std::thread::yield_now(),
                _ => break,
            }
        }
    }
    SPINNING.fetch_sub(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use super::{keep_awake, SPINNING};

    /// Spinners now running or queued, once the count has settled (a
    /// spinner that found no work for `SPIN` has left).
    fn settled() -> usize {
        let start = Instant::now();
        while SPINNING.load(Ordering::Relaxed) > 0 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        SPINNING.load(Ordering::Relaxed)
    }

    /// One spinner for each worker but the caller, never two; each leaves
    /// when no work comes; none on a pool of one thread. (The only test of
    /// this binary that asks for spinners: the count is the whole process's.)
    #[test]
    fn one_spinner_per_other_worker_that_leaves_when_idle() {
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        two.install(|| {
            keep_awake();
            assert_eq!(SPINNING.load(Ordering::Relaxed), 1);
            keep_awake();
            assert_eq!(SPINNING.load(Ordering::Relaxed), 1);
            // Work still runs, on either worker.
            let (a, b) = rayon::join(|| 1, || 2);
            assert_eq!(a + b, 3);
        });
        assert_eq!(settled(), 0);
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        three.install(|| {
            keep_awake();
            assert_eq!(SPINNING.load(Ordering::Relaxed), 2);
        });
        assert_eq!(settled(), 0);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        one.install(keep_awake);
        assert_eq!(SPINNING.load(Ordering::Relaxed), 0);
    }
}
